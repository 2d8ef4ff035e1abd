//! Issue #3, acceptance 4: adding an account to a project adds exactly one
//! stack instance and changes only that project's group policies.

use crate::support::{Emulator, JUMP, Workspace, changes, roles_in};

const NEW_ACCOUNT: &str = "210987654322";

fn estate(payments_accounts: &str) -> String {
    format!(
        r#"
jump-account id="123456789012" region="ap-northeast-1"
project "payments" {{
    account "payments-prod" id="210987654321"
{payments_accounts}}}
project "analytics" {{
    account "analytics-prod" id="310987654321"
}}
account "shared-services" id="410987654321"
user "yamada.taro" {{
    access "admin"
}}
user "tanaka.hanako" {{
    access "developer" project="payments"
    access "operator" project="analytics"
}}
"#
    )
}

#[tokio::test]
async fn adding_an_account_to_a_project_adds_one_instance_and_updates_that_projects_groups() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, &estate("")).await;
    assert!(
        roles_in(&emu, NEW_ACCOUNT).await.is_empty(),
        "the new account starts without roles"
    );

    ws.write_state(&estate(&format!(
        "    account \"payments-stg\" id=\"{NEW_ACCOUNT}\"\n"
    )));
    emu.bootstrap_accounts(JUMP, &[NEW_ACCOUNT]).await;
    let plan = ws.plan_json(&emu);
    let expected: Vec<(String, String)> = [
        (
            "create",
            format!("stack-instance.iam-roles/{NEW_ACCOUNT}/ap-northeast-1"),
        ),
        (
            "update",
            "group-policy.group-admin-payments/assume-role".to_owned(),
        ),
        (
            "update",
            "group-policy.group-developer-payments/assume-role".to_owned(),
        ),
        (
            "update",
            "group-policy.group-operator-payments/assume-role".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_owned(), b))
    .collect();
    let mut planned = changes(&plan);
    // The instance comes first (its stage runs before group policies); the
    // group policies' order among themselves is not part of the contract.
    planned[1..].sort();
    assert_eq!(planned, expected, "{plan:#}");
    let instance = &plan["changes"][0];
    assert_eq!(instance["kind"], "stack-instance");
    assert_eq!(instance["account"], NEW_ACCOUNT);
    for change in &plan["changes"].as_array().unwrap()[1..] {
        assert_eq!(change["kind"], "group-policy");
        let after = change["after"].to_string();
        let before = change["before"].to_string();
        assert!(
            after.contains(NEW_ACCOUNT) && !before.contains(NEW_ACCOUNT),
            "the update adds the new account's role: {change:#}"
        );
    }
    assert_eq!(
        plan["summary"],
        serde_json::json!({"add": 1, "change": 3, "destroy": 0})
    );

    ws.apply(&emu, &[]).expect_code(0);
    assert_eq!(
        roles_in(&emu, NEW_ACCOUNT).await,
        [
            "AWSCloudFormationStackSetExecutionRole",
            "role-admin",
            "role-developer",
            "role-operator"
        ],
        "the roles arrive in the new account (its owner put the execution role there)"
    );
    let instances = emu.stack_instances("iam-roles").await;
    let accounts: Vec<&str> = instances.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        accounts,
        [
            "123456789012",
            "210987654321",
            NEW_ACCOUNT,
            "310987654321",
            "410987654321"
        ]
    );
    ws.assert_converged(&emu);
}
