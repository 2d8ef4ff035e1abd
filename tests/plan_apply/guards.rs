//! Issue #3, acceptance 5 to 8: the refusals. A stale saved plan, a second
//! concurrent apply, a lockout, an apply nobody confirmed and credentials
//! for the wrong account each stop jumpgate before it changes anything.

use crate::support::fault_proxy::{FaultProxy, FaultRates};
use crate::support::fixtures;
use crate::support::{
    Emulator, JUMP, Workspace, assert_nothing_mutated, assert_refused, by_hand, describe,
    groups_of, iam, jumpgate, mutating, user_exists,
};

const ESTATE: &str = concat!(
    fixtures::payments_head!(),
    r#"account "shared-services" id="410987654321"
user "yamada.taro" {
    access "admin"
}
"#
);

const NEWCOMER: &str = r#"
user "newcomer" {
    access "operator" project="payments"
}
"#;

#[tokio::test]
async fn a_stale_saved_plan_is_refused_and_a_fresh_one_applies() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, ESTATE).await;
    ws.write_state(&format!("{ESTATE}{NEWCOMER}"));
    let saved = ws.save_plan(&emu, "p.json");

    // Out of band, after the plan was made: a membership nobody declared.
    let iam = iam(&emu).await;
    by_hand::add_user_to_group(&iam, "yamada.taro", "group-operator").await;

    assert_refused(&emu, "a refused stale plan", "stale", || {
        ws.apply_saved(&emu, &saved)
    });
    assert!(!user_exists(&iam, "newcomer").await);

    let fresh = ws.save_plan(&emu, "p2.json");
    ws.apply_saved(&emu, &fresh).expect_code(0);
    assert_newcomer_in_and_membership_by_hand_gone(&emu, &ws).await;
}

/// The newcomer has its group, and the plan applied, made after the
/// membership added by hand, removed it.
async fn assert_newcomer_in_and_membership_by_hand_gone(emu: &Emulator, ws: &Workspace) {
    let iam = iam(emu).await;
    assert_eq!(
        groups_of(&iam, "newcomer").await,
        ["group-operator-payments"]
    );
    assert_eq!(
        groups_of(&iam, "yamada.taro").await,
        ["group-admin"],
        "the plan applied saw and removed the membership added by hand"
    );
    ws.assert_converged(emu);
}

/// With `--yes` nobody approved a particular plan: when live state moves
/// between planning and taking the lock (here a membership added by hand
/// the moment the lock is made), apply plans again under the lock and
/// applies that plan, as Terraform's `apply -auto-approve` does, rather
/// than refusing as stale (only a saved or confirmed plan is bound).
#[tokio::test]
async fn a_yes_apply_whose_live_state_moves_before_the_lock_plans_again_under_it() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, ESTATE).await;
    ws.write_state(&format!("{ESTATE}{NEWCOMER}"));
    let proxy = FaultProxy::start(emu.port(), 1, FaultRates::NONE);
    let by_hand_iam = iam(&emu).await;
    // The first mutating request of the apply is the lock's creation.
    proxy.meanwhile_after(
        1,
        Box::new(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the change by hand")
                .block_on(by_hand::add_user_to_group(
                    &by_hand_iam,
                    "yamada.taro",
                    "group-operator",
                ));
        }),
    );
    let applied = ws.apply_command(&emu).endpoint(&proxy.url()).run();
    applied.expect_code(0);
    applied.assert_stderr_has("planned again under the lock");
    assert_newcomer_in_and_membership_by_hand_gone(&emu, &ws).await;
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
    let ws = Workspace::bootstrapped(&emu, ESTATE).await;
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
    refused.assert_stderr_has("jumpgate unlock");
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
    unconfirmed.assert_stdout_has(HOLDER_ARN);
    assert!(lock_exists(&iam).await);

    let unlocked = jumpgate(&emu, &["unlock", "--yes"]);
    unlocked.expect_code(0);
    assert!(
        unlocked.stdout.contains(HOLDER_ARN) && unlocked.stdout.contains("build-host-7"),
        "unlock shows who held the lock: {}",
        unlocked.stdout
    );
    assert!(
        unlocked.stdout.contains(" ago)"),
        "unlock shows how old the lock is: {}",
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
    idle.assert_stdout_has("No apply holds the lock");
}

const LOCKED_OUT: &str = concat!(
    fixtures::payments_head!(),
    r#"account "shared-services" id="410987654321"
user "yamada.taro" {
    access "admin" project="payments"
}
user "kobayashi.yui" {
    access "operator"
}
"#
);

#[tokio::test]
async fn a_lockout_is_refused_unless_allowed() {
    let emu = Emulator::start();
    let ws = Workspace::bootstrapped(&emu, LOCKED_OUT).await;
    // A saved plan whose lockout list was emptied by hand: the lockouts
    // are recomputed, never read from the file.
    let saved = ws.save_plan(&emu, "locked-out.json");
    tamper(&saved, |plan| {
        assert!(!plan["lockouts"].as_array().unwrap().is_empty());
        plan["lockouts"] = serde_json::json!([]);
    });
    emu.start_recording();
    let tampered = ws.apply_saved(&emu, &saved);
    let refused = ws.apply(&emu, &[]);
    emu.stop_recording();
    // The tampered plan's lockouts were recomputed: refused for the account.
    tampered
        .expect_code(1)
        .assert_stderr_has("refusing to apply")
        .assert_stderr_has("shared-services");
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
    ws.assert_converged(&emu);
}

#[tokio::test]
async fn apply_off_a_terminal_without_yes_is_refused() {
    let emu = Emulator::start();
    let ws = Workspace::bootstrapped(&emu, ESTATE).await;
    assert_refused(&emu, "an unconfirmed apply", "--yes", || {
        ws.command(&emu, "apply")
            .arg("--secrets-dir")
            .arg(ws.secrets())
            .run()
    });
    let iam = iam(&emu).await;
    assert!(!user_exists(&iam, "yamada.taro").await);
}

#[tokio::test]
async fn credentials_for_another_account_than_the_jump_account_fail_clearly() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(&ESTATE.replace(JUMP, "999999999999"));
    emu.start_recording();
    let planned = ws.plan(&emu, &[]);
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

/// Issue #14's reproduction: the file keeps one user and declares only a
/// read-only role. Nobody could reach an administrator role anywhere, so
/// the guard must speak although no role is keyed `admin` any more.
#[tokio::test]
async fn declaring_no_administrator_role_is_a_lockout() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, ESTATE).await;
    let auditors_only = ESTATE.replace(
        "user \"yamada.taro\" {\n    access \"admin\"",
        "role \"auditor\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\nuser \"yamada.taro\" {\n    access \"auditor\"",
    );
    assert_ne!(auditors_only, ESTATE);
    ws.write_state(&auditors_only);
    let plan = ws.plan_json(&emu);
    let locked: Vec<&str> = plan["lockouts"]
        .as_array()
        .expect("lockouts")
        .iter()
        .map(|l| l["account_id"].as_str().unwrap())
        .collect();
    assert_eq!(locked, [JUMP, "210987654321", "410987654321"], "{plan}");
    let refused = assert_refused(&emu, "a refused lockout", "no role grants *:*", || {
        ws.apply(&emu, &[])
    });
    refused
        .assert_stderr_has("before it: yamada.taro")
        .assert_stderr_has("--allow-lockout");
    let iam = iam(&emu).await;
    assert_eq!(groups_of(&iam, "yamada.taro").await, ["group-admin"]);
}

/// Rewrites the saved plan at `path` with `edit`.
fn tamper(path: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the saved plan"))
            .expect("JSON");
    edit(&mut plan);
    std::fs::write(path, plan.to_string()).expect("writing the plan");
}

/// Sets `field` to `value` in every operation of the saved plan that is a `call`.
fn set_in_operations(plan: &mut serde_json::Value, call: &str, field: &str, value: &str) {
    let changes = plan["changes"].as_array_mut().expect("changes");
    for change in changes {
        for op in change["operations"].as_array_mut().expect("operations") {
            if op["call"] == call {
                op[field] = value.into();
            }
        }
    }
}

/// `apply STATE --plan PLAN`, which must be refused saying `says` without
/// a mutating request.
fn assert_saved_plan_refused(
    emu: &Emulator,
    ws: &Workspace,
    plan: &std::path::Path,
    says: &str,
    what: &str,
) {
    assert_refused(emu, what, says, || ws.apply_saved(emu, plan));
}

#[tokio::test]
async fn a_saved_plan_applies_only_as_its_files_and_the_live_state_give_it() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, ESTATE).await;
    let with_newcomer = format!("{ESTATE}{NEWCOMER}");
    ws.write_state(&with_newcomer);
    let good = ws.save_plan(&emu, "good.json");

    // Outside the workspace, in the shared temporary directory: a name of
    // this run's own, so nothing else there is mistaken for it.
    let escaped = format!("jumpgate-traversal-{}", std::process::id());
    let traversal = format!("../../{escaped}");
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "an operation rewritten to grant admin",
            Box::new(|plan| set_in_operations(plan, "AddUserToGroup", "group", "group-admin")),
            "its changes differ",
        ),
        (
            "a user name that is a path",
            Box::new(move |plan| set_in_operations(plan, "CreateLoginProfile", "user", &traversal)),
            "user name",
        ),
        (
            "another jumpgate's plan",
            Box::new(|plan| plan["jumpgate_version"] = "0.0.1".into()),
            "made by jumpgate 0.0.1",
        ),
    ];
    for (what, edit, says) in cases {
        let path = ws.path("tampered.json");
        std::fs::copy(&good, &path).unwrap();
        tamper(&path, edit);
        assert_saved_plan_refused(&emu, &ws, &path, says, what);
        assert!(!ws.path("..").join(&escaped).exists(), "{what}");
    }

    // An older plan, live state unchanged: the files moved on since.
    ws.write_state(&format!(
        "{with_newcomer}\nuser \"later\" {{\n    access \"operator\"\n}}\n"
    ));
    assert_saved_plan_refused(
        &emu,
        &ws,
        &good,
        "desired-state files differ",
        "an older plan",
    );

    // The plan as made, with the files it was made from, applies.
    ws.write_state(&with_newcomer);
    ws.apply_saved(&emu, &good).expect_code(0);
    let iam = iam(&emu).await;
    assert_eq!(
        groups_of(&iam, "newcomer").await,
        ["group-operator-payments"]
    );
}
