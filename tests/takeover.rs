//! Issue #13: taking over a jump account built by hand the way the
//! write-ups of the pattern build it — YAML templates with short-form
//! intrinsics, a StackSet `iam-roles` with its instances, hand-made
//! StackSet role stacks in every target, groups at `/` with customer-managed
//! policies (`policy-enforce-mfa`, `policy-assume-role-<role>`,
//! `policy-assume-<role>-role-<project>`), users with console passwords,
//! and a CI user outside the pattern. import → plan → apply → plan keeps
//! everyone's access, destroys nothing, never creates the StackSet twice,
//! leaves the CI user alone, and ends with an empty plan. Strict test ground on.

mod support;

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use aws_sdk_iam::Client as IamClient;
use serde_json::{Value, json};

use support::by_hand;
use support::emulator::Emulator;
use support::{JUMP, Outcome, Workspace, access_keys, iam, jumpgate, login_profile};

const PROD: &str = "210987654321";
const STG: &str = "210987654322";
const REGION: &str = "ap-northeast-1";
const ROLES: [&str; 3] = ["admin", "developer", "operator"];
const PASSWORD: &str = "Initial-Passw0rd!-0123";

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/hand-built/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parameter(key: &str, value: &str) -> Parameter {
    Parameter::builder()
        .parameter_key(key)
        .parameter_value(value)
        .build()
}

/// `aws cloudformation create-stack --template-body file://NAME …`
async fn create_stack(
    emu: &Emulator,
    cfn: &CfnClient,
    stack: &str,
    template: &str,
    admin: Option<&str>,
) {
    let mut request = cfn
        .create_stack()
        .stack_name(stack)
        .template_body(fixture(template))
        .capabilities(Capability::CapabilityNamedIam);
    if let Some(admin) = admin {
        request = request.parameters(parameter("AdminAccountId", admin));
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateStack {stack}: {e:?}\n{}", emu.log()));
}

/// `aws iam create-policy --policy-name NAME --policy-document …`
async fn create_policy(iam: &IamClient, name: &str, document: Value) -> String {
    iam.create_policy()
        .policy_name(name)
        .policy_document(document.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreatePolicy {name}: {e:?}"))
        .policy
        .and_then(|p| p.arn)
        .expect("a policy ARN")
}

async fn group(iam: &IamClient, name: &str, policies: &[&str]) {
    by_hand::create_group(iam, name).await;
    for arn in policies {
        by_hand::attach_group_policy(iam, name, arn).await;
    }
}

async fn person(iam: &IamClient, name: &str, groups: &[&str]) {
    by_hand::create_user(iam, name).await;
    for g in groups {
        by_hand::add_user_to_group(iam, name, g).await;
    }
    by_hand::create_login_profile(iam, name, PASSWORD).await;
}

fn assume(resource: Value) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": resource,
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        }]
    })
}

/// The estate, built step by step as the write-ups do it with the CLI.
async fn build_by_hand(emu: &Emulator) {
    // 1. The StackSet roles: administration role in the jump account,
    //    execution role in every target (the jump account included).
    let cfn = CfnClient::new(&emu.sdk_config().await);
    create_stack(
        emu,
        &cfn,
        "stackset-admin-role",
        "stackset-admin-role.yaml",
        None,
    )
    .await;
    create_stack(
        emu,
        &cfn,
        "stackset-execution-role",
        "stackset-execution-role.yaml",
        Some(JUMP),
    )
    .await;
    for member in [PROD, STG] {
        let there = CfnClient::new(&emu.sdk_config_for_account(member).await);
        create_stack(
            emu,
            &there,
            "stackset-execution-role",
            "stackset-execution-role.yaml",
            Some(JUMP),
        )
        .await;
    }
    // 2. The switch roles: StackSet iam-roles from the YAML template.
    cfn.create_stack_set()
        .stack_set_name("iam-roles")
        .template_body(fixture("iam-roles.yaml"))
        .parameters(parameter("AdminAccountId", JUMP))
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .expect("CreateStackSet");
    cfn.create_stack_instances()
        .stack_set_name("iam-roles")
        .accounts(JUMP)
        .accounts(PROD)
        .accounts(STG)
        .regions(REGION)
        .send()
        .await
        .expect("CreateStackInstances");

    // 3. Groups at `/` with managed policies, users with passwords.
    let iam = iam(emu).await;
    let mfa = create_policy(
        &iam,
        "policy-enforce-mfa",
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyAllExceptListedIfNoMFA",
                "Effect": "Deny",
                "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser",
                              "iam:ListMFADevices", "iam:ListVirtualMFADevices",
                              "iam:ResyncMFADevice", "sts:GetSessionToken", "iam:ChangePassword"],
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
            }]
        }),
    )
    .await;
    for role in ROLES {
        let global = create_policy(
            &iam,
            &format!("policy-assume-role-{role}"),
            assume(json!(format!("arn:aws:iam::*:role/role-{role}"))),
        )
        .await;
        group(&iam, &format!("group-{role}"), &[&global, &mfa]).await;
        let project = create_policy(
            &iam,
            &format!("policy-assume-{role}-role-project-a"),
            assume(json!([
                format!("arn:aws:iam::{PROD}:role/role-{role}"),
                format!("arn:aws:iam::{STG}:role/role-{role}"),
            ])),
        )
        .await;
        group(&iam, &format!("group-{role}-project-a"), &[&project, &mfa]).await;
    }
    person(&iam, "yamada.taro", &["group-admin"]).await;
    person(&iam, "tanaka.hanako", &["group-operator-project-a"]).await;
    person(
        &iam,
        "sato.jiro",
        &["group-developer-project-a", "group-operator"],
    )
    .await;

    // 4. Outside the pattern: a CI user with a key and a policy of its own.
    by_hand::create_user(&iam, "ci-deploy").await;
    by_hand::create_access_key(&iam, "ci-deploy").await;
    iam.put_user_policy()
        .user_name("ci-deploy")
        .policy_name("deploy")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                   "Action": "s3:PutObject", "Resource": "arn:aws:s3:::artifacts/*"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("PutUserPolicy");
}

/// Calls that would destroy something or reset someone's password.
const DESTRUCTIVE: &[&str] = &[
    "DeleteUser",
    "DeleteLoginProfile",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteAccessKey",
    "DeleteStack",
    "DeleteStackSet",
    "DeleteStackInstances",
    "CreateStackSet",
    "DeleteGroup",
];

/// The estate built by hand on a strict emulator, and `jumpgate import` of
/// it: the emulator, the workspace, the file's path and the import's run.
async fn imported() -> (Emulator, Workspace, String, Outcome) {
    let emu = Emulator::start();
    build_by_hand(&emu).await;
    let ws = Workspace::new();
    let file_arg = ws.path("imported.kdl").display().to_string();
    let import = jumpgate(&emu, &["import", "--out", &file_arg]);
    import.expect_code(0);
    (emu, ws, file_arg, import)
}

#[tokio::test]
async fn a_hand_built_jump_account_is_taken_over_without_anyone_losing_access() {
    // import: the projects and their accounts come from the managed policies.
    let (emu, ws, file_arg, import) = imported().await;
    let text = std::fs::read_to_string(&file_arg).unwrap();
    assert!(text.contains("role \"admin\""), "{text}");
    assert!(
        text.contains(&format!(
            "project \"project-a\" {{\n    account \"account-{PROD}\" id=\"{PROD}\"\n    account \"account-{STG}\" id=\"{STG}\"\n}}"
        )),
        "{text}"
    );
    assert!(
        text.contains("user \"tanaka.hanako\" {\n    access \"operator\" project=\"project-a\"\n}"),
        "{text}"
    );
    assert!(
        text.contains("// Not adopted: ci-deploy has policies of its own (deploy), has 1 access key, is in no group of the jump-account pattern."),
        "{text}"
    );
    assert!(text.contains("// user \"ci-deploy\""), "{text}");
    import.assert_stderr_has("1 user outside the jump-account pattern left unmanaged");

    // plan: adoptions and replacements, nobody's access changes.
    let plan = jumpgate(&emu, &["plan", &file_arg, "--format", "json"])
        .expect_code(0)
        .json();
    assert_eq!(
        plan["access_changes"],
        json!({"users": [], "mfa_enforcement": []}),
        "{plan:#}"
    );
    assert!(plan.get("blockers").is_none(), "{plan:#}");
    assert_eq!(plan["unmanaged_users"], json!(["ci-deploy"]));
    let calls: Vec<String> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["operations"].as_array().unwrap().clone())
        .map(|op| op["call"].as_str().unwrap().to_owned())
        .collect();
    for call in DESTRUCTIVE {
        assert!(
            !calls.iter().any(|c| c == call),
            "{call} planned:\n{plan:#}"
        );
    }
    assert!(calls.iter().any(|c| c == "UpdateStackSet"), "{calls:?}");
    let text_plan = jumpgate(&emu, &["plan", &file_arg])
        .expect_code(0)
        .stdout
        .clone();
    assert!(text_plan.starts_with("Access changes: none"), "{text_plan}");

    // apply, recording every call.
    emu.start_recording();
    jumpgate(
        &emu,
        &[
            "apply",
            &file_arg,
            "--yes",
            "--secrets-dir",
            &ws.secrets_arg(),
        ],
    )
    .expect_code(0);
    emu.stop_recording();
    let log = emu.recording();
    let actions: Vec<String> = log.iter().filter_map(|r| r.action.clone()).collect();
    for call in DESTRUCTIVE {
        assert!(
            !actions.iter().any(|a| a == call),
            "{call} sent: {actions:?}"
        );
    }
    // The only policy deleted is the apply lock.
    for request in log
        .iter()
        .filter(|r| r.action.as_deref() == Some("DeletePolicy"))
    {
        let arn = request.param("PolicyArn").unwrap_or_default();
        assert!(arn.ends_with("/jumpgate/jumpgate-apply-lock"), "{arn}");
    }
    // The bystander was not touched.
    for request in log.iter().filter(|r| r.is_mutating()) {
        assert_ne!(request.param("UserName"), Some("ci-deploy"), "{request:?}");
    }
    // New grants before old ones go: each group's inline policy is put
    // before its hand-made managed policy is detached.
    let position = |action: &str, group: &str| {
        log.iter().position(|r| {
            r.action.as_deref() == Some(action) && r.param("GroupName") == Some(group)
        })
    };
    for role in ROLES {
        for group in [format!("group-{role}"), format!("group-{role}-project-a")] {
            let put = position("PutGroupPolicy", &group)
                .unwrap_or_else(|| panic!("no PutGroupPolicy on {group}"));
            let detach = position("DetachGroupPolicy", &group)
                .unwrap_or_else(|| panic!("no DetachGroupPolicy on {group}"));
            assert!(put < detach, "{group}: {actions:?}");
        }
    }
    // The hand-made MFA policy was adopted, never detached.
    assert!(
        !log.iter()
            .any(|r| r.action.as_deref() == Some("DetachGroupPolicy")
                && r.param("PolicyArn")
                    .is_some_and(|a| a.ends_with("/policy-enforce-mfa"))),
        "{actions:?}"
    );
    let iam = iam(&emu).await;
    for user in ["yamada.taro", "tanaka.hanako", "sato.jiro"] {
        assert!(
            login_profile(&iam, user).await.is_some(),
            "{user}'s password is still there"
        );
    }
    assert_eq!(access_keys(&iam, "ci-deploy").await.len(), 1);

    // The next plan is empty.
    let again = jumpgate(&emu, &["plan", &file_arg, "--detailed-exitcode"]);
    again.expect_code(0);
    again.assert_stdout_has("No changes.");
}

#[tokio::test]
async fn removing_a_projects_account_shows_who_loses_what() {
    let (emu, _ws, file_arg, _) = imported().await;
    let text = std::fs::read_to_string(&file_arg).unwrap();
    let smaller = text.replace(&format!("    account \"account-{STG}\" id=\"{STG}\"\n"), "");
    assert_ne!(smaller, text);
    std::fs::write(&file_arg, smaller).unwrap();
    let plan = jumpgate(&emu, &["plan", &file_arg])
        .expect_code(0)
        .stdout
        .clone();
    let losses: Vec<&str> = plan
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  - "))
        .collect();
    assert_eq!(
        losses,
        [
            format!("  - sato.jiro loses developer in {STG}, had via group-developer-project-a"),
            format!("  - sato.jiro loses operator in {STG}, had via group-operator"),
            format!("  - tanaka.hanako loses operator in {STG}, had via group-operator-project-a"),
            format!("  - yamada.taro loses admin in {STG}, had via group-admin"),
        ],
        "{plan}"
    );
}
