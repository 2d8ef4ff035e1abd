//! Issue #3, acceptance 9: the JSON plan is data scripts can rely on:
//! `format_version`, the ordered `changes` (each with action, kind, address,
//! before and after) and a `summary` of counts.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::fixtures;
use crate::support::{Emulator, JUMP, Workspace, assert_matches_plan_schema};

const BEFORE: &str = concat!(
    fixtures::small_estate!(),
    r#"user "sato.kenji" {
    access "operator" project="payments"
}
"#
);

/// One of each: a user created, a project's group policies updated (a new
/// account), a user deleted.
const AFTER: &str = r#"
jump-account id="123456789012" region="ap-northeast-1"
project "payments" {
    account "payments-prod" id="210987654321"
    account "payments-stg" id="210987654322"
}
user "yamada.taro" {
    access "admin"
}
user "ito.mei" console=#false {
    access "developer" project="payments"
}
"#;

/// The order `apply` runs changes in, as the plan names it.
const STAGES: &[&str] = &[
    "password-policy",
    "admin-role-stack",
    "execution-role-stack",
    "stack-set",
    "stack-instances",
    "mfa-policy",
    "groups",
    "group-policies",
    "users",
    "memberships",
    "login-profiles",
    "remove-memberships",
    "remove-login-profiles",
    "user-dependents",
    "delete-users",
    "remove-group-policies",
    "delete-groups",
    "delete-stack-instances",
];

fn stage_rank(change: &Value) -> usize {
    let stage = change["stage"].as_str().expect("a stage");
    STAGES
        .iter()
        .position(|s| *s == stage)
        .unwrap_or_else(|| panic!("unknown stage {stage}"))
}

#[tokio::test]
async fn the_json_plan_has_the_documented_shape() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, BEFORE).await;
    ws.write_state(AFTER);
    ws.bootstrap_members(&emu).await;
    let saved = ws.path("plan.json");
    let out = ws.path_arg("plan.json");
    let outcome = ws.plan(
        &emu,
        &["--format", "json", "--detailed-exitcode", "--out", &out],
    );
    outcome.expect_code(2);
    let plan = outcome.json();
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("the saved plan"))
            .expect("the saved plan is JSON");
    assert_eq!(saved, plan, "--out saves what --format json prints");

    assert_eq!(plan["format_version"], 3);
    assert_matches_plan_schema(&plan);
    assert_eq!(plan["jump_account"], JUMP);
    let changes = plan["changes"].as_array().expect("changes is a list");
    let mut addresses = BTreeSet::new();
    let mut ranks = Vec::new();
    for change in changes {
        let action = change["action"].as_str().expect("action is a string");
        assert!(change["kind"].is_string(), "kind: {change:#}");
        let address = change["address"].as_str().expect("address is a string");
        assert!(addresses.insert(address), "{address} is unique");
        let (before, after) = (&change["before"], &change["after"]);
        match action {
            "create" => assert!(before.is_null() && !after.is_null(), "{change:#}"),
            "update" => assert!(!before.is_null() && !after.is_null(), "{change:#}"),
            "delete" => assert!(!before.is_null() && after.is_null(), "{change:#}"),
            other => panic!("unknown action {other}"),
        }
        ranks.push(stage_rank(change));
    }
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "changes are in the order apply runs them: {:?}",
        changes
            .iter()
            .map(|c| c["address"].as_str().unwrap())
            .collect::<Vec<_>>()
    );

    let find = |address: &str| -> &Value {
        changes
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("{address} in the plan: {plan:#}"))
    };
    let kinds = [
        ("user.ito.mei", "create", "user"),
        (
            "membership.ito.mei/group-developer-payments",
            "create",
            "membership",
        ),
        (
            "stack-instance.iam-roles/210987654322/ap-northeast-1",
            "create",
            "stack-instance",
        ),
        (
            "group-policy.group-developer-payments/assume-role",
            "update",
            "group-policy",
        ),
        ("login-profile.sato.kenji", "delete", "login-profile"),
        (
            "membership.sato.kenji/group-operator-payments",
            "delete",
            "membership",
        ),
        ("user.sato.kenji", "delete", "user"),
    ];
    for (address, action, kind) in kinds {
        let change = find(address);
        assert_eq!(change["action"], action, "{address}");
        assert_eq!(change["kind"], kind, "{address}");
    }
    let count = |action: &str| changes.iter().filter(|c| c["action"] == action).count();
    assert_eq!(plan["summary"]["add"], count("create"));
    assert_eq!(plan["summary"]["change"], count("update"));
    assert_eq!(plan["summary"]["destroy"], count("delete"));
    assert!(count("create") > 0 && count("update") > 0 && count("delete") > 0);

    // The plan applies and the estate converges.
    ws.apply(&emu, &[]).expect_code(0);
    ws.assert_converged(&emu);
}
