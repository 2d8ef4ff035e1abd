//! Issue #3, acceptance 1 and 2: the repository's `state/` applies to an
//! empty estate, builds everything the contract names, delivers passwords
//! privately, and a second run changes nothing.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use serde_json::{Value, json};

use crate::support::{
    Emulator, JUMP, Workspace, attached_group_policies, changes, decode_document, describe,
    group_policy, groups_of, iam, iam_in, login_profile, mutating, role_names, stack_set,
    stack_status, statements, user_names, user_tags,
};

const ROLES: [&str; 3] = ["admin", "developer", "operator"];
const PROJECTS: [(&str, &[&str]); 2] = [
    ("payments", &["210987654321", "210987654322"]),
    ("analytics", &["310987654321"]),
];
const MEMBER_ACCOUNTS: [&str; 4] = [
    "210987654321",
    "210987654322",
    "310987654321",
    "410987654321",
];
/// Users of `state/users.kdl` and the groups each must be in.
const USERS: [(&str, &[&str]); 7] = [
    ("deploy-bot", &["group-operator-payments"]),
    ("ito.mei", &["group-developer-analytics"]),
    ("kobayashi.yui", &["group-operator"]),
    ("sato.kenji", &["group-operator-payments"]),
    ("suzuki.ichiro", &["group-admin"]),
    (
        "tanaka.hanako",
        &["group-developer-payments", "group-operator-analytics"],
    ),
    ("yamada.taro", &["group-admin"]),
];
/// The one user of `state/` declared with `console=#false`.
const NO_CONSOLE: &str = "deploy-bot";

fn mfa_condition() -> Value {
    json!({"Bool": {"aws:MultiFactorAuthPresent": "true"}})
}

/// A switch role's trust condition: MFA, and the session named after the user.
fn trust_condition() -> Value {
    json!({
        "Bool": {"aws:MultiFactorAuthPresent": "true"},
        "StringEquals": {"sts:RoleSessionName": "${aws:username}"}
    })
}

/// A policy's `Resource` as a sorted list of strings.
fn resources(statement: &Value) -> Vec<String> {
    let mut list: Vec<String> = match &statement["Resource"] {
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap().to_owned())
            .collect(),
        Value::String(one) => vec![one.clone()],
        other => panic!("unexpected Resource {other}"),
    };
    list.sort();
    list
}

#[tokio::test]
async fn state_applies_from_empty_and_builds_the_whole_estate() {
    let emu = Emulator::start();
    let ws = Workspace::with_repo_state();
    ws.bootstrap_members(&emu).await;

    let planned = ws.plan_json(&emu);
    assert!(
        changes(&planned)
            .iter()
            .all(|(action, _)| action == "create"),
        "from empty everything is a creation: {:?}",
        changes(&planned)
    );

    emu.start_recording();
    // -vv: even debug logging must not carry a password.
    let applied = ws.apply(&emu, &["-vv"]);
    applied.expect_code(0);
    emu.stop_recording();
    applied.assert_stdout_has("Apply complete");

    let iam = iam(&emu).await;

    // Groups: one per role, globally and per project, all on jumpgate's path.
    let groups: BTreeMap<String, String> = iam
        .list_groups()
        .send()
        .await
        .expect("ListGroups")
        .groups
        .into_iter()
        .map(|g| (g.group_name, g.path))
        .collect();
    let mut expected_groups: Vec<String> = Vec::new();
    for role in ROLES {
        expected_groups.push(format!("group-{role}"));
        for (project, _) in PROJECTS {
            expected_groups.push(format!("group-{role}-{project}"));
        }
    }
    expected_groups.sort();
    assert_eq!(
        groups.keys().cloned().collect::<Vec<_>>(),
        expected_groups,
        "groups"
    );
    assert!(
        groups.values().all(|path| path == "/jumpgate/"),
        "every group is on /jumpgate/: {groups:?}"
    );

    // Each group's assume-role policy reaches its role where it should, with MFA.
    for role in ROLES {
        let mut expected: Vec<(String, Vec<String>)> = vec![(
            format!("group-{role}"),
            vec![format!("arn:aws:iam::*:role/role-{role}")],
        )];
        for (project, accounts) in PROJECTS {
            let mut arns: Vec<String> = accounts
                .iter()
                .map(|a| format!("arn:aws:iam::{a}:role/role-{role}"))
                .collect();
            arns.sort();
            expected.push((format!("group-{role}-{project}"), arns));
        }
        for (group, arns) in expected {
            let document = group_policy(&iam, &group, "assume-role").await;
            let statements = statements(&document);
            assert_eq!(statements.len(), 1, "{group}: {document}");
            assert_eq!(statements[0]["Effect"], "Allow", "{group}");
            assert_eq!(statements[0]["Action"], "sts:AssumeRole", "{group}");
            assert_eq!(resources(&statements[0]), arns, "{group}");
            assert_eq!(statements[0]["Condition"], mfa_condition(), "{group}");

            assert_eq!(
                attached_group_policies(&iam, &group).await,
                [format!(
                    "arn:aws:iam::{JUMP}:policy/jumpgate/policy-enforce-mfa"
                )],
                "{group}"
            );
        }
    }

    // Users: tagged, in their groups, with a login profile unless console=#false.
    let users = user_names(&iam).await;
    assert_eq!(users, USERS.map(|(u, _)| u.to_owned()), "users");
    for (user, expected_groups) in USERS {
        let tags = user_tags(&iam, user).await;
        assert_eq!(
            tags.get("managed-by").map(String::as_str),
            Some("jumpgate"),
            "{user}: {tags:?}"
        );
        assert_eq!(groups_of(&iam, user).await, expected_groups, "{user}");
        assert_eq!(
            login_profile(&iam, user).await.is_some(),
            user != NO_CONSOLE,
            "{user} has a login profile unless console=#false"
        );
    }

    // The password policy as declared.
    let policy = iam
        .get_account_password_policy()
        .send()
        .await
        .expect("GetAccountPasswordPolicy")
        .password_policy
        .expect("a password policy");
    assert_eq!(policy.minimum_password_length, Some(14));
    assert!(policy.require_symbols && policy.require_numbers);
    assert!(policy.require_uppercase_characters && policy.require_lowercase_characters);
    assert_eq!(policy.max_password_age, Some(90));
    assert_eq!(policy.password_reuse_prevention, Some(24));

    // The StackSet's administration role, and the StackSet with one instance per target.
    assert_eq!(
        stack_status(&emu, "stackset-admin-role").await.as_deref(),
        Some("CREATE_COMPLETE")
    );
    let jump_roles = role_names(&iam).await;
    for role in [
        "AWSCloudFormationStackSetAdministrationRole",
        // The jump account is a target too, so it gets the execution role.
        "AWSCloudFormationStackSetExecutionRole",
    ] {
        assert!(
            jump_roles.contains(&role.to_owned()),
            "{role} in the jump account"
        );
    }
    let set = stack_set(&emu, "iam-roles").await;
    assert_eq!(
        set.permission_model().map(|p| p.as_str()),
        Some("SELF_MANAGED")
    );
    let parameters: Vec<(&str, &str)> = set
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default(),
                p.parameter_value().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(parameters, [("AdminAccountId", JUMP)]);
    let instances: Vec<(String, String)> = emu
        .stack_instances("iam-roles")
        .await
        .into_iter()
        .map(|(account, region, _)| (account, region))
        .collect();
    let mut targets: Vec<&str> = MEMBER_ACCOUNTS.to_vec();
    targets.push(JUMP);
    targets.sort();
    let expected: Vec<(String, String)> = targets
        .iter()
        .map(|a| (a.to_string(), "ap-northeast-1".to_owned()))
        .collect();
    assert_eq!(instances, expected, "one stack instance per target");

    // The roles really are in every target account, trusting the jump account with MFA.
    for account in targets {
        let iam = iam_in(&emu, account).await;
        let roles = iam.list_roles().send().await.expect("ListRoles").roles;
        for role in ROLES {
            let name = format!("role-{role}");
            let found = roles
                .iter()
                .find(|r| r.role_name == name)
                .unwrap_or_else(|| panic!("{name} in {account}"));
            let trust =
                decode_document(found.assume_role_policy_document().expect("a trust policy"));
            let statements = statements(&trust);
            assert!(
                statements.iter().any(|s| s["Effect"] == "Allow"
                    && s["Action"] == "sts:AssumeRole"
                    && s["Principal"]["AWS"]
                        .as_str()
                        .is_some_and(|p| p.contains(JUMP))
                    && s["Condition"] == trust_condition()),
                "{name} in {account} trusts {JUMP} with MFA: {trust}"
            );
        }
    }

    // Secrets: a private file per console user, and nowhere else.
    let recording = emu.recording();
    let mut secret_files: Vec<String> = std::fs::read_dir(ws.secrets())
        .expect("the secrets dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    secret_files.sort();
    let expected_files: Vec<String> = USERS
        .iter()
        .filter(|(u, _)| *u != NO_CONSOLE)
        .map(|(u, _)| format!("{u}.password"))
        .collect();
    assert_eq!(secret_files, expected_files);
    let saved_plan = ws.path("after.json");
    let replanned = ws.plan(
        &emu,
        &["--format", "json", "--out", &ws.path_arg("after.json")],
    );
    replanned.expect_code(0);
    let saved_plan = std::fs::read_to_string(&saved_plan).expect("the saved plan");
    for (user, _) in USERS.iter().filter(|(u, _)| *u != NO_CONSOLE) {
        let file = ws.secrets().join(format!("{user}.password"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} mode", file.display());
        let password = std::fs::read_to_string(&file).unwrap();
        assert!(password.len() >= 14, "{user}: a password of policy length");
        let sent = recording
            .iter()
            .find(|r| {
                r.action.as_deref() == Some("CreateLoginProfile")
                    && r.param("UserName") == Some(user)
            })
            .unwrap_or_else(|| panic!("CreateLoginProfile for {user}"));
        assert_eq!(
            sent.param("Password"),
            Some(password.as_str()),
            "{user}: the file holds the password AWS got"
        );
        assert_eq!(sent.param("PasswordResetRequired"), Some("true"), "{user}");
        for (what, text) in [
            ("apply's stdout", &applied.stdout),
            ("apply's stderr", &applied.stderr),
            ("the JSON plan before", &planned.to_string()),
            ("the JSON plan after", &replanned.stdout),
            ("the saved plan", &saved_plan),
        ] {
            assert!(!text.contains(&password), "{user}'s password is in {what}");
        }
        assert!(
            applied.stdout.contains(&file.display().to_string()),
            "the report says where {user}'s password is"
        );
    }
}

#[tokio::test]
async fn a_second_run_of_state_changes_nothing() {
    let emu = Emulator::start();
    let ws = Workspace::with_repo_state();
    ws.bootstrap_members(&emu).await;
    ws.apply(&emu, &[]).expect_code(0);

    emu.start_recording();
    let replan = ws.plan(&emu, &["--detailed-exitcode"]);
    replan.expect_code(0);
    replan.assert_stdout_has("No changes");
    let again = ws.apply(&emu, &[]);
    again.expect_code(0);
    emu.stop_recording();
    again.assert_stdout_has("No changes");
    let mutations = mutating(&emu);
    assert!(
        mutations.is_empty(),
        "a converged apply sends no mutating request: {:?}",
        describe(&mutations)
    );
    assert!(
        !emu.recording().is_empty(),
        "the recording saw the reads, so it was on"
    );
}
