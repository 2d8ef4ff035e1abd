//! `validate --format github|gitlab`: each problem becomes an annotation on
//! its file and line, in the form GitHub Actions and GitLab read; the
//! readable report still goes to the log.

mod support;

use support::{Jumpgate, Outcome, Workspace};

const INVALID: &str = r#"jump-account id="111111111111" region="us-east-1"
user "a" {
    access "superuser"
}
user "b" {
    access "admin" project="nowhere"
}
"#;

/// `validate state --format FORMAT` in the workspace, so that paths are
/// reported as `state/…`.
fn validate(ws: &Workspace, format: &str) -> Outcome {
    Jumpgate::local()
        .current_dir(ws.root())
        .args(["validate", "state", "--format", format])
        .run()
}

fn with_state(text: &str) -> Workspace {
    Workspace::with_files(&[("main.kdl", text)])
}

#[test]
fn github_format_prints_one_error_command_per_problem() {
    let dir = with_state(INVALID);
    let out = validate(&dir, "github");
    out.expect_code(1);
    let stdout = &out.stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with(
            "::error file=state/main.kdl,line=3,col=12,title=jumpgate%3A%3Aunknown-role::"
        ),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("superuser"), "{}", lines[0]);
    assert!(
        lines[1].starts_with("::error file=state/main.kdl,line=6,col="),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("nowhere"), "{}", lines[1]);
    // Messages stay on one line: newlines are escaped as %0A.
    assert!(lines.iter().all(|l| !l.contains('\r')));
    out.assert_stderr_has("state/main.kdl:3:12: error:");
}

#[test]
fn gitlab_format_is_a_code_quality_report() {
    let dir = with_state(INVALID);
    let out = validate(&dir, "gitlab");
    out.expect_code(1);
    let report = out.json();
    let issues = report.as_array().expect("an array of issues");
    assert_eq!(issues.len(), 2);
    let first = &issues[0];
    assert_eq!(first["check_name"], "unknown-role");
    assert_eq!(first["severity"], "major");
    assert_eq!(first["location"]["path"], "state/main.kdl");
    assert_eq!(first["location"]["lines"]["begin"], 3);
    assert!(first["description"].as_str().unwrap().contains("superuser"));
    let fingerprints: Vec<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints[0].len(), 64);
    assert_ne!(fingerprints[0], fingerprints[1]);
    // Stable: the same input gives the same report.
    assert_eq!(validate(&dir, "gitlab").stdout, out.stdout);
}

#[test]
fn a_valid_state_gives_an_empty_report() {
    let dir = with_state("jump-account id=\"111111111111\" region=\"us-east-1\"\n");
    let gitlab = validate(&dir, "gitlab");
    gitlab.expect_code(0);
    assert_eq!(gitlab.stdout, "[]\n");
    assert!(gitlab.stderr.contains("is valid"));
    let github = validate(&dir, "github");
    github.expect_code(0);
    assert!(!github.stdout.contains("::error"));
}
