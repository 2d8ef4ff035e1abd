//! `jumpgate fmt`: a table of messy inputs and their canonical form
//! (snapshots), the shipped files already canonical, every comment kept,
//! one pass enough; and the command's `--check` and write modes.

mod support;

use std::path::{Path, PathBuf};

use support::{Jumpgate, Outcome};

use jumpgate::lang::fmt::format;

fn canonical(text: &str) -> String {
    let once = format(0, text).unwrap_or_else(|p| panic!("does not parse: {p:?}\n{text}"));
    let twice = format(0, &once)
        .unwrap_or_else(|p| panic!("the output does not parse: {p:?}\n{text}\n---\n{once}"));
    assert_eq!(once, twice, "a second pass changed the output of:\n{text}");
    assert_eq!(
        meaning(&once),
        meaning(text),
        "formatting changed the meaning of:\n{text}\ngot:\n{once}"
    );
    for comment in comments(text) {
        assert!(
            once.contains(comment),
            "comment {comment:?} lost from:\n{text}\ngot:\n{once}"
        );
    }
    once
}

/// What a KDL text says, without its layout: nodes, entries, children.
fn meaning(text: &str) -> String {
    fn node(n: &kdl::KdlNode, out: &mut String) {
        out.push_str(&format!("({:?}", n.name().value()));
        for e in n.entries() {
            out.push_str(&format!(
                " {:?}={:?}",
                e.name().map(|k| k.value()),
                e.value()
            ));
        }
        if let Some(children) = n.children() {
            out.push_str(" {");
            children.nodes().iter().for_each(|c| node(c, out));
            out.push('}');
        }
        out.push(')');
    }
    let document: kdl::KdlDocument = text.parse().expect("parses");
    let mut out = String::new();
    document.nodes().iter().for_each(|n| node(n, &mut out));
    out
}

/// The `//` and `/* */` comments and `/-` slashdashed parts of a test input
/// (inputs here keep each on one line and outside strings).
fn comments(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for line in text.lines() {
        let mut rest = line;
        while let Some(start) = ["//", "/*", "/-"].iter().filter_map(|m| rest.find(m)).min() {
            rest = &rest[start..];
            let end = match rest.find("*/") {
                Some(close) if rest.starts_with("/*") => close + 2,
                _ => rest.len(),
            };
            found.push(rest[..end].trim_end());
            rest = &rest[end..];
        }
    }
    found
}

/// (name, messy input): each snapshot is the input's canonical form.
const MESSY: &[(&str, &str)] = &[
    (
        "spacing_and_indentation",
        "jump-account   id=\"111111111111\"    region=\"us-east-1\"{\n  password-policy   min-length=14\n      }\n",
    ),
    (
        "quoting_bare_strings_and_raw_strings",
        "role admin policy=#\"arn:aws:iam::aws:policy/AdministratorAccess\"#\nuser \"plain.name\" console=#false {\n access operator project=payments\n}\n",
    ),
    (
        "quoted_names_that_need_no_quotes",
        "\"user\" \"a\" {\n    \"access\" \"admin\" \"until\"=\"2027-01-01\"\n}\n",
    ),
    (
        "semicolons_become_lines",
        "user \"a\" { access \"admin\"; access \"operator\"; }\nrole \"x\"; role \"y\"\n",
    ),
    (
        "blank_lines_collapsed_and_trimmed",
        "\n\n\n// head\n\n\n\nuser \"a\" {\n\n\n    access \"admin\"\n\n\n\n    access \"operator\"\n\n}\n\n\n",
    ),
    (
        "runs_of_one_name_are_aligned",
        "role \"admin\" policy=\"arn:aws:iam::aws:policy/AdministratorAccess\"\nrole \"developer\" policy=\"arn:aws:iam::aws:policy/PowerUserAccess\" session-hours=4\nrole \"operator\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\" session-hours=1\n",
    ),
    (
        "a_comment_line_or_blank_line_breaks_a_run",
        "account \"a\" id=\"222222222222\" env=\"prod\"\naccount \"bbbbbbbb\" id=\"333333333333\"\n// the next one\naccount \"c\" id=\"444444444444\"\n\naccount \"dd\" id=\"555555555555\"\n",
    ),
    (
        "trailing_comments_aligned",
        "account \"shared-services\" id=\"444444444444\" // in no project\naccount \"sandbox\" email=\"me+sandbox@example.com\"     // created\nuser \"deploy-bot\" console=#false // no login profile\n",
    ),
    (
        "comments_everywhere",
        "// file head\n/* block before */ user \"a\" { // on the brace\n    // inside\n    access \"admin\" // why\n    // last inside\n} // after the brace\n// end of file\n",
    ),
    (
        "comments_among_entries_keep_the_header_as_written",
        "user   \"a\" /* the lead */ console=#false {\n    access \"admin\"   /-until=\"2027-01-01\"\n}\n",
    ),
    (
        "slashdashed_nodes_are_kept",
        "user \"a\" {\n    access \"admin\"\n    /-access \"operator\" project=\"p\"\n}\n/-user \"gone\" {\n    access \"admin\"\n}\n",
    ),
    (
        "long_lines_wrap_between_entries",
        "jump-account id=\"111111111111\" region=\"ap-northeast-1\" {\n    password-policy min-length=14 require-symbols=#true require-numbers=#true require-uppercase=#true require-lowercase=#true max-age-days=90 reuse-prevention=24\n}\n",
    ),
    (
        "continuations_rejoined_when_they_fit",
        "user \"a\" \\\n    console=#false \\\n    age-recipient=\"age1xyz\" {\n    access \"admin\"\n}\n",
    ),
    (
        "a_comment_before_the_brace_keeps_the_brace_on_its_own_line",
        "user \"a\" /* why */ console=#false \\ // the robot\n    {\n    access \"admin\"\n}\nuser \"b\" /* x */ \\\n  {\n}\n",
    ),
    (
        "numbers_and_keywords",
        "limits a=0x10 b=1_000 c=1.50 d=#null e=#true\n",
    ),
    (
        "strings_with_escapes",
        "note \"say \\\"hi\\\"\\tthere\" other=\"\"\"\n    two\n    lines\n    \"\"\"\n",
    ),
    (
        "crlf_line_endings",
        "user \"a\" {\r\n    access \"admin\" // x\r\n}\r\n",
    ),
    ("empty_file", ""),
    ("only_comments", "\n// nothing declared yet\n\n"),
    (
        "a_blank_line_before_a_closing_comment_stays",
        "user \"a\" {\n    access \"admin\"\n\n\n    // more once approved\n}\n",
    ),
    ("empty_block", "user \"a\" {\n\n}\n"),
];

#[test]
fn messy_inputs_format_as_expected() {
    for (name, input) in MESSY {
        let output = canonical(input);
        insta::assert_snapshot!(*name, output, input);
    }
}

/// Every `.kdl` file under `dir`, recursively.
fn kdl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            files.extend(kdl_files(&path));
        } else if path.extension().is_some_and(|e| e == "kdl") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn shipped_files_are_canonical_and_round_trip_unchanged() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<PathBuf> = ["state", "examples"]
        .iter()
        .flat_map(|dir| kdl_files(&root.join(dir)))
        .collect();
    assert!(files.len() >= 6, "found only {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            canonical(&text),
            text,
            "{} is not canonical: run `jumpgate fmt`",
            file.display()
        );
    }
}

fn jumpgate(dir: &Path, args: &[&str]) -> Outcome {
    Jumpgate::local().current_dir(dir).args(args).run()
}

#[test]
fn check_lists_what_would_change_and_fmt_rewrites_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let messy = "jump-account id=\"111111111111\"   region=\"us-east-1\"\n// who\nuser \"a\"{access \"admin\"}\n";
    let tidy = canonical(messy);
    std::fs::write(state.join("a.kdl"), messy).unwrap();
    std::fs::write(state.join("b.kdl"), "role \"extra\"\n").unwrap();

    let check = jumpgate(dir.path(), &["fmt", "--check"]);
    check.expect_code(1);
    assert_eq!(check.stdout, "state/a.kdl\n");
    assert!(check.stderr.contains("1 file is not in canonical format"));
    assert_eq!(
        std::fs::read_to_string(state.join("a.kdl")).unwrap(),
        messy,
        "--check writes nothing"
    );

    let write = jumpgate(dir.path(), &["fmt"]);
    write.expect_code(0);
    assert_eq!(write.stdout, "state/a.kdl\n");
    assert_eq!(std::fs::read_to_string(state.join("a.kdl")).unwrap(), tidy);

    let again = jumpgate(dir.path(), &["fmt", "--check", "state"]);
    again.expect_code(0);
    assert!(again.stdout.is_empty());
}

#[test]
fn a_file_that_does_not_parse_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.kdl");
    std::fs::write(&file, "user \"a\" {\n").unwrap();
    let out = jumpgate(dir.path(), &["fmt", "broken.kdl"]);
    out.expect_code(1);
    assert!(out.stderr.contains("broken.kdl:1:"), "{out:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "user \"a\" {\n");
}

/// A small deterministic generator (no seed file, same cases every run).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// `text` with random layout noise: spaces, line continuations, inline and
/// trailing comments, blank lines; the meaning unchanged.
fn scramble(text: &str, rng: &mut Lcg) -> String {
    let mut out = String::new();
    for (n, line) in text.lines().enumerate() {
        let mut in_string = false;
        let mut in_comment = false;
        for (at, c) in line.char_indices() {
            if c == '"' {
                in_string = !in_string;
            }
            in_comment |= !in_string && line[at..].starts_with("//");
            if c == ' ' && !in_string && !in_comment && out.ends_with(|p: char| p != ' ') {
                match rng.below(8) {
                    0 => out.push_str("    "),
                    1 => out.push_str(" \\\n            "),
                    2 => out.push_str(&format!(" /* c{n} */ ")),
                    _ => out.push(' '),
                }
                continue;
            }
            out.push(c);
        }
        let plain_end = !in_comment && !line.trim().is_empty() && !line.ends_with('\\');
        if plain_end && rng.below(4) == 0 {
            out.push_str(&format!("   // note {n}"));
        }
        out.push('\n');
        if !line.ends_with('\\') && rng.below(6) == 0 {
            out.push_str("\n\n");
        }
    }
    out
}

#[test]
fn scrambled_shipped_files_keep_meaning_and_comments_and_settle_in_one_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut rng = Lcg(17);
    let mut cases = 0;
    for file in ["state", "examples"]
        .iter()
        .flat_map(|d| kdl_files(&root.join(d)))
    {
        let text = std::fs::read_to_string(&file).unwrap();
        for _ in 0..25 {
            let messy = scramble(&text, &mut rng);
            // `canonical` checks meaning, comments and a stable second pass.
            canonical(&messy);
            cases += 1;
        }
    }
    assert!(cases >= 150, "{cases}");
}
