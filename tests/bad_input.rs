//! Issue #8: malformed and hostile desired-state files — deep nesting,
//! huge strings, invalid UTF-8, control characters in names, duplicate
//! nodes across files, wrong types, KDL v1 syntax, binary garbage — each
//! give a clean diagnostic and exit 1 from `jumpgate plan`, and no request
//! reaches AWS: the emulator records every request, and its recording stays
//! empty. (`tests/validate.rs` checks the wording and place of every rule
//! through `validate`; this suite runs the command that would call AWS.)
//!
//! The figures are printed (`cargo test --test bad_input -- --nocapture`)
//! and written to `target/tmp/reliability-bad-input.txt`.

mod support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use support::fault_proxy::Rng;
use support::{Emulator, Workspace, figures};

const JUMP: &str = "jump-account id=\"111111111111\" region=\"us-east-1\"\n";
/// Where the suite's one figure is kept, under `target/tmp/`.
const FIGURES: &str = "reliability-bad-input.txt";
/// No malformed input may take longer than this (debug build).
const PER_INPUT: Duration = Duration::from_secs(20);

struct Case {
    category: &'static str,
    name: &'static str,
    /// Files under the state directory.
    files: Vec<(&'static str, Vec<u8>)>,
    /// A fragment the report must contain.
    expect: &'static str,
}

fn case(
    category: &'static str,
    name: &'static str,
    text: impl Into<Vec<u8>>,
    expect: &'static str,
) -> Case {
    Case {
        category,
        name,
        files: vec![("main.kdl", text.into())],
        expect,
    }
}

/// The jump account, then `body`.
fn with_jump(body: impl AsRef<[u8]>) -> Vec<u8> {
    [JUMP.as_bytes(), body.as_ref()].concat()
}

fn two_files(
    category: &'static str,
    name: &'static str,
    first: &str,
    second: &str,
    expect: &'static str,
) -> Case {
    Case {
        category,
        name,
        files: vec![
            ("a.kdl", with_jump(first)),
            ("b.kdl", second.as_bytes().to_vec()),
        ],
        expect,
    }
}

fn corpus() -> Vec<Case> {
    let mut rng = Rng::new(0x6261_6469_6e70_7574);
    let garbage: Vec<u8> = (0..65_536).map(|_| rng.below(256) as u8).collect();
    let printable_garbage: Vec<u8> = (0..65_536)
        .map(|_| {
            let alphabet = b" {}()\"\\/#-=;*\nabcxyz019";
            alphabet[rng.below(alphabet.len() as u64) as usize]
        })
        .collect();
    let admin = "role \"admin\" policy=\"arn:aws:iam::aws:policy/AdministratorAccess\"";
    vec![
        // Deep nesting.
        case(
            "deep nesting",
            "10,000 nested child blocks",
            with_jump("a {".repeat(10_000)),
            "nested more than 64 levels",
        ),
        case(
            "deep nesting",
            "100,000 nested block comments",
            with_jump("/*".repeat(100_000)),
            "block comments are nested more than 64",
        ),
        case(
            "deep nesting",
            "1,000 nested parentheses",
            with_jump("user ".to_owned() + &"(".repeat(1_000)),
            "parentheses are nested more than 16",
        ),
        case(
            "deep nesting",
            "10,000 slashdashes",
            with_jump(format!("user \"a\" {}x=1\n", "/-".repeat(10_000))),
            "more than 16 `/-` markers",
        ),
        case(
            "deep nesting",
            "access nested 40 deep",
            with_jump(format!(
                "user \"a\" {}{}\n",
                "{ access \"admin\" ".repeat(40),
                "}".repeat(40)
            )),
            "takes no child nodes",
        ),
        case(
            "deep nesting",
            "a block comment of 100,000 parts",
            with_jump(format!("/* {} */\nuser \"a b\"\n", "* / ".repeat(50_000))),
            "more than 10000 parts",
        ),
        // Huge strings.
        case(
            "huge strings",
            "a user name of 200,000 characters",
            with_jump(format!("user \"{}\"\n", "x".repeat(200_000))),
            "is 200000 characters long",
        ),
        case(
            "huge strings",
            "a policy ARN of 200,000 characters",
            with_jump(format!(
                "role \"admin\" policy=\"{}\"\n",
                "a".repeat(200_000)
            )),
            "is not an IAM policy ARN",
        ),
        case(
            "huge strings",
            "a property name of 100,000 characters",
            with_jump(format!("user \"a\" {}=#true\n", "k".repeat(100_000))),
            "unknown property",
        ),
        case(
            "huge strings",
            "a node name of 200,000 characters",
            with_jump(format!("{}\n", "n".repeat(200_000))),
            "unknown node",
        ),
        case(
            "huge strings",
            "an account id of 100,000 digits",
            with_jump(format!("account \"a\" id=\"{}\"\n", "1".repeat(100_000))),
            "must be exactly 12 digits",
        ),
        case(
            "huge strings",
            "a raw string of 200,000 characters as a region",
            format!(
                "jump-account id=\"111111111111\" region=#\"{}\"#\n",
                "r".repeat(200_000)
            ),
            "is not an AWS region code",
        ),
        case(
            "huge strings",
            "an unterminated string of 200,000 characters",
            with_jump(format!("user \"{}", "u".repeat(200_000))),
            "error",
        ),
        // Invalid UTF-8.
        case(
            "invalid UTF-8",
            "a 0xFF byte in a user name",
            with_jump(b"user \"caf\xff\"\n"),
            "not valid UTF-8",
        ),
        case(
            "invalid UTF-8",
            "a UTF-16 file",
            b"\xff\xfej\x00u\x00m\x00p\x00".to_vec(),
            "not valid UTF-8",
        ),
        case(
            "invalid UTF-8",
            "an overlong encoding",
            with_jump(b"user \"a\xc0\xafb\"\n"),
            "not valid UTF-8",
        ),
        case(
            "invalid UTF-8",
            "a truncated character at the end",
            with_jump(b"user \"a\"\n\xe2\x82"),
            "not valid UTF-8",
        ),
        case(
            "invalid UTF-8",
            "a surrogate encoded in UTF-8",
            with_jump(b"user \"\xed\xa0\x80\"\n"),
            "not valid UTF-8",
        ),
        Case {
            category: "invalid UTF-8",
            name: "invalid UTF-8 in the second file only",
            files: vec![
                ("a.kdl", with_jump("user \"a\"\n")),
                ("b.kdl", b"user \"\xfe\"\n".to_vec()),
            ],
            expect: "not valid UTF-8",
        },
        // Control characters in names.
        case(
            "control characters",
            "an escaped ESC in a user name",
            with_jump("user \"a\\u{1b}[31mb\"\n"),
            "contains '\\u{1b}'",
        ),
        case(
            "control characters",
            "a literal ESC in a user name",
            with_jump("user \"a\u{1b}[2Jb\"\n"),
            "U+001B",
        ),
        case(
            "control characters",
            "a literal NUL in a user name",
            with_jump("user \"a\u{0}b\"\n"),
            "U+0000",
        ),
        case(
            "control characters",
            "a right-to-left override in a user name",
            with_jump("user \"a\u{202e}b\"\n"),
            "U+202E",
        ),
        case(
            "control characters",
            "an escaped newline in a project name",
            with_jump("project \"a\\nb\"\n"),
            "project name",
        ),
        case(
            "control characters",
            "a literal carriage return in a user name",
            with_jump("user \"a\rb\"\n"),
            "error",
        ),
        case(
            "control characters",
            "an escaped BEL in an account name",
            with_jump("account \"a\\u{7}\" id=\"222222222222\"\n"),
            "account name",
        ),
        case(
            "control characters",
            "a zero-width space in a user name",
            with_jump("user \"a\u{200b}b\"\n"),
            "user name",
        ),
        case(
            "control characters",
            "an escaped DEL in a role name",
            with_jump("role \"a\\u{7f}\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\n"),
            "role",
        ),
        // Duplicate nodes across files.
        two_files(
            "duplicates across files",
            "jump-account twice",
            "",
            JUMP,
            "a second `jump-account`",
        ),
        two_files(
            "duplicates across files",
            "a user, differing in case",
            "user \"Yamada\"\n",
            "user \"yamada\"\n",
            "user `yamada` is declared twice",
        ),
        two_files(
            "duplicates across files",
            "an account id",
            "account \"a\" id=\"222222222222\"\n",
            "account \"b\" id=\"222222222222\"\n",
            "is declared twice",
        ),
        two_files(
            "duplicates across files",
            "an account name",
            "account \"a\" id=\"222222222222\"\n",
            "account \"A\" id=\"333333333333\"\n",
            "account `A` is declared twice",
        ),
        two_files(
            "duplicates across files",
            "a project",
            "project \"p\" {\n    account \"a\" id=\"222222222222\"\n}\n",
            "project \"p\" {\n    account \"b\" id=\"333333333333\"\n}\n",
            "project `p` is declared twice",
        ),
        two_files(
            "duplicates across files",
            "a role",
            &format!("{admin}\n"),
            &format!("{admin}\n"),
            "role `admin` is declared twice",
        ),
        two_files(
            "duplicates across files",
            "organization",
            "organization\n",
            "organization\n",
            "a second `organization`",
        ),
        // Wrong types.
        case(
            "wrong types",
            "console as a number",
            with_jump("user \"a\" console=1\n"),
            "must be #true or #false, not a number",
        ),
        case(
            "wrong types",
            "an account id as a boolean",
            with_jump("account \"a\" id=#true\n"),
            "must be a string",
        ),
        case(
            "wrong types",
            "session-hours as a decimal",
            with_jump(format!("{admin} session-hours=1.5\n")),
            "must be a whole number",
        ),
        case(
            "wrong types",
            "a region as #null",
            "jump-account id=\"111111111111\" region=#null\n",
            "must be a string, not #null",
        ),
        case(
            "wrong types",
            "a user name as a number",
            with_jump("user 42\n"),
            "user name must be a string, not a number",
        ),
        case(
            "wrong types",
            "a project as a number",
            with_jump("user \"a\" {\n    access \"admin\" project=5\n}\n"),
            "`project` must be a string, not a number",
        ),
        case(
            "wrong types",
            "a colour as a hexadecimal number",
            with_jump("account \"a\" id=\"222222222222\" color=0xd13212\n"),
            "must be a string",
        ),
        case(
            "wrong types",
            "min-length as a string",
            "jump-account id=\"111111111111\" region=\"us-east-1\" {\n    password-policy min-length=\"14\"\n}\n",
            "must be a whole number",
        ),
        case(
            "wrong types",
            "session-hours of 2^64",
            with_jump(format!("{admin} session-hours=18446744073709551616\n")),
            "session-hours",
        ),
        // KDL v1 syntax.
        case(
            "KDL v1",
            "a bare true",
            with_jump("user \"a\" console=true\n"),
            "a bare `true` is KDL v1",
        ),
        case(
            "KDL v1",
            "a bare false",
            with_jump("user \"a\" console=false\n"),
            "a bare `false` is KDL v1",
        ),
        case(
            "KDL v1",
            "a bare null",
            with_jump("user \"a\" age-recipient=null\n"),
            "a bare `null` is KDL v1",
        ),
        case(
            "KDL v1",
            "a raw string r\"…\"",
            with_jump("user r\"a\"\n"),
            "KDL v1",
        ),
        case(
            "KDL v1",
            "a raw string r#\"…\"#",
            with_jump("user r#\"a\"#\n"),
            "error",
        ),
        case(
            "KDL v1",
            "the \\/ escape",
            with_jump("user \"a\\/b\"\n"),
            "error",
        ),
        case(
            "KDL v1",
            "a string across lines",
            with_jump("user \"a\nb\"\n"),
            "error",
        ),
        // Garbage and emptiness.
        case("garbage", "64 KiB of random bytes", garbage, "error"),
        case(
            "garbage",
            "64 KiB of KDL punctuation",
            printable_garbage,
            "error",
        ),
        case(
            "garbage",
            "an empty file",
            "",
            "no `jump-account` is declared",
        ),
        case(
            "garbage",
            "only a byte-order mark and spaces",
            "\u{feff}   \n\n",
            "no `jump-account` is declared",
        ),
        Case {
            category: "garbage",
            name: "a directory without .kdl files",
            files: vec![("notes.txt", b"user \"a\"\n".to_vec())],
            expect: "contains no .kdl file",
        },
        case(
            "garbage",
            "1,000 invalid users",
            with_jump(
                (0..1_000)
                    .map(|i| format!("user \"bad name {i}\"\n"))
                    .collect::<String>(),
            ),
            "1000 problems found",
        ),
    ]
}

struct Outcome {
    category: &'static str,
    name: &'static str,
    problems: Vec<String>,
    elapsed: Duration,
}

fn run_case(emu: &Emulator, case: &Case) -> Outcome {
    let ws = Workspace::with_files(&case.files);
    let output = ws.plan(emu, &[]);
    let elapsed = output.elapsed;
    let stderr = &output.stderr;
    let mut problems = Vec::new();
    if output.code != Some(1) {
        problems.push(format!("exit {:?}, wanted 1", output.code));
    }
    if !output.stdout.is_empty() {
        problems.push("something was printed on stdout".to_owned());
    }
    if !stderr.starts_with("error: ") {
        problems.push("stderr does not start with `error: `".to_owned());
    }
    if !stderr.contains(case.expect) {
        problems.push(format!("no `{}` in the report", case.expect));
    }
    if stderr.contains("panicked")
        || stderr.contains("overflow")
        || stderr.contains("RUST_BACKTRACE")
    {
        problems.push("a panic".to_owned());
    }
    // Terminal control: no raw escape, no bidi override reaches the terminal.
    if stderr.contains('\u{1b}') || stderr.contains('\u{202e}') || stderr.contains('\0') {
        problems.push("a raw control character in the report".to_owned());
    }
    if elapsed > PER_INPUT {
        problems.push(format!("took {elapsed:?}"));
    }
    if !problems.is_empty() {
        let shown: String = stderr.chars().take(1500).collect();
        problems.push(format!("stderr:\n{shown}"));
    }
    Outcome {
        category: case.category,
        name: case.name,
        problems,
        elapsed,
    }
}

#[test]
fn malformed_and_hostile_files_fail_cleanly_without_any_aws_request() {
    let emu = Emulator::start();
    emu.start_recording();
    let cases = corpus();
    let started = Instant::now();
    // Four at a time: each run is one process.
    let queue = Mutex::new(cases.iter().collect::<Vec<_>>());
    let outcomes = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                loop {
                    let Some(case) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let outcome = run_case(&emu, case);
                    outcomes.lock().unwrap().push(outcome);
                }
            });
        }
    });
    let outcomes = outcomes.into_inner().unwrap();
    let recorded = emu.recording();
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.problems.is_empty())
        .map(|o| format!("--- {}: {}\n{}", o.category, o.name, o.problems.join("\n")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} inputs failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        recorded.is_empty(),
        "no AWS request may be made for an invalid state, got {:?}",
        recorded
            .iter()
            .map(|r| r.action.clone())
            .collect::<Vec<_>>()
    );

    // The control: a valid state does reach the emulator's recording.
    let valid = Workspace::with_state(&format!(
        "jump-account id=\"{}\" region=\"us-east-1\"\n",
        support::emulator::DEFAULT_ACCOUNT_ID
    ));
    valid.plan(&emu, &[]).expect_code(0);
    assert!(
        !emu.recording().is_empty(),
        "the recording sees a valid plan's requests"
    );

    let mut categories: Vec<(&str, usize)> = Vec::new();
    for o in &outcomes {
        match categories.iter_mut().find(|(c, _)| *c == o.category) {
            Some((_, n)) => *n += 1,
            None => categories.push((o.category, 1)),
        }
    }
    categories.sort();
    let slowest = outcomes
        .iter()
        .max_by_key(|o| o.elapsed)
        .expect("some cases");
    let summary = format!(
        "bad input: {} malformed or hostile inputs tried with `plan` ({}); every one exit 1 with a diagnostic, no panic, no raw control character; AWS requests recorded: 0; slowest {:.1} s ({}); {:.1} s in all",
        outcomes.len(),
        categories
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        slowest.elapsed.as_secs_f64(),
        slowest.name,
        started.elapsed().as_secs_f64()
    );
    figures::start(FIGURES);
    figures::figure(FIGURES, &summary);
}
