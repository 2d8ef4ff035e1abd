//! Issue #16's acceptance tests, the people side: login profiles read from
//! IAM's credential report (and confirmed where a plan acts), credential
//! hygiene in `drift`, access that expires, and profiles for accounts that
//! Organizations created. The built binary runs against the strict test
//! ground, whose credential report is kept as AWS keeps it (see
//! tests/support/strict/rules_credential_report.py); the day is always set
//! with `JUMPGATE_TODAY`, never taken from the clock.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use support::Emulator;
use support::by_hand;
use support::emulator::RecordedRequest;
use support::fixtures;
use support::python::botocore_profiles;
use support::{Workspace, actions_named, groups_of, iam, jumpgate_with_env, user_exists};

const ESTATE: &str = r#"
jump-account id="123456789012" region="ap-northeast-1"
user "alice" {
    access "admin"
}
user "bob" {
    access "operator"
}
user "bot" console=#false {
    access "operator"
}
"#;

fn calls(recording: &[RecordedRequest], action: &str) -> Vec<String> {
    actions_named(recording, action)
        .into_iter()
        .map(|r| r.param("UserName").unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn plans_read_login_profiles_from_the_report_and_confirm_only_what_they_act_on() {
    // Reports are kept 5 s here (AWS: four hours), so that one made after
    // the apply is the one the plans below read.
    let emu = Emulator::start_with_knobs(&[("CREDENTIAL_REPORT_MAX_AGE_SECONDS", "5")]);
    let ws = Workspace::with_state(ESTATE);
    ws.apply(&emu, &[]).expect_code(0);
    tokio::time::sleep(Duration::from_millis(5_200)).await;

    // No change: the report answers for every user.
    emu.start_recording();
    ws.assert_converged(&emu);
    let recording = emu.recording();
    assert_eq!(calls(&recording, "GetLoginProfile"), Vec::<String>::new());
    assert_eq!(calls(&recording, "GetCredentialReport").len(), 1);

    // A console password removed by hand after the report: the report
    // cannot show it, and a plan that does not act on alice misses it
    // until the next report; `drift --exact` reads every user and sees it.
    iam(&emu)
        .await
        .delete_login_profile()
        .user_name("alice")
        .send()
        .await
        .expect("DeleteLoginProfile");
    // bob gains a grant: the plan acts on bob, so bob's profile is read.
    ws.write_state(&ESTATE.replace(
        "user \"bob\" {\n    access \"operator\"",
        "user \"bob\" {\n    access \"operator\"\n    access \"developer\"",
    ));
    emu.clear_recording();
    let plan = ws.plan_json(&emu);
    let recording = emu.recording();
    assert_eq!(calls(&recording, "GetLoginProfile"), ["bob"]);
    let addresses: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["address"].as_str().unwrap())
        .collect();
    assert!(
        !addresses.iter().any(|a| a.contains("alice")),
        "{addresses:?}"
    );
    let exact = ws.run(&emu, "drift", &["--exact", "--format", "json"]);
    exact.expect_code(2);
    exact.assert_stdout_has("login-profile.alice");
    let recording = emu.recording();
    assert!(calls(&recording, "GetLoginProfile").contains(&"alice".to_owned()));

    // A declared user made by hand after the report has no row: confirmed.
    let iam = iam(&emu).await;
    by_hand::create_user(&iam, "carol").await;
    ws.write_state(&format!(
        "{ESTATE}user \"carol\" {{\n    access \"operator\"\n}}\n"
    ));
    emu.clear_recording();
    ws.plan_json(&emu);
    let confirmed = calls(&emu.recording(), "GetLoginProfile");
    assert!(confirmed.contains(&"carol".to_owned()), "{confirmed:?}");
    emu.stop_recording();
}

/// Each user's findings, by kind.
fn findings(drift: &Value) -> BTreeMap<String, Vec<String>> {
    drift["hygiene"]["users"]
        .as_array()
        .expect("hygiene users")
        .iter()
        .map(|u| {
            let kinds = u["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["finding"].as_str().unwrap().to_owned())
                .collect();
            (u["user"].as_str().unwrap().to_owned(), kinds)
        })
        .collect()
}

#[tokio::test]
async fn drift_reports_each_hygiene_case_the_report_shows() {
    // The report is dated 100 days after it is built: every key is 100
    // days old and unused, every password 100 days unused since issued.
    let emu = Emulator::start_with_knobs(&[
        ("CREDENTIAL_REPORT_MAX_AGE_SECONDS", "0"),
        ("CREDENTIAL_REPORT_AGED_DAYS", "100"),
    ]);
    let ws = Workspace::with_state(&format!(
        "{ESTATE}user \"carol\" access-keys=#false {{\n    access \"operator\"\n}}\n"
    ));
    ws.apply(&emu, &[]).expect_code(0);
    let iam = iam(&emu).await;
    for user in ["bot", "carol"] {
        by_hand::create_access_key(&iam, user).await;
    }
    by_hand::enable_virtual_mfa_device(&iam, "alice", "alice").await;

    let drift = ws.run(&emu, "drift", &["--format", "json"]);
    drift.expect_code(0);
    let found = findings(&drift.json());
    let expected: BTreeMap<String, Vec<String>> = [
        ("alice", vec!["never-signed-in"]),
        ("bob", vec!["never-signed-in", "no-mfa"]),
        ("bot", vec!["no-mfa", "old-access-key", "unused-access-key"]),
        (
            "carol",
            vec![
                "never-signed-in",
                "no-mfa",
                "key-on-console-only-user",
                "old-access-key",
                "unused-access-key",
            ],
        ),
    ]
    .into_iter()
    .map(|(u, f)| (u.to_owned(), f.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(found, expected);

    // Its own exit status, on request; text and Markdown say the same.
    ws.run(&emu, "drift", &["--fail-on-hygiene"]).expect_code(3);
    let text = ws.run(&emu, "drift", &[]);
    assert!(
        text.stdout.contains("user carol:")
            && text
                .stdout
                .contains("access key 1 is active, but the file declares the user console-only"),
        "{}",
        text.stdout
    );
    let markdown = ws.run(&emu, "drift", &["--format", "markdown"]);
    markdown.assert_stdout_has("| `bob` | no active MFA device");

    // Thresholds from the file, then from the command line on top.
    ws.write_state(
        &format!("{ESTATE}user \"carol\" access-keys=#false {{\n    access \"operator\"\n}}\n")
            .replace(
                "region=\"ap-northeast-1\"",
                "region=\"ap-northeast-1\" {\n    hygiene never-signed-in-days=101 key-max-age-days=101 key-unused-days=101\n}",
            ),
    );
    let relaxed = findings(&ws.run(&emu, "drift", &["--format", "json"]).json());
    assert_eq!(relaxed.get("alice"), None, "{relaxed:?}");
    assert_eq!(relaxed["bot"], ["no-mfa"]);
    let strict = findings(
        &ws.run(
            &emu,
            "drift",
            &["--format", "json", "--never-signed-in-days", "30"],
        )
        .json(),
    );
    assert_eq!(strict["alice"], ["never-signed-in"]);
}

const EXPIRING: &str = r#"
jump-account id="123456789012" region="ap-northeast-1"
user "alice" {
    access "admin"
}
user "kato" until="2027-03-31" {
    access "operator"
    access "developer" until="2027-01-31"
}
user "temp" until="2027-01-31" {
    access "operator"
}
"#;

#[tokio::test]
async fn past_their_day_grants_and_users_are_removed_as_expired() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(EXPIRING);
    let state = ws.state_arg();
    let secrets = ws.secrets_arg();
    let on = |day: &'static str| [("JUMPGATE_TODAY", day)];
    jumpgate_with_env(
        &emu,
        &on("2027-01-27"),
        &["apply", &state, "--yes", "--secrets-dir", &secrets],
    )
    .expect_code(0);

    // Four days before: nothing to do, but the ends are announced.
    let before = jumpgate_with_env(&emu, &on("2027-01-27"), &["plan", &state]);
    before.expect_code(0);
    before.assert_stdout_has("kato's developer access ends in 4 days (until 2027-01-31)");
    assert!(before.stdout.contains("user temp ends in 4 days"));
    let drift = jumpgate_with_env(&emu, &on("2027-01-27"), &["drift", &state]);
    drift.assert_stdout_has("Ending soon:");
    let access = jumpgate_with_env(&emu, &on("2027-01-27"), &["access", &state]);
    access.assert_stdout_has("kato -> jump (123456789012) developer until 2027-01-31");
    let profiles = jumpgate_with_env(
        &emu,
        &on("2027-01-27"),
        &["profiles", &state, "--user", "kato"],
    );
    profiles.assert_stdout_has("as role-developer, through group-developer, until 2027-01-31");

    // The last day still counts; the day after, the plan removes them.
    let last_day = jumpgate_with_env(
        &emu,
        &on("2027-01-31"),
        &["plan", &state, "--detailed-exitcode"],
    );
    last_day.expect_code(0);
    let after = jumpgate_with_env(
        &emu,
        &on("2027-02-01"),
        &["plan", &state, "--format", "json"],
    );
    let plan = after.expect_code(0).json();
    let expired: Vec<(&str, &str)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["reason"] == "expired")
        .map(|c| {
            (
                c["action"].as_str().unwrap(),
                c["address"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        expired.contains(&("delete", "membership.kato/group-developer")),
        "{expired:?}"
    );
    assert!(expired.contains(&("delete", "user.temp")), "{expired:?}");
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["reason"] == "expired"),
        "only expiries: {plan}"
    );
    let text = jumpgate_with_env(&emu, &on("2027-02-01"), &["plan", &state]);
    text.assert_stdout_has("membership.kato/group-developer  (expired)");

    jumpgate_with_env(
        &emu,
        &on("2027-02-01"),
        &["apply", &state, "--yes", "--secrets-dir", &secrets],
    )
    .expect_code(0);
    let iam = iam(&emu).await;
    assert_eq!(groups_of(&iam, "kato").await, ["group-operator"]);
    assert!(!user_exists(&iam, "temp").await);
    assert!(user_exists(&iam, "alice").await);
    jumpgate_with_env(
        &emu,
        &on("2027-02-01"),
        &["plan", &state, "--detailed-exitcode"],
    )
    .expect_code(0);
}

#[tokio::test]
async fn after_an_organizations_apply_profiles_cover_every_account_it_created() {
    let emu = Emulator::start();
    let org = by_hand::organization(&emu).await;
    let ws = Workspace::with_state(fixtures::new_accounts!());
    ws.apply(&emu, &[]).expect_code(0);
    let accounts = org
        .list_accounts()
        .send()
        .await
        .expect("ListAccounts")
        .accounts
        .unwrap_or_default();
    let id_of = |email: &str| {
        accounts
            .iter()
            .find(|a| a.email() == Some(email))
            .and_then(|a| a.id().map(str::to_owned))
            .expect("the apply created the account")
    };

    let state = ws.state_arg();
    let out = ws.run(
        &emu,
        "profiles",
        &["--user", "me", "--format", "aws-config"],
    );
    out.expect_code(0);
    let config = ws.path("config");
    std::fs::write(&config, &out.stdout).unwrap();
    let profiles = botocore_profiles(&config);
    for (profile, email) in [
        ("sandbox-admin", "me+aws-sandbox@example.com"),
        ("dev-admin", "me+aws-dev@example.com"),
        ("prod-admin", "me+aws-prod@example.com"),
    ] {
        let id = id_of(email);
        assert_eq!(
            profiles[profile]["role_arn"],
            format!("arn:aws:iam::{id}:role/role-admin"),
            "{profiles:?}"
        );
        assert_eq!(profiles[profile]["source_profile"], "management");
    }

    // Without Organizations access, the accounts are left out, and why.
    let denied = jumpgate_with_env(
        &emu,
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")],
        &["profiles", &state, "--user", "me", "--format", "links"],
    );
    denied.expect_code(0);
    assert!(
        !denied.stdout.contains("sandbox-admin"),
        "{}",
        denied.stdout
    );
    denied.assert_stderr_has("Left out account sandbox: declared by e-mail only, and the organization's accounts could not be listed");
}
