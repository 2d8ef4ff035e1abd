//! Issue #3, acceptance 5 to 8: the refusals. A stale saved plan, a second
//! concurrent apply, a lockout, an apply nobody confirmed and credentials
//! for the wrong account each stop jumpgate before it changes anything.

use crate::harness::{JUMP, Workspace, describe, groups_of, iam, jumpgate, mutating, user_exists};
use crate::support::emulator::Emulator;

const ESTATE: &str = r#"
jump-account id="123456789012" region="ap-northeast-1"
project "payments" {
    account "payments-prod" id="210987654321"
}
account "shared-services" id="410987654321"
user "yamada.taro" {
    access "admin"
}
"#;

const NEWCOMER: &str = r#"
user "newcomer" {
    access "operator" project="payments"
}
"#;

/// Asserts that the recording since it started holds no mutating request.
#[track_caller]
fn assert_nothing_mutated(emu: &Emulator, what: &str) {
    let mutations = mutating(emu);
    assert!(
        mutations.is_empty(),
        "{what} sent mutating requests: {:?}",
        describe(&mutations)
    );
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused_and_a_fresh_one_applies() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(ESTATE);
    ws.bootstrap_members(&emu).await;
    ws.apply(&emu, &[]).expect_code(0);
    ws.write_state(&format!("{ESTATE}{NEWCOMER}"));
    let state = ws.state_arg();
    let secrets = ws.secrets_arg();
    let saved = ws.path("p.json").display().to_string();
    jumpgate(&emu, &["plan", &state, "--out", &saved]).expect_code(0);

    // Out of band, after the plan was made: a membership nobody declared.
    let iam = iam(&emu).await;
    iam.add_user_to_group()
        .user_name("yamada.taro")
        .group_name("group-operator")
        .send()
        .await
        .expect("AddUserToGroup");

    emu.start_recording();
    let refused = jumpgate(
        &emu,
        &[
            "apply",
            &state,
            "--plan",
            &saved,
            "--yes",
            "--secrets-dir",
            &secrets,
        ],
    );
    emu.stop_recording();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("stale"),
        "the refusal says the plan is stale: {}",
        refused.stderr
    );
    assert_nothing_mutated(&emu, "a refused stale plan");
    assert!(!user_exists(&iam, "newcomer").await);

    let fresh = ws.path("p2.json").display().to_string();
    jumpgate(&emu, &["plan", &state, "--out", &fresh]).expect_code(0);
    jumpgate(
        &emu,
        &[
            "apply",
            &state,
            "--plan",
            &fresh,
            "--yes",
            "--secrets-dir",
            &secrets,
        ],
    )
    .expect_code(0);
    assert_eq!(
        groups_of(&iam, "newcomer").await,
        ["group-operator-payments"]
    );
    assert_eq!(
        groups_of(&iam, "yamada.taro").await,
        ["group-admin"],
        "the fresh plan saw and removed the undeclared membership"
    );
    jumpgate(&emu, &["plan", &state, "--detailed-exitcode"]).expect_code(0);
}

const HOLDER_ARN: &str = "arn:aws:iam::123456789012:user/ci-runner";
const LOCK_ARN: &str = "arn:aws:iam::123456789012:policy/jumpgate/jumpgate-apply-lock";

async fn lock_exists(iam: &aws_sdk_iam::Client) -> bool {
    match iam.get_policy().policy_arn(LOCK_ARN).send().await {
        Ok(_) => true,
        Err(err) => {
            let err = err.into_service_error();
            assert!(err.is_no_such_entity_exception(), "GetPolicy: {err:?}");
            false
        }
    }
}

#[tokio::test]
async fn a_second_concurrent_apply_is_refused_naming_the_holder() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(ESTATE);
    ws.bootstrap_members(&emu).await;
    let iam = iam(&emu).await;
    // The lock as another jumpgate apply would hold it.
    let holder = serde_json::json!({
        "who": HOLDER_ARN,
        "host": "build-host-7",
        "pid": 4242,
        "since": "2026-11-22T07:00:00Z",
        "context": null,
    });
    iam.create_policy()
        .policy_name("jumpgate-apply-lock")
        .path("/jumpgate/")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:CreateUser","Resource":"arn:aws:iam::*:user/jumpgate-apply-lock"}]}"#,
        )
        .description(holder.to_string())
        .send()
        .await
        .expect("CreatePolicy jumpgate-apply-lock");

    emu.start_recording();
    let refused = ws.apply(&emu, &[]);
    emu.stop_recording();
    refused.expect_code(1);
    for part in [HOLDER_ARN, "build-host-7", "4242", "2026-11-22T07:00:00Z"] {
        assert!(
            refused.stderr.contains(part),
            "the refusal names the holder ({part}): {}",
            refused.stderr
        );
    }
    assert!(
        refused.stderr.contains("jumpgate unlock"),
        "{}",
        refused.stderr
    );
    let mutations = mutating(&emu);
    assert_eq!(
        describe(&mutations),
        ["CreatePolicy jumpgate-apply-lock"],
        "only the attempt to take the lock"
    );
    assert!(lock_exists(&iam).await, "the holder's lock is left alone");
    let users = iam.list_users().send().await.expect("ListUsers");
    assert!(users.users().is_empty(), "nothing was applied");

    // Without --yes, off a terminal, unlock shows the holder and keeps the lock.
    let unconfirmed = jumpgate(&emu, &["unlock"]);
    unconfirmed.expect_code(1);
    assert!(
        unconfirmed.stdout.contains(HOLDER_ARN),
        "{}",
        unconfirmed.stdout
    );
    assert!(lock_exists(&iam).await);

    let unlocked = jumpgate(&emu, &["unlock", "--yes"]);
    unlocked.expect_code(0);
    assert!(
        unlocked.stdout.contains(HOLDER_ARN) && unlocked.stdout.contains("build-host-7"),
        "unlock shows who held the lock: {}",
        unlocked.stdout
    );
    assert!(!lock_exists(&iam).await, "unlock removed the lock");

    emu.clear_recording();
    emu.start_recording();
    ws.apply(&emu, &[]).expect_code(0);
    emu.stop_recording();
    assert!(user_exists(&iam, "yamada.taro").await);
    assert!(
        !lock_exists(&iam).await,
        "a finished apply releases its lock"
    );
    // The lock it held had the shape the lock above imitated.
    let recording = emu.recording();
    let taken = recording
        .iter()
        .find(|r| {
            r.action.as_deref() == Some("CreatePolicy")
                && r.param("PolicyName") == Some("jumpgate-apply-lock")
        })
        .expect("apply took the lock");
    assert_eq!(taken.param("Path"), Some("/jumpgate/"));
    let description: serde_json::Value =
        serde_json::from_str(taken.param("Description").expect("a description"))
            .expect("the holder is JSON");
    let caller = aws_sdk_sts::Client::new(&emu.sdk_config().await)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(
        description["who"].as_str(),
        caller.arn(),
        "the holder is whoever ran the apply"
    );
    assert!(description["host"].is_string(), "{description}");
    assert!(description["pid"].is_u64(), "{description}");
    assert!(
        description["since"]
            .as_str()
            .is_some_and(|s| s.contains('T') && s.ends_with('Z')),
        "{description}"
    );
    let last = recording.iter().rposition(|r| r.is_mutating()).unwrap();
    assert_eq!(
        recording[last].action.as_deref(),
        Some("DeletePolicy"),
        "the lock goes last"
    );
    let idle = jumpgate(&emu, &["unlock", "--yes"]);
    idle.expect_code(0);
    assert!(
        idle.stdout.contains("No apply holds the lock"),
        "{}",
        idle.stdout
    );
}

const LOCKED_OUT: &str = r#"
jump-account id="123456789012" region="ap-northeast-1"
project "payments" {
    account "payments-prod" id="210987654321"
}
account "shared-services" id="410987654321"
user "yamada.taro" {
    access "admin" project="payments"
}
user "kobayashi.yui" {
    access "operator"
}
"#;

#[tokio::test]
async fn a_lockout_is_refused_unless_allowed() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(LOCKED_OUT);
    ws.bootstrap_members(&emu).await;
    emu.start_recording();
    let refused = ws.apply(&emu, &[]);
    emu.stop_recording();
    refused.expect_code(1);
    for part in ["shared-services", "410987654321", JUMP, "--allow-lockout"] {
        assert!(
            refused.stderr.contains(part),
            "the refusal names {part}: {}",
            refused.stderr
        );
    }
    assert!(
        !refused.stderr.contains("210987654321"),
        "the project's account has an admin: {}",
        refused.stderr
    );
    assert_nothing_mutated(&emu, "a refused lockout");

    ws.apply(&emu, &["--allow-lockout"]).expect_code(0);
    let iam = iam(&emu).await;
    assert_eq!(
        groups_of(&iam, "yamada.taro").await,
        ["group-admin-payments"]
    );
    let state = ws.state_arg();
    jumpgate(&emu, &["plan", &state, "--detailed-exitcode"]).expect_code(0);
}

#[tokio::test]
async fn apply_off_a_terminal_without_yes_is_refused() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(ESTATE);
    ws.bootstrap_members(&emu).await;
    let state = ws.state_arg();
    let secrets = ws.secrets_arg();
    emu.start_recording();
    let refused = jumpgate(&emu, &["apply", &state, "--secrets-dir", &secrets]);
    emu.stop_recording();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("--yes"),
        "the refusal says how to go on: {}",
        refused.stderr
    );
    assert_nothing_mutated(&emu, "an unconfirmed apply");
    let iam = iam(&emu).await;
    assert!(!user_exists(&iam, "yamada.taro").await);
}

#[tokio::test]
async fn credentials_for_another_account_than_the_jump_account_fail_clearly() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(&ESTATE.replace(JUMP, "999999999999"));
    let state = ws.state_arg();
    emu.start_recording();
    let planned = jumpgate(&emu, &["plan", &state]);
    let applied = ws.apply(&emu, &[]);
    emu.stop_recording();
    for outcome in [&planned, &applied] {
        outcome.expect_code(1);
        assert!(
            outcome.stderr.contains("999999999999") && outcome.stderr.contains(JUMP),
            "`{}` names both accounts: {}",
            outcome.args.join(" "),
            outcome.stderr
        );
        assert!(outcome.stdout.is_empty(), "no plan: {}", outcome.stdout);
    }
    assert_nothing_mutated(&emu, "a run against the wrong account");
}
