//! `validate --format github|gitlab`: each problem becomes an annotation on
//! its file and line, in the form GitHub Actions and GitLab read; the
//! readable report still goes to the log.

use std::path::Path;
use std::process::{Command, Output};

const INVALID: &str = r#"jump-account id="111111111111" region="us-east-1"
user "a" {
    access "superuser"
}
user "b" {
    access "admin" project="nowhere"
}
"#;

fn validate(dir: &Path, format: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jumpgate"))
        .args(["validate", "state", "--format", format])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("jumpgate runs")
}

fn with_state(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("state")).unwrap();
    std::fs::write(dir.path().join("state/main.kdl"), text).unwrap();
    dir
}

#[test]
fn github_format_prints_one_error_command_per_problem() {
    let dir = with_state(INVALID);
    let out = validate(dir.path(), "github");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
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
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("state/main.kdl:3:12: error:"), "{stderr}");
}

#[test]
fn gitlab_format_is_a_code_quality_report() {
    let dir = with_state(INVALID);
    let out = validate(dir.path(), "gitlab");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
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
    assert_eq!(validate(dir.path(), "gitlab").stdout, out.stdout);
}

#[test]
fn a_valid_state_gives_an_empty_report() {
    let dir = with_state("jump-account id=\"111111111111\" region=\"us-east-1\"\n");
    let gitlab = validate(dir.path(), "gitlab");
    assert_eq!(gitlab.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&gitlab.stdout), "[]\n");
    assert!(String::from_utf8_lossy(&gitlab.stderr).contains("is valid"));
    let github = validate(dir.path(), "github");
    assert_eq!(github.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&github.stdout).contains("::error"));
}
