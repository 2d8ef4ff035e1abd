//! `jumpgate validate` as users run it: the built binary on files written to
//! a temporary directory. One invalid input per rule, each expected to fail
//! with exit code 1 at a precise `file:line:column`; the shipped examples
//! and `state/` to pass; and inputs built to crash a parser not to.

mod support;

use std::path::{Path, PathBuf};

use support::{Jumpgate, Outcome, Workspace};

const JUMP: &str = "jump-account id=\"111111111111\" region=\"us-east-1\"\n";

/// One invalid input and what the report must say about it.
struct Case {
    name: &'static str,
    /// Files written under `state/` in a fresh directory; `validate state` runs there.
    files: Vec<(String, Vec<u8>)>,
    /// Each `(file:line:column, fragment)` must start an error line that
    /// contains the fragment.
    errors: Vec<(String, &'static str)>,
    /// Text the report must contain somewhere (a hint), if any.
    help: Option<&'static str>,
    /// Text the report must not contain: a misleading follow-on problem.
    absent: Vec<&'static str>,
}

impl Case {
    /// A case of one file, `main.kdl`, whose text is the jump account
    /// followed by `body`, so that `body` starts on line 2.
    fn new(name: &'static str, body: impl AsRef<str>) -> Self {
        Self::raw(name, format!("{JUMP}{}", body.as_ref()))
    }

    /// A case of one file, `main.kdl`, with exactly this text.
    fn raw(name: &'static str, text: impl Into<Vec<u8>>) -> Self {
        Self {
            name,
            files: vec![("main.kdl".to_owned(), text.into())],
            errors: Vec::new(),
            help: None,
            absent: Vec::new(),
        }
    }

    fn file(mut self, name: &str, text: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.to_owned(), text.into()));
        self
    }

    /// Expects an error at `main.kdl:<at>` (or `<file>:<line>:<col>` when
    /// `at` names a file) whose message contains `fragment`.
    fn error(mut self, at: &str, fragment: &'static str) -> Self {
        let at = if at.contains(".kdl") {
            format!("state/{at}")
        } else {
            format!("state/main.kdl:{at}")
        };
        self.errors.push((at, fragment));
        self
    }

    fn help(mut self, fragment: &'static str) -> Self {
        self.help = Some(fragment);
        self
    }

    fn absent(mut self, fragment: &'static str) -> Self {
        self.absent.push(fragment);
        self
    }
}

fn run_validate(dir: &Path, path: &str) -> Outcome {
    Jumpgate::local()
        .current_dir(dir)
        .args(["validate", path])
        .run()
}

/// Writes the case's files and runs `validate` on them.
fn run_case(case: &Case) -> (Outcome, String) {
    let ws = Workspace::with_files(&case.files);
    let output = run_validate(ws.root(), "state");
    let stderr = output.stderr.clone();
    (output, stderr)
}

/// What is wrong with the report of an invalid case, if anything.
fn check_invalid(case: &Case) -> Vec<String> {
    let (output, stderr) = run_case(case);
    let mut wrong = Vec::new();
    if output.code != Some(1) {
        wrong.push(format!("exit status {:?}, expected 1", output.code));
    }
    check_clean(&output, &mut wrong);
    for (at, fragment) in &case.errors {
        let prefix = format!("{at}: error: ");
        if !stderr
            .lines()
            .any(|line| line.starts_with(&prefix) && line.contains(fragment))
        {
            wrong.push(format!("no line `{prefix}…{fragment}…`"));
        }
    }
    if let Some(help) = case.help
        && !stderr.contains(help)
    {
        wrong.push(format!("no hint `{help}`"));
    }
    for fragment in &case.absent {
        if stderr.contains(fragment) {
            wrong.push(format!("`{fragment}` should not be reported"));
        }
    }
    if !wrong.is_empty() {
        wrong.push(format!("stderr was:\n{}", shorten(&stderr)));
    }
    wrong
}

/// The start of a long output, for failure messages.
fn shorten(text: &str) -> &str {
    match text.char_indices().nth(4000) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// No panic and no colour, whatever the outcome.
fn check_clean(output: &Outcome, wrong: &mut Vec<String>) {
    let stderr = &output.stderr;
    if stderr.contains("panicked") || stderr.contains("overflow") {
        wrong.push("the process panicked or overflowed".to_owned());
    }
    if output.stdout.contains('\u{1b}') || output.stderr.contains('\u{1b}') {
        wrong.push("ANSI escape in the output despite NO_COLOR=1".to_owned());
    }
}

fn repeat_lines(count: usize, line: impl Fn(usize) -> String) -> String {
    (0..count).map(line).collect()
}

fn invalid_cases() -> Vec<Case> {
    vec![
        // Syntax.
        Case::new("unclosed brace", "user \"a\" {\n    access \"admin\"\n")
            .error("2:10", "No closing '}'")
            .absent("was not found after nodes"),
        Case::new("unterminated string", "user \"a\n")
            .error("2:6", "Unexpected newline in single-line quoted string"),
        Case::new("KDL v1 bare boolean", "user \"a\" console=true\n")
            .error("2:18", "syntax error: a bare `true` is KDL v1; jumpgate reads KDL v2")
            .help("KDL v2 writes `true` as `#true`"),
        Case::new("KDL v1 bare null", "user \"a\" age-recipient=null\n")
            .error("2:24", "syntax error: a bare `null` is KDL v1")
            .help("`#null`"),
        Case::new("KDL v1 raw string", "user r\"a\"\n")
            .error("2:6", "syntax error: a raw string `r\"...\"` is KDL v1")
            .help("raw strings as #\"...\"#"),
        Case::new("property without a value", "account \"a\" id=\n")
            .error("2:15", "Expected property value"),
        Case::raw("invalid UTF-8", [JUMP.as_bytes(), b"user \"caf\xff\"\n"].concat())
            .error("2:10", "not valid UTF-8")
            .absent("contains '"),
        // Node shape.
        Case::new("boolean written as a string", "user \"a\" console=\"true\"\n")
            .error("2:10", "`console` must be #true or #false, not a string")
            .help("KDL v2 writes booleans as #true"),
        Case::new("account id written as a number", "account \"a\" id=222222222222\n")
            .error("2:13", "`id` must be a string, not a number")
            .help("quote it: \"222222222222\""),
        Case::new(
            "session-hours written as a string",
            "role \"admin\" policy=\"arn:aws:iam::aws:policy/AdministratorAccess\" session-hours=\"4\"\n",
        )
        .error("2:67", "`session-hours` must be a whole number, not a string"),
        Case::new("unknown top-level node", "usr \"a\"\n")
            .error("2:1", "unknown node `usr` at the top level")
            .help("did you mean `user`?"),
        Case::new("unknown child node", "user \"a\" {\n    acess \"admin\"\n}\n")
            .error("3:5", "unknown node `acess` inside `user`")
            .help("did you mean `access`?"),
        Case::new("unknown property", "user \"a\" consol=#false\n")
            .error("2:10", "unknown property `consol` on `user`")
            .help("did you mean `console`?"),
        Case::new("repeated property", "user \"a\" console=#true console=#false\n")
            .error("2:24", "property `console` is set twice on `user`"),
        Case::new("extra argument", "user \"a\" \"b\"\n")
            .error("2:10", "unexpected argument to `user`")
            .help("settings are written as key=value"),
        Case::new("missing argument", "user {\n    access \"admin\"\n}\n")
            .error("2:1", "`user` needs its user name"),
        Case::new("children on a node that takes none", "account \"a\" id=\"222222222222\" {\n    env \"prod\"\n}\n")
            .error("3:5", "`account` takes no child nodes"),
        Case::new("type annotation", "user (person)\"a\"\n")
            .error("2:7", "type annotation `(person)` is not used"),
        Case::new("role without policy", "role \"admin\"\n")
            .error("2:1", "a role needs a `policy`"),
        Case::raw("jump-account without region", "jump-account id=\"111111111111\"\n")
            .error("1:1", "`jump-account` needs `region`"),
        // Values.
        Case::new("invalid account id", "account \"a\" id=\"12345\"\n")
            .error("2:13", "account id `12345` must be exactly 12 digits"),
        Case::new("invalid user name", "user \"yamada taro\"\n")
            .error("2:6", "user name `yamada taro` contains ' '"),
        Case::new("control character in a user name", "user \"a\\u{7}b\"\n")
            .error("2:6", "user name `a\\u{7}b` contains '\\u{7}'"),
        Case::new("literal control character", "user \"a\u{7}b\"\n")
            .error("2:6", "syntax error")
            .help("the line contains the character U+0007"),
        Case::new("empty user name", "user \"\"\n").error("2:6", "user name must not be empty"),
        Case::new("user name of 65 characters", format!("user \"{}\"\n", "u".repeat(65)))
            .error("2:6", "is 65 characters long; IAM allows at most 64"),
        Case::new(
            "role name too long",
            format!("role \"{}\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\n", "r".repeat(60)),
        )
        .error("2:6", "is 60 characters long; at most 59 allowed (`role-<name>`"),
        Case::new("project name too long", format!("project \"{}\"\n", "p".repeat(70)))
            .error("2:9", "is 70 characters long; at most 62 allowed (`group-<role>-<project>`"),
        Case::raw("invalid region", "jump-account id=\"111111111111\" region=\"tokyo\"\n")
            .error("1:32", "`tokyo` is not an AWS region code"),
        Case::new("invalid colour", "account \"a\" id=\"222222222222\" color=\"#d13212\"\n")
            .error("2:31", "colour `#d13212` must be 6 hexadecimal digits"),
        Case::new("invalid e-mail", "organization\naccount \"a\" email=\"aws.example.com\"\n")
            .error("3:13", "`aws.example.com` is not an e-mail address"),
        Case::new("invalid policy ARN", "role \"admin\" policy=\"AdministratorAccess\"\n")
            .error("2:14", "`AdministratorAccess` is not an IAM policy ARN"),
        Case::new(
            "session-hours out of range",
            "role \"admin\" policy=\"arn:aws:iam::aws:policy/AdministratorAccess\" session-hours=13\n",
        )
        .error("2:67", "`session-hours` is 13; it must be between 1 and 12"),
        Case::raw(
            "password policy out of range",
            format!("{}{{\n    password-policy min-length=5 reuse-prevention=25\n}}\n", JUMP.trim_end()),
        )
        .error("2:21", "`min-length` is 5; it must be between 6 and 128")
        .error("2:34", "`reuse-prevention` is 25; it must be between 1 and 24"),
        Case::new("bad age recipient", "user \"a\" age-recipient=\"age1notakey\"\n")
            .error("2:10", "`age-recipient` is not an age public key")
            .help("starts with `age1`"),
        // The estate as a whole.
        Case::raw("missing jump-account", "user \"a\"\n")
            .error("1:1", "no `jump-account` is declared"),
        Case::new("two jump-accounts", JUMP).error("2:1", "a second `jump-account` is declared"),
        Case::new("two organizations", "organization\norganization\n")
            .error("3:1", "a second `organization` is declared"),
        Case::new("duplicate account id", "account \"a\" id=\"222222222222\"\naccount \"b\" id=\"222222222222\"\n")
            .error("3:13", "account id `222222222222` is declared twice")
            .help("first declared at state/main.kdl:2:13"),
        Case::new("account id of the jump account", "account \"a\" id=\"111111111111\"\n")
            .error("2:13", "account id `111111111111` is declared twice")
            .help("first declared at state/main.kdl:1:14"),
        Case::new("duplicate account name (case-insensitive)", "account \"shared\" id=\"222222222222\"\naccount \"Shared\" id=\"333333333333\"\n")
            .error("3:9", "account `Shared` is declared twice")
            .help("first declared at state/main.kdl:2:9"),
        Case::new("account named like the jump account", "account \"jump\" id=\"222222222222\"\n")
            .error("2:9", "account `jump` is declared twice")
            .help("the jump account is named `jump` unless"),
        Case::raw("duplicate user across files (case-insensitive)", format!("{JUMP}user \"Yamada\"\n"))
            .file("users.kdl", "user \"yamada\"\n")
            .error("users.kdl:1:6", "user `yamada` is declared twice")
            .help("first declared at state/main.kdl:2:6; IAM names are case-insensitive"),
        Case::new(
            "duplicate role",
            "role \"ops\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\nrole \"OPS\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\n",
        )
        .error("3:6", "role `OPS` is declared twice"),
        Case::new("account with neither id nor email", "account \"a\"\n")
            .error("2:9", "account `a` has no `id`"),
        Case::new("email without organization", "account \"a\" email=\"aws+a@example.com\"\n")
            .error("2:9", "has an `email` but no `id`, and there is no `organization`"),
        Case::new("unknown role in access", "user \"a\" {\n    access \"admni\"\n}\n")
            .error("3:12", "user `a` is given unknown role `admni`")
            .help("did you mean `admin`?"),
        Case::new(
            "access to a role whose declaration is invalid",
            "role \"deploy\" policy=\"bad\"\nuser \"a\" {\n    access \"deploy\"\n}\n",
        )
        .error("2:15", "is not an IAM policy ARN")
        .absent("unknown role"),
        Case::new(
            "unknown project in access",
            "project \"payments\" {\n    account \"p\" id=\"222222222222\"\n}\nuser \"a\" {\n    access \"admin\" project=\"paymnts\"\n}\n",
        )
        .error("6:20", "user `a` is given access to unknown project `paymnts`")
        .help("did you mean `payments`?"),
        Case::new("until on a user is not a date", "user \"a\" until=\"2027-02-30\"\n")
            .error("2:10", "`2027-02-30` is not an ISO 8601 date (YYYY-MM-DD): no such day in that month"),
        Case::new(
            "until on a grant is not ISO 8601",
            "user \"a\" {\n    access \"admin\" until=\"31/01/2027\"\n}\n",
        )
        .error("3:20", "`31/01/2027` is not an ISO 8601 date (YYYY-MM-DD)"),
        Case::raw(
            "hygiene threshold out of range",
            "jump-account id=\"111111111111\" region=\"us-east-1\" {\n    hygiene key-max-age-days=0 password-unused-days=90\n}\n",
        )
        .error("2:13", "`key-max-age-days` is 0; it must be between 1 and 3650"),
        Case::raw(
            "unknown hygiene setting",
            "jump-account id=\"111111111111\" region=\"us-east-1\" {\n    hygiene key-age-days=30\n}\n",
        )
        .error("2:13", "key-age-days"),
        Case::new("duplicate access line", "user \"a\" {\n    access \"admin\"\n    access \"admin\"\n}\n")
            .error("4:12", "user `a` is given the same access twice"),
        Case::new(
            "more than 10 groups for a user",
            format!(
                "{}user \"busy\" {{\n{}}}\n",
                repeat_lines(11, |i| format!("project \"p{i}\"\n")),
                repeat_lines(11, |i| format!("    access \"operator\" project=\"p{i}\"\n")),
            ),
        )
        .error("13:6", "user `busy` would be in 11 groups; AWS allows at most 10"),
        Case::new(
            "group policy over the size limit",
            format!(
                "project \"big\" {{\n{}}}\n",
                repeat_lines(120, |i| format!("    account \"a{i}\" id=\"{:012}\"\n", 200_000_000_000u64 + i as u64)),
            ),
        )
        .error("2:9", "the inline policy of `group-developer-big` would be")
        .help("split `big` into projects of at most 102 accounts"),
        // Inputs that could crash a parser.
        Case::new("10,000 nested child blocks", "a {".repeat(10_000))
            .error("2:195", "child blocks are nested more than 64 levels deep"),
        Case::new("100,000 nested block comments", "/*".repeat(100_000))
            .error("2:129", "block comments are nested more than 64 levels deep"),
        Case::new("long run of slashdashes", format!("user \"a\" {}x=1\n", "/-".repeat(10_000)))
            .error("2:42", "more than 16 `/-` markers in a row"),
        Case::new("a user name of 100,000 characters", format!("user \"{}\"\n", "x".repeat(100_000)))
            .error("2:6", "is 100000 characters long"),
    ]
}

#[test]
fn every_invalid_input_is_reported_at_its_place() {
    let cases = invalid_cases();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in &cases {
        let wrong = check_invalid(case);
        if !wrong.is_empty() {
            failures.push(format!("--- {}\n{}", case.name, wrong.join("\n")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn huge_values_and_long_lines_do_not_flood_the_report() {
    let huge_name = Case::new("huge", format!("user \"{}\"\n", "x".repeat(1_000_000)));
    let deep = Case::new("deep", "a {".repeat(10_000));
    for case in [huge_name, deep] {
        let (output, stderr) = run_case(&case);
        assert_eq!(output.code, Some(1), "{}", shorten(&stderr));
        assert!(stderr.len() < 2000, "{}", shorten(&stderr));
    }
}

#[test]
fn every_problem_of_a_file_is_reported_in_one_run() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = run_validate(manifest, "tests/fixtures/invalid/many-problems.kdl");
    let stderr = &output.stderr;
    assert_eq!(output.code, Some(1), "{stderr}");
    let file = "tests/fixtures/invalid/many-problems.kdl";
    for (at, fragment) in [
        ("4:1", "unknown node `usr`"),
        ("7:18", "account id `2222` must be exactly 12 digits"),
        ("8:18", "unknown property `colour` on `account`"),
        ("11:6", "user `Yamada.Taro` is declared twice"),
        ("15:12", "unknown role `admni`"),
        ("16:23", "unknown project `paymnts`"),
        ("18:19", "`console` must be #true or #false, not a string"),
    ] {
        let prefix = format!("{file}:{at}: error: ");
        assert!(
            stderr
                .lines()
                .any(|line| line.starts_with(&prefix) && line.contains(fragment)),
            "missing `{prefix}{fragment}` in:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("7 problems found; nothing was sent to AWS."),
        "{stderr}"
    );
}

fn valid_inputs() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs = vec![PathBuf::from("state")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(manifest.join("examples"))
        .expect("examples/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "kdl"))
        .map(|p| {
            p.strip_prefix(manifest)
                .expect("inside the crate")
                .to_owned()
        })
        .collect();
    examples.sort();
    assert!(!examples.is_empty());
    inputs.extend(examples);
    inputs
}

#[test]
fn the_shipped_state_and_examples_are_valid() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    for input in valid_inputs() {
        let output = run_validate(manifest, input.to_str().expect("UTF-8 path"));
        let stdout = &output.stdout;
        let stderr = &output.stderr;
        assert_eq!(
            output.code,
            Some(0),
            "{}: {stdout}{stderr}",
            input.display()
        );
        let mut wrong = Vec::new();
        check_clean(&output, &mut wrong);
        assert!(wrong.is_empty(), "{wrong:?}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one summary line: {stdout}");
        assert!(
            lines[0].starts_with(&format!("{} is valid: ", input.display()))
                && lines[0].contains(" accounts, ")
                && lines[0].ends_with(" groups"),
            "{stdout}"
        );
    }
}

#[test]
fn the_state_summary_counts_what_it_declares() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = run_validate(manifest, "state");
    assert_eq!(
        &output.stdout,
        "state is valid: 5 accounts, 2 projects, 7 users, 9 groups\n"
    );
}

#[test]
fn a_missing_path_is_an_error_not_a_panic() {
    let ws = Workspace::new();
    let output = run_validate(ws.root(), "nowhere.kdl");
    let stderr = &output.stderr;
    assert_eq!(output.code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot read nowhere.kdl"), "{stderr}");
    std::fs::create_dir(ws.path("empty")).expect("mkdir");
    let output = run_validate(ws.root(), "empty");
    let stderr = &output.stderr;
    assert_eq!(output.code, Some(1), "{stderr}");
    assert!(stderr.contains("contains no .kdl file"), "{stderr}");
}

/// The KDL examples of the README, each completed with a jump account (and
/// the project it refers to) when it is a fragment, are valid.
#[test]
fn the_readme_examples_are_valid() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(manifest.join("README.md")).expect("README.md");
    let blocks: Vec<&str> = readme
        .split("```kdl\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or_default())
        .collect();
    assert!(blocks.len() >= 8, "{} kdl blocks", blocks.len());
    let mut failures = Vec::new();
    for block in blocks {
        let mut text = String::new();
        if !block.contains("jump-account") {
            text.push_str(JUMP);
        }
        if block.contains("project=\"payments\"") && !block.contains("project \"payments\"") {
            text.push_str("project \"payments\" {\n    account \"p\" id=\"210987654321\"\n}\n");
        }
        text.push_str(block);
        let case = Case::raw("readme", text);
        let (output, stderr) = run_case(&case);
        if output.code != Some(0) {
            failures.push(format!("{block}\n{}", shorten(&stderr)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Names IAM would take as one (it ignores case) and names jumpgate derives
/// twice: each case's report holds exactly these error lines (position and
/// whole message) and these hints, and nothing else is an error.
#[test]
fn case_and_derived_name_clashes_are_reported_exactly() {
    const ADMIN: &str = "policy=\"arn:aws:iam::aws:policy/AdministratorAccess\"";
    let role = |name: &str| format!("role \"{name}\" {ADMIN}\n");
    let cases: Vec<(&str, String, Vec<&str>, Vec<&str>)> = vec![
        (
            "user names differing in case",
            "user \"Alice\"\nuser \"alice\"\n".to_owned(),
            vec!["3:6: error: user `alice` is declared twice"],
            vec!["first declared at state/main.kdl:2:6; IAM names are case-insensitive"],
        ),
        (
            "project names differing in case",
            "project \"Billing\"\nproject \"billing\"\n".to_owned(),
            vec!["3:9: error: project `billing` is declared twice"],
            vec!["first declared at state/main.kdl:2:9; IAM names are case-insensitive"],
        ),
        (
            "role with project against a longer role",
            format!(
                "{}{}project \"billing\"\n",
                role("admin"),
                role("admin-billing")
            ),
            vec![
                "4:9: error: role `admin` with project `billing` makes group `group-admin-billing`, which role `admin-billing` also makes",
            ],
            vec![
                "role `admin-billing` makes it at state/main.kdl:3:6; IAM names are unique ignoring case: rename one of them",
            ],
        ),
        (
            "a clash that differs only in case, the role declared last",
            format!(
                "{}project \"Billing\"\n{}",
                role("admin"),
                role("ADMIN-billing")
            ),
            vec![
                "4:6: error: role `ADMIN-billing` makes group `group-ADMIN-billing`, which role `admin` with project `Billing` also makes",
            ],
            vec!["role `admin` with project `Billing` makes it at state/main.kdl:3:9"],
        ),
        (
            "two projects meeting two roles",
            format!(
                "{}{}project \"a-b\"\nproject \"b\"\n",
                role("ops"),
                role("ops-a")
            ),
            vec![
                "5:9: error: role `ops-a` with project `b` makes group `group-ops-a-b`, which role `ops` with project `a-b` also makes",
            ],
            vec!["role `ops` with project `a-b` makes it at state/main.kdl:4:9"],
        ),
        (
            "roles with one CloudFormation logical id",
            format!("{}{}", role("admin"), role("admin_")),
            vec![
                "3:6: error: role `admin_` makes CloudFormation logical id `RoleAdmin`, which role `admin` also makes",
            ],
            vec![
                "role `admin` makes it at state/main.kdl:2:6; logical ids keep only the letters and digits of a role name",
            ],
        ),
        (
            "logical ids differing in case",
            format!("{}{}", role("read-only"), role("readOnly")),
            vec![
                "3:6: error: role `readOnly` makes CloudFormation logical id `RoleReadOnly`, which role `read-only` also makes",
            ],
            vec![],
        ),
        (
            "more groups than an account holds",
            format!(
                "{}{}",
                repeat_lines(3, |i| role(&format!("r{i}"))),
                repeat_lines(100, |i| format!("project \"p{i}\"\n"))
            ),
            vec![
                "104:9: error: the roles and projects make 303 groups; IAM allows 300 groups in an account",
            ],
            vec!["every role gets a group per project"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, body, errors, hints) in &cases {
        let (output, stderr) = run_case(&Case::new(name, body));
        let mut wrong = Vec::new();
        if output.code != Some(1) {
            wrong.push(format!("exit status {:?}, expected 1", output.code));
        }
        let reported: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("state/") && l.contains(": error: "))
            .map(|l| l.trim_start_matches("state/main.kdl:"))
            .collect();
        if reported != *errors {
            wrong.push(format!("errors {reported:#?}, expected {errors:#?}"));
        }
        let flat = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        for hint in hints {
            if !flat.contains(hint) {
                wrong.push(format!("no hint `{hint}`"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "--- {name}\n{}\n{}",
                wrong.join("\n"),
                shorten(&stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
