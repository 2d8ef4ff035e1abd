//! Issue #8: secrets and least privilege. An apply logged at every level
//! (`-vv`, `JUMPGATE_LOG=trace`, the AWS SDK included) never shows an
//! initial password, nor do plan files and the JSON, Markdown and text
//! renderings of plan and drift; password files are owner-only; every
//! switch role in every target account requires MFA; every managed group
//! has the MFA policy; and the StackSet administration and execution roles
//! grant only what deploying the switch roles needs.

mod support;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Output, Stdio};

use serde_json::Value;
use support::emulator::Emulator;

const JUMP: &str = "123456789012";
const TARGETS: [&str; 3] = ["210000000001", "210000000002", "310000000001"];
/// The secret access key jumpgate signs with here (the emulator takes any):
/// it must never be logged either.
const SECRET_KEY: &str = "canary-secret-access-key-0f4c2a";

fn estate(age_recipient: &str) -> String {
    format!(
        r#"jump-account id="{JUMP}" region="ap-northeast-1" {{
    password-policy min-length=20
}}
project "payments" {{
    account "payments-prod" id="{}"
    account "payments-stg" id="{}"
}}
account "shared" id="{}"
user "yamada.taro" {{
    access "admin"
}}
user "tanaka.hanako" {{
    access "developer" project="payments"
}}
user "sato.kenji" age-recipient="{age_recipient}" {{
    access "operator"
}}
user "deploy-bot" console=#false {{
    access "operator" project="payments"
}}
"#,
        TARGETS[0], TARGETS[1], TARGETS[2]
    )
}

/// Runs jumpgate logging everything it can.
fn jumpgate(emu: &Emulator, args: &[&str]) -> Output {
    emu.jumpgate()
        .args(args)
        .arg("-vv")
        .env("JUMPGATE_LOG", "trace")
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("jumpgate runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn decode(document: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    serde_json::from_str(&decoded).expect("a policy document")
}

fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Array(list) => list.clone(),
        one => vec![one.clone()],
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(list) => list.iter().flat_map(strings).collect(),
        Value::String(one) => vec![one.clone()],
        other => vec![other.to_string()],
    }
}

#[tokio::test]
async fn secrets_stay_secret_and_every_role_requires_mfa() {
    let emu = Emulator::start();
    let identity = age::x25519::Identity::generate();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = dir.path().join("estate.kdl");
    let declared = estate(&identity.to_public().to_string());
    std::fs::write(&state, &declared).expect("estate.kdl");
    emu.bootstrap_declared(&declared).await;
    let state = state.display().to_string();
    let secrets = dir.path().join("secrets");
    let secrets_arg = secrets.display().to_string();

    emu.start_recording();
    let applied = jumpgate(
        &emu,
        &["apply", &state, "--yes", "--secrets-dir", &secrets_arg],
    );
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    emu.stop_recording();
    let applied_text = text(&applied);
    assert!(
        applied_text.contains("TRACE") && applied_text.contains("aws_smithy"),
        "trace logging, the AWS SDK's included, was on"
    );

    // The passwords, from where they were delivered.
    let mut passwords = Vec::new();
    for user in ["yamada.taro", "tanaka.hanako"] {
        let file = secrets.join(format!("{user}.password"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        passwords.push((
            user,
            std::fs::read_to_string(&file).expect("a password file"),
        ));
    }
    let age_file = secrets.join("sato.kenji.password.age");
    assert_eq!(mode(&age_file), 0o600);
    let armored = std::fs::read(&age_file).expect("the age file");
    let decryptor =
        age::Decryptor::new(age::armor::ArmoredReader::new(&armored[..])).expect("an age file");
    let mut plain = String::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .expect("decrypts with the user's key")
        .read_to_string(&mut plain)
        .expect("UTF-8");
    passwords.push(("sato.kenji", plain));
    assert_eq!(mode(&secrets), 0o700, "the secrets directory");
    assert!(
        !secrets.join("deploy-bot.password").exists(),
        "console=#false: no password"
    );
    // They are the passwords AWS got (so the checks below are not vacuous).
    let recording = emu.recording();
    for (user, password) in &passwords {
        assert!(password.len() >= 20, "{user}: policy length");
        assert!(
            recording
                .iter()
                .any(|r| r.action.as_deref() == Some("CreateLoginProfile")
                    && r.param("UserName") == Some(user)
                    && r.param("Password") == Some(password.as_str())),
            "{user}: the delivered password is the one AWS got"
        );
    }

    // Every rendering a user or a CI log sees.
    let plan_file = dir.path().join("plan.json");
    let plan_arg = plan_file.display().to_string();
    let mut seen: Vec<(String, String)> = vec![("apply -vv, trace".into(), applied_text)];
    for args in [
        vec!["plan", &state, "--out", &plan_arg],
        vec!["plan", &state, "--format", "json"],
        vec!["plan", &state, "--format", "markdown"],
        vec!["drift", &state, "--format", "json"],
        vec!["drift", &state, "--format", "markdown"],
        vec!["drift", &state],
        vec!["apply", &state, "--yes", "--secrets-dir", &secrets_arg],
        vec!["access", &state, "--live", "--format", "json"],
    ] {
        let output = jumpgate(&emu, &args);
        assert!(
            matches!(output.status.code(), Some(0) | Some(2)),
            "{args:?}: {}",
            text(&output)
        );
        seen.push((args.join(" "), text(&output)));
    }
    seen.push((
        "the saved plan".into(),
        std::fs::read_to_string(&plan_file).expect("the saved plan"),
    ));
    // And a plan that replaces everything: offboarding renders the users' state.
    let offboard = dir.path().join("offboard.kdl");
    std::fs::write(
        &offboard,
        format!("jump-account id=\"{JUMP}\" region=\"ap-northeast-1\"\n"),
    )
    .expect("offboard.kdl");
    for format in ["json", "markdown", "text"] {
        let offboard_arg = offboard.display().to_string();
        let output = jumpgate(&emu, &["plan", &offboard_arg, "--format", format]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        seen.push((format!("offboarding plan ({format})"), text(&output)));
    }
    for (what, output) in &seen {
        assert!(
            !output.contains(SECRET_KEY),
            "the secret access key appears in {what}"
        );
    }
    for (user, password) in &passwords {
        for (what, output) in &seen {
            assert!(
                !output.contains(password.as_str()),
                "{user}'s password appears in {what}"
            );
        }
    }

    // Every switch role in every target requires MFA to be assumed.
    let mut targets: Vec<&str> = TARGETS.to_vec();
    targets.push(JUMP);
    let mut roles_checked = 0;
    for account in targets {
        let iam = aws_sdk_iam::Client::new(&emu.sdk_config_for_account(account).await);
        let roles = iam.list_roles().send().await.expect("ListRoles").roles;
        let switch: Vec<_> = roles
            .iter()
            .filter(|r| r.role_name.starts_with("role-"))
            .collect();
        let names: BTreeSet<&str> = switch.iter().map(|r| r.role_name.as_str()).collect();
        assert_eq!(
            names,
            BTreeSet::from(["role-admin", "role-developer", "role-operator"]),
            "{account}"
        );
        for role in switch {
            let trust = decode(role.assume_role_policy_document().expect("a trust policy"));
            for statement in statements(&trust) {
                if statement["Effect"] == "Allow" {
                    assert_eq!(
                        statement["Condition"]["Bool"]["aws:MultiFactorAuthPresent"], "true",
                        "{} in {account}: {trust}",
                        role.role_name
                    );
                    assert_eq!(
                        strings(&statement["Principal"]["AWS"]),
                        [format!("arn:aws:iam::{JUMP}:root")],
                        "{} in {account} trusts only the jump account",
                        role.role_name
                    );
                }
            }
            roles_checked += 1;
        }
    }

    // Every managed group has the MFA policy.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    let groups = iam
        .list_groups()
        .path_prefix("/jumpgate/")
        .send()
        .await
        .expect("ListGroups")
        .groups;
    assert_eq!(groups.len(), 3 * 2, "3 global and 3 project groups");
    for group in &groups {
        let attached = iam
            .list_attached_group_policies()
            .group_name(&group.group_name)
            .send()
            .await
            .expect("ListAttachedGroupPolicies");
        assert!(
            attached.attached_policies().iter().any(|p| p.policy_arn()
                == Some(&format!(
                    "arn:aws:iam::{JUMP}:policy/jumpgate/policy-enforce-mfa"
                ))),
            "{} has the MFA policy",
            group.group_name
        );
    }
    println!(
        "secrets: {} passwords and the AWS secret key checked against {} outputs (apply -vv with JUMPGATE_LOG=trace, saved plan, plan and drift as text/JSON/Markdown); files 0600 in a 0700 dir; {roles_checked} switch roles require MFA; {} groups have the MFA policy",
        passwords.len(),
        seen.len(),
        groups.len()
    );
}

/// The IAM policies of a template: (resource name, statements).
fn template_policies(template: &Value) -> Vec<(String, Vec<Value>)> {
    template["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Policy")
        .map(|(name, r)| (name.clone(), statements(&r["Properties"]["PolicyDocument"])))
        .collect()
}

#[test]
fn the_stackset_roles_are_least_privilege() {
    use jumpgate::templates::{admin_role, execution_role};

    // The administration role: CloudFormation may assume it, and it may only
    // assume the execution role.
    let admin = admin_role();
    let role = &admin["Resources"]["AdministrationRole"]["Properties"];
    let trust = statements(&role["AssumeRolePolicyDocument"]);
    assert_eq!(trust.len(), 1);
    assert_eq!(
        strings(&trust[0]["Principal"]["Service"]),
        ["cloudformation.amazonaws.com"]
    );
    assert!(role.get("ManagedPolicyArns").is_none(), "no managed policy");
    let policies = template_policies(&admin);
    assert_eq!(policies.len(), 1, "one inline policy");
    for statement in &policies[0].1 {
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(strings(&statement["Action"]), ["sts:AssumeRole"]);
        assert_eq!(
            strings(&statement["Resource"]),
            ["arn:*:iam::*:role/AWSCloudFormationStackSetExecutionRole"]
        );
    }

    // The execution role: only the jump account's administration role may
    // assume it; it manages only the switch roles and StackSet stacks.
    let execution = execution_role();
    let role = &execution["Resources"]["ExecutionRole"]["Properties"];
    let trust = statements(&role["AssumeRolePolicyDocument"]);
    assert_eq!(trust.len(), 1);
    assert_eq!(
        trust[0]["Principal"]["AWS"]["Fn::Sub"],
        "arn:${AWS::Partition}:iam::${AdministratorAccountId}:role/AWSCloudFormationStackSetAdministrationRole"
    );
    assert!(role.get("ManagedPolicyArns").is_none(), "no managed policy");
    let policies = template_policies(&execution);
    assert_eq!(policies.len(), 1, "one inline policy");
    let mut actions = Vec::new();
    for statement in &policies[0].1 {
        assert_eq!(statement["Effect"], "Allow");
        let resource = statement["Resource"]["Fn::Sub"]
            .as_str()
            .expect("one resource, scoped to this account");
        for action in strings(&statement["Action"]) {
            assert!(
                action != "*" && action != "iam:*" && action != "sts:*",
                "no blanket action: {action}"
            );
            if action == "cloudformation:*" {
                // AWS's documented minimum for an execution role, scoped here
                // to the StackSet's own stacks in this account.
                assert_eq!(
                    resource,
                    "arn:${AWS::Partition}:cloudformation:*:${AWS::AccountId}:stack/StackSet-*"
                );
            } else {
                assert!(
                    action.starts_with("iam:") && !action.contains('*'),
                    "{action}"
                );
                assert_eq!(
                    resource, "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/role-*",
                    "IAM actions only on the switch roles"
                );
                assert!(
                    ![
                        "iam:PassRole",
                        "iam:PutRolePolicy",
                        "iam:CreateUser",
                        "iam:CreateAccessKey"
                    ]
                    .contains(&action.as_str()),
                    "{action} is not needed"
                );
            }
            actions.push(action);
        }
    }
    println!(
        "least privilege: administration role: sts:AssumeRole on the execution role only; execution role: {} on role/role-* and StackSet-* stacks of its own account",
        actions.join(", ")
    );
}
