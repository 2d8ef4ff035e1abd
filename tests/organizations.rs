//! Issue #4's acceptance tests: Organizations mode (accounts created from
//! an e-mail, matched by id or e-mail, bootstrapped through the access role)
//! and, without Organizations, `jumpgate bootstrap` with a member account's
//! own credentials. The built binary runs against a local AWS (moto), one
//! emulator per test; what it sent is checked in the request recording.
//!
//! moto limitation met here: CreateAccount always succeeds at once (a
//! duplicate e-mail is accepted and no request ever ends FAILED), so a
//! failed account creation cannot be provoked; the refusals that are real
//! (no organization, not the management account, wrong credentials for
//! `bootstrap`) are tested instead.

mod support;

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_organizations::Client as OrgClient;
use aws_sdk_organizations::types::{CreateAccountState, CreateAccountStatus};
use serde_json::Value;

use support::emulator::RecordedRequest;
use support::fixtures;
use support::{
    Emulator, JUMP, Jumpgate, Outcome, Workspace, actions_named, addresses, assert_nothing_mutated,
    by_hand, decode_document, group_policy, iam, iam_in, jumpgate_with_env, roles_in,
    stack_instance_accounts, user_exists,
};

const EXECUTION_ROLE: &str = "AWSCloudFormationStackSetExecutionRole";
const EXECUTION_ROLE_STACK: &str = "stackset-execution-role";

/// Temporary credentials for one account, as the binary's environment.
struct AccountCredentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
}

/// Credentials whose calls land in `account`, by STS AssumeRole from the
/// default account (moto needs no such role).
async fn credentials_for(emu: &Emulator, account: &str) -> AccountCredentials {
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    let assumed = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/member-admin"))
        .role_session_name("organizations-test")
        .send()
        .await
        .expect("AssumeRole");
    let credentials = assumed.credentials.expect("AssumeRole returns credentials");
    AccountCredentials {
        access_key_id: credentials.access_key_id,
        secret_access_key: credentials.secret_access_key,
        session_token: credentials.session_token,
    }
}

/// `jumpgate ARGS` with `credentials` in its environment instead of the
/// default account's.
fn jumpgate_as(emu: &Emulator, credentials: &AccountCredentials, args: &[&str]) -> Outcome {
    let env = [
        ("AWS_ACCESS_KEY_ID", credentials.access_key_id.as_str()),
        (
            "AWS_SECRET_ACCESS_KEY",
            credentials.secret_access_key.as_str(),
        ),
        ("AWS_SESSION_TOKEN", credentials.session_token.as_str()),
    ];
    jumpgate_with_env(emu, &env, args)
}

/// `bootstrap STATE --account ACCOUNT` as the member account's owner.
fn bootstrap_as(
    emu: &Emulator,
    credentials: &AccountCredentials,
    ws: &Workspace,
    account: &str,
) -> Outcome {
    jumpgate_as(
        emu,
        credentials,
        &["bootstrap", &ws.state_arg(), "--account", account],
    )
}

/// Creates an account in the caller's organization and waits for it, as
/// AWS runs CreateAccount (IN_PROGRESS first); returns its id.
async fn create_account(emu: &Emulator, org: &OrgClient, name: &str, email: &str) -> String {
    create_account_joined(emu, org, name, email, None).await
}

/// `create_account`; with `Some("INVITED")` the strict test ground makes it
/// an account invited into the organization, without an access role.
async fn create_account_joined(
    emu: &Emulator,
    org: &OrgClient,
    name: &str,
    email: &str,
    joined: Option<&str>,
) -> String {
    let request_id = request_account(org, name, email, joined)
        .await
        .id
        .expect("a request id");
    let status = settled(org, &request_id).await;
    assert_eq!(
        status.state,
        Some(CreateAccountState::Succeeded),
        "CreateAccount failed: {status:?}"
    );
    let id = status.account_id.expect("an account id");
    if joined.is_none() {
        wait_until_reachable(emu, &id).await;
    }
    id
}

/// Sends CreateAccount (tagged with how the account joined, if given):
/// the request's first status.
async fn request_account(
    org: &OrgClient,
    name: &str,
    email: &str,
    joined: Option<&str>,
) -> CreateAccountStatus {
    let mut request = org.create_account().account_name(name).email(email);
    if let Some(method) = joined {
        request = request.tags(
            aws_sdk_organizations::types::Tag::builder()
                .key("jumpgate-strict:joined-method")
                .value(method)
                .build()
                .expect("a tag"),
        );
    }
    request
        .send()
        .await
        .expect("CreateAccount")
        .create_account_status
        .expect("a status")
}

/// The status of a CreateAccount request once it is no longer IN_PROGRESS.
async fn settled(org: &OrgClient, request_id: &str) -> CreateAccountStatus {
    loop {
        let status = account_status(org, request_id).await;
        if status.state != Some(CreateAccountState::InProgress) {
            return status;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Asserts that AssumeRole was refused with AccessDenied.
#[track_caller]
fn assert_access_denied<R>(
    err: aws_sdk_sts::error::SdkError<aws_sdk_sts::operation::assume_role::AssumeRoleError, R>,
) {
    assert_eq!(
        err.as_service_error().and_then(|e| e.meta().code()),
        Some("AccessDenied")
    );
}

/// The state of a CreateAccount request.
async fn account_status(org: &OrgClient, request_id: &str) -> CreateAccountStatus {
    org.describe_create_account_status()
        .create_account_request_id(request_id)
        .send()
        .await
        .expect("DescribeCreateAccountStatus")
        .create_account_status
        .expect("a status")
}

/// Waits until the new account's access role can be assumed, as for an
/// account created a while ago.
async fn wait_until_reachable(emu: &Emulator, id: &str) {
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);
    for _ in 0..50 {
        let assumed = sts
            .assume_role()
            .role_arn(format!(
                "arn:aws:iam::{id}:role/OrganizationAccountAccessRole"
            ))
            .role_session_name("organizations-test")
            .send()
            .await;
        if assumed.is_ok() {
            return;
        }
    }
    panic!("account {id} never became reachable");
}

/// The organization's accounts as (e-mail, id).
async fn org_accounts(org: &OrgClient) -> Vec<(String, String)> {
    org.list_accounts()
        .send()
        .await
        .expect("ListAccounts")
        .accounts
        .unwrap_or_default()
        .into_iter()
        .map(|a| (a.email.unwrap_or_default(), a.id.unwrap_or_default()))
        .collect()
}

/// Whether the execution-role stack exists in `account`, looked up with
/// credentials for that account.
async fn has_execution_stack(emu: &Emulator, account: &str) -> bool {
    let cfn = CfnClient::new(&emu.sdk_config_for_account(account).await);
    match cfn
        .describe_stacks()
        .stack_name(EXECUTION_ROLE_STACK)
        .send()
        .await
    {
        Ok(out) => out
            .stacks()
            .iter()
            .any(|s| s.stack_name() == Some(EXECUTION_ROLE_STACK)),
        Err(err) => {
            let text = format!("{:?}", err.into_service_error());
            assert!(
                text.contains("does not exist"),
                "DescribeStacks in {account}: {text}"
            );
            false
        }
    }
}

/// The role ARNs assumed in the recording.
fn assumed_roles(recording: &[RecordedRequest]) -> Vec<String> {
    actions_named(recording, "AssumeRole")
        .into_iter()
        .filter_map(|r| r.param("RoleArn").map(str::to_owned))
        .collect()
}

/// A top-level list of a JSON plan, empty when left out.
fn list<'p>(plan: &'p Value, key: &str) -> &'p [Value] {
    plan[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

#[tokio::test]
async fn three_accounts_given_by_email_are_created_bootstrapped_and_given_their_roles_in_one_apply()
{
    let emu = Emulator::start();
    let org = by_hand::organization(&emu).await;
    let ws = Workspace::with_state(fixtures::new_accounts!());

    emu.start_recording();
    let applied = ws.apply(&emu, &[]).expect_code(0).stdout.clone();
    emu.stop_recording();
    let recording = emu.recording();
    let created = actions_named(&recording, "CreateAccount");
    assert_eq!(created.len(), 3, "one CreateAccount per new account");
    for email in [
        "me+aws-sandbox@example.com",
        "me+aws-dev@example.com",
        "me+aws-prod@example.com",
    ] {
        assert!(
            created.iter().any(|r| r.body.contains(email)),
            "CreateAccount for {email}: {:?}",
            created.iter().map(|r| &r.body).collect::<Vec<_>>()
        );
    }

    let accounts = org_accounts(&org).await;
    let id_of = |email: &str| {
        accounts
            .iter()
            .find(|(e, _)| e == email)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("no account {email} in the organization: {accounts:?}"))
    };
    let new_accounts = [
        ("sandbox", id_of("me+aws-sandbox@example.com")),
        ("dev", id_of("me+aws-dev@example.com")),
        ("prod", id_of("me+aws-prod@example.com")),
    ];
    assert_eq!(
        accounts.len(),
        4,
        "the management account and three new ones"
    );

    let assumed = assumed_roles(&recording);
    let first_instances = recording
        .iter()
        .position(|r| {
            r.action.as_deref() == Some("CreateStackInstances")
                && new_accounts
                    .iter()
                    .any(|(_, id)| r.body.contains(id.as_str()))
        })
        .expect("stack instances for the new accounts are created");
    for (name, id) in &new_accounts {
        assert!(
            applied.contains(&format!("Account {name} is {id}")),
            "the apply names {name}'s new id {id}:\n{applied}"
        );
        assert!(
            assumed.contains(&format!(
                "arn:aws:iam::{id}:role/OrganizationAccountAccessRole"
            )),
            "{name} is reached through the access role: {assumed:?}"
        );
        assert!(
            has_execution_stack(&emu, id).await,
            "{name} ({id}) has the {EXECUTION_ROLE_STACK} stack"
        );
        assert_eq!(
            roles_in(&emu, id).await,
            [
                EXECUTION_ROLE,
                "OrganizationAccountAccessRole",
                "role-admin",
                "role-developer",
                "role-operator"
            ],
            "{name} ({id}) ends with its roles"
        );
    }
    // The execution role goes in before the StackSet needs it.
    let execution_stacks: Vec<usize> = recording
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.action.as_deref() == Some("CreateStack")
                && r.param("StackName") == Some(EXECUTION_ROLE_STACK)
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        execution_stacks.len(),
        4,
        "the jump account and three new ones"
    );
    assert!(
        execution_stacks.iter().all(|&i| i < first_instances),
        "every execution-role stack precedes the new accounts' stack instances"
    );
    let mut expected_instances: Vec<String> =
        new_accounts.iter().map(|(_, id)| id.clone()).collect();
    expected_instances.push(JUMP.to_owned());
    expected_instances.sort();
    assert_eq!(
        stack_instance_accounts(&emu, "iam-roles").await,
        expected_instances
    );

    // The new ids are used in the project's group policy.
    let document = group_policy(&iam(&emu).await, "group-developer-apps", "assume-role")
        .await
        .to_string();
    for (name, id) in &new_accounts[1..] {
        assert!(
            document.contains(&format!("arn:aws:iam::{id}:role/role-developer")),
            "group-developer-apps may assume role-developer in {name} ({id}): {document}"
        );
    }
    assert!(
        !document.contains(new_accounts[0].1.as_str()),
        "sandbox is in no project: {document}"
    );

    ws.assert_converged(&emu);
    emu.clear_recording();
    emu.start_recording();
    let again = ws.apply(&emu, &[]);
    emu.stop_recording();
    again.expect_code(0);
    assert!(
        again.stdout.contains("No changes"),
        "the second apply has nothing to do: {}",
        again.stdout
    );
    assert!(actions_named(&emu.recording(), "CreateAccount").is_empty());
    assert_nothing_mutated(&emu, "the second apply");
}

/// An estate in the organization: these `account` lines, and `me` as admin.
fn in_organization(accounts: &str) -> String {
    format!(
        r#"
jump-account id="123456789012" region="ap-northeast-1"
organization
{accounts}user "me" {{
    access "admin"
}}
"#
    )
}

#[tokio::test]
async fn accounts_already_in_the_organization_are_matched_and_others_left_alone() {
    let emu = Emulator::start();
    let org = by_hand::organization(&emu).await;
    let legacy = create_account(&emu, &org, "legacy", "ops+legacy@example.com").await;
    let existing = create_account(&emu, &org, "existing", "ops+existing@example.com").await;
    let stray = create_account(&emu, &org, "stray", "ops+stray@example.com").await;
    // Declared by id but in no organization: jumpgate has no way in there;
    // its owner put the execution role there.
    let outsider = "210987654321";
    emu.bootstrap_accounts(JUMP, &[outsider]).await;
    let ws = Workspace::with_state(&in_organization(&format!(
        r#"account "legacy" id="{legacy}"
account "existing" email="ops+existing@example.com"
account "outsider" id="{outsider}"
"#
    )));

    emu.start_recording();
    let plan = ws.plan_json(&emu);
    emu.stop_recording();
    let planned = addresses(&plan);
    assert!(
        !planned.iter().any(|a| a.starts_with("account.")),
        "no account is created: {planned:?}"
    );
    for id in [&legacy, &existing] {
        assert!(
            planned.contains(&format!("stack.{EXECUTION_ROLE_STACK}/{id}")),
            "{id} is bootstrapped through the access role: {planned:?}"
        );
        assert!(
            planned.contains(&format!("stack-instance.iam-roles/{id}/ap-northeast-1")),
            "{id} gets its stack instance: {planned:?}"
        );
    }
    assert!(
        !planned.iter().any(|a| a.contains(stray.as_str())),
        "nothing is planned in the account absent from the file: {planned:?}"
    );
    let warnings: Vec<&str> = list(&plan, "warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(stray.as_str()) && w.contains("never closes")),
        "the account absent from the file is reported: {warnings:?}"
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains(&legacy) || w.contains(&existing)),
        "matched accounts raise no warning: {warnings:?}"
    );
    // The outsider has no access role to assume: it is named for
    // `jumpgate bootstrap` instead of being planned through the access role.
    assert!(
        !planned.contains(&format!("stack.{EXECUTION_ROLE_STACK}/{outsider}")),
        "an account outside the organization is not bootstrapped through the access role: {planned:?}"
    );
    assert!(
        list(&plan, "bootstrap_needed")
            .iter()
            .any(|h| h["account_id"] == outsider),
        "the account outside the organization needs `jumpgate bootstrap`: {plan:#}"
    );
    let assumed = assumed_roles(&emu.recording());
    assert!(
        !assumed
            .iter()
            .any(|arn| arn.contains(outsider) || arn.contains(stray.as_str())),
        "the plan reaches into neither the outsider nor the stray account: {assumed:?}"
    );

    emu.clear_recording();
    emu.start_recording();
    ws.apply(&emu, &[]).expect_code(0);
    emu.stop_recording();
    let recording = emu.recording();
    assert!(actions_named(&recording, "CreateAccount").is_empty());
    let assumed = assumed_roles(&recording);
    assert!(
        !assumed.iter().any(|arn| arn.contains(stray.as_str())),
        "the stray account is not touched: {assumed:?}"
    );
    for id in [&legacy, &existing] {
        assert!(
            has_execution_stack(&emu, id).await,
            "{id} has the execution role stack"
        );
        assert!(
            roles_in(&emu, id).await.contains(&"role-admin".to_owned()),
            "{id} has role-admin"
        );
    }
    assert!(
        !stack_instance_accounts(&emu, "iam-roles")
            .await
            .contains(&stray)
    );
    assert_eq!(
        roles_in(&emu, &stray).await,
        ["OrganizationAccountAccessRole"],
        "the stray account is left as it was"
    );
    assert_eq!(
        org_accounts(&org).await.len(),
        4,
        "no account created or closed"
    );

    ws.assert_converged(&emu);
}

#[tokio::test]
async fn organizations_mode_needs_the_management_account() {
    let emu = Emulator::start();
    // The organization belongs to another account; the jump account is a member.
    let management = "111111111111";
    let org = OrgClient::new(&emu.sdk_config_for_account(management).await);
    by_hand::create_organization(&org).await;
    let member = create_account(&emu, &org, "member", "ops+member@example.com").await;
    let ws = Workspace::with_state(&format!(
        r#"
jump-account id="{member}" region="ap-northeast-1"
organization
account "sandbox" email="ops+sandbox@example.com"
user "me" {{
    access "admin"
}}
"#
    ));
    let credentials = credentials_for(&emu, &member).await;
    let state = ws.state_arg();
    let secrets = ws.secrets_arg();
    emu.start_recording();
    let plan = jumpgate_as(&emu, &credentials, &["plan", &state]);
    let apply = jumpgate_as(
        &emu,
        &credentials,
        &["apply", &state, "--yes", "--secrets-dir", &secrets],
    );
    emu.stop_recording();
    for outcome in [&plan, &apply] {
        outcome.expect_code(1);
        assert!(
            outcome.stderr.contains("management account")
                && outcome.stderr.contains(management)
                && outcome.stderr.contains(member.as_str()),
            "`jumpgate {}` says the jump account must be the management account, naming both: {}",
            outcome.args[0],
            outcome.stderr
        );
    }
    assert_nothing_mutated(&emu, "a refused Organizations apply");
    assert_eq!(org_accounts(&org).await.len(), 2, "no account created");
}

#[tokio::test]
async fn organizations_mode_without_an_organization_is_refused() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(fixtures::new_accounts!());
    emu.start_recording();
    let plan = ws.run(&emu, "plan", &[]);
    let apply = ws.apply(&emu, &[]);
    emu.stop_recording();
    for outcome in [&plan, &apply] {
        outcome.expect_code(1);
        assert!(
            outcome.stderr.contains("`organization`")
                && outcome.stderr.contains("in no AWS organization")
                && outcome.stderr.contains(JUMP),
            "`jumpgate {}` says there is no organization: {}",
            outcome.args[0],
            outcome.stderr
        );
    }
    assert_nothing_mutated(&emu, "a refused apply without an organization");
}

const WITHOUT_ORGANIZATIONS: &str = concat!(
    fixtures::payments_head!(),
    r#"account "analytics" id="310987654321"
user "me" {
    access "admin"
}
"#
);

#[tokio::test]
async fn without_organizations_bootstrap_uses_the_members_own_credentials_and_plan_names_who_needs_it()
 {
    let emu = Emulator::start();
    let payments = "210987654321";
    let analytics = "310987654321";
    let ws = Workspace::with_state(WITHOUT_ORGANIZATIONS);
    let state = ws.state_arg();

    let text = ws.run(&emu, "plan", &[]).expect_code(0).stdout.clone();
    let plan = ws.plan_json(&emu);
    let hints = list(&plan, "bootstrap_needed");
    assert_eq!(hints.len(), 2, "{plan:#}");
    for (name, id) in [("payments-prod", payments), ("analytics", analytics)] {
        let hint = hints
            .iter()
            .find(|h| h["account"] == name)
            .unwrap_or_else(|| panic!("{name} needs bootstrap: {hints:?}"));
        assert_eq!(hint["account_id"], id);
        let command = hint["command"].as_str().expect("a command");
        assert!(
            command.starts_with("jumpgate bootstrap ")
                && command.contains(&format!("--account {name}")),
            "the exact command for {name}: {command}"
        );
        assert!(
            command.contains(&state),
            "the command reads the same state as the plan ({state}): {command}"
        );
        assert!(
            text.contains(&format!("{name} ({id}): {command}")),
            "the text plan names {name} with its command:\n{text}"
        );
    }

    // With the jump account's credentials: refused, naming both accounts.
    emu.start_recording();
    let refused = ws.run(&emu, "bootstrap", &["--account", "payments-prod"]);
    emu.stop_recording();
    refused.expect_code(1);
    assert!(
        refused.stderr.contains(JUMP)
            && refused.stderr.contains(payments)
            && refused.stderr.contains("payments-prod"),
        "the refusal names both accounts: {}",
        refused.stderr
    );
    assert_nothing_mutated(&emu, "a refused bootstrap");
    assert!(!has_execution_stack(&emu, payments).await);

    // With payments-prod's own credentials.
    let credentials = credentials_for(&emu, payments).await;
    let done = bootstrap_as(&emu, &credentials, &ws, "payments-prod");
    done.expect_code(0);
    assert!(
        done.stdout
            .contains("payments-prod (210987654321) has the StackSet execution role")
            && done.stdout.contains(JUMP),
        "{}",
        format!("{}\n{}", done.stdout, done.stderr)
    );
    assert!(has_execution_stack(&emu, payments).await);
    assert!(
        roles_in(&emu, payments)
            .await
            .contains(&EXECUTION_ROLE.to_owned()),
        "the execution role exists in payments-prod"
    );
    let trust = iam_in(&emu, payments)
        .await
        .get_role()
        .role_name(EXECUTION_ROLE)
        .send()
        .await
        .expect("GetRole")
        .role
        .and_then(|r| r.assume_role_policy_document)
        .expect("a trust policy");
    assert!(
        decode_document(&trust).to_string().contains(JUMP),
        "the execution role trusts the jump account: {trust}"
    );
    assert!(
        !has_execution_stack(&emu, analytics).await,
        "the other member is untouched"
    );

    // Twice: nothing to do, nothing sent.
    emu.clear_recording();
    emu.start_recording();
    let again = bootstrap_as(&emu, &credentials, &ws, "payments-prod");
    emu.stop_recording();
    again.expect_code(0);
    assert!(
        again.stdout.contains("nothing to do"),
        "{}",
        format!("{}\n{}", again.stdout, again.stderr)
    );
    assert_nothing_mutated(&emu, "a second bootstrap");

    // analytics has no execution role yet: its instance fails, as on AWS,
    // and apply says so by account and AWS's reason, and exits 1; the
    // other accounts and everything after the instances are done.
    let failed = ws.apply(&emu, &[]);
    failed.expect_code(1);
    let failure_line = failed
        .stdout
        .lines()
        .find(|l| l.contains(&format!("stack-instance.iam-roles/{analytics}/")))
        .unwrap_or_else(|| panic!("the failed instance is named:\n{}", failed.stdout));
    assert!(
        failure_line.contains("should have 'AWSCloudFormationStackSetExecutionRole' role"),
        "with AWS's reason: {failure_line}"
    );
    assert!(
        !failed
            .stdout
            .contains(&format!("stack-instance.iam-roles/{payments}/")),
        "payments-prod succeeded: {}",
        failed.stdout
    );
    assert!(
        roles_in(&emu, payments)
            .await
            .contains(&"role-admin".to_owned()),
        "the roles reached payments-prod"
    );
    assert!(
        user_exists(&iam(&emu).await, "me").await,
        "later stages ran"
    );
    // The next plan repairs it, and names the account that needs bootstrap.
    let plan = ws.plan_json(&emu);
    assert_eq!(
        support::changes(&plan),
        [(
            "update".to_owned(),
            format!("stack-instance.iam-roles/{analytics}/ap-northeast-1")
        )]
    );
    let hints: Vec<&str> = list(&plan, "bootstrap_needed")
        .iter()
        .filter_map(|h| h["account_id"].as_str())
        .collect();
    assert_eq!(hints, [analytics]);
    let drift = ws.run(&emu, "drift", &[]);
    drift.expect_code(2);
    assert!(
        drift.stdout.contains(&format!(
            "the roles in account {analytics} are OUTDATED since a StackSet operation failed there"
        )),
        "drift reports the failed instance:\n{}",
        drift.stdout
    );

    // After analytics' owner bootstraps it, one apply repairs the instance
    // and the plan after that is empty.
    let analytics_credentials = credentials_for(&emu, analytics).await;
    bootstrap_as(&emu, &analytics_credentials, &ws, "analytics").expect_code(0);
    ws.apply(&emu, &[]).expect_code(0);
    let plan = ws.plan_json(&emu);
    assert!(
        list(&plan, "bootstrap_needed").is_empty(),
        "after apply no account needs bootstrap: {plan:#}"
    );
    assert_eq!(
        stack_instance_accounts(&emu, "iam-roles").await,
        [JUMP, payments, analytics]
    );
    assert!(
        roles_in(&emu, analytics)
            .await
            .contains(&"role-admin".to_owned()),
        "the roles reached analytics"
    );
    ws.assert_converged(&emu);
}

#[test]
fn templates_writes_the_three_templates_as_json() {
    let ws = Workspace::with_state(
        r#"
jump-account id="123456789012" region="ap-northeast-1"
role "admin" policy="arn:aws:iam::aws:policy/AdministratorAccess"
role "billing" policy="arn:aws:iam::aws:policy/job-function/Billing"
account "sandbox" id="210987654321"
user "me" {
    access "admin"
}
"#,
    );
    let out = ws.path("templates");
    let written = Jumpgate::local()
        .arg("templates")
        .arg(ws.state())
        .arg("--out")
        .arg(&out)
        .run();
    written.expect_code(0);
    let resources = |file: &str| -> Vec<(String, String, Option<String>)> {
        let text = std::fs::read_to_string(out.join(file))
            .unwrap_or_else(|e| panic!("{file} is written: {e}"));
        let template: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file} is JSON: {e}"));
        assert!(template["AWSTemplateFormatVersion"].is_string(), "{file}");
        let mut found: Vec<_> = template["Resources"]
            .as_object()
            .unwrap_or_else(|| panic!("{file} has Resources"))
            .iter()
            .map(|(key, r)| {
                (
                    key.clone(),
                    r["Type"].as_str().unwrap_or_default().to_owned(),
                    r["Properties"]["RoleName"].as_str().map(str::to_owned),
                )
            })
            .collect();
        found.sort();
        found
    };
    let role = |name: &str| Some(name.to_owned());
    let stdout = &written.stdout;
    for file in [
        "stackset-admin-role.json",
        "stackset-execution-role.json",
        "iam-roles.json",
    ] {
        assert!(stdout.contains(file), "{file} is listed: {stdout}");
    }
    let admin = resources("stackset-admin-role.json");
    assert!(
        admin.iter().any(|r| r.1 == "AWS::IAM::Role"
            && r.2 == role("AWSCloudFormationStackSetAdministrationRole")),
        "{admin:?}"
    );
    let execution = resources("stackset-execution-role.json");
    assert!(
        execution
            .iter()
            .any(|r| r.1 == "AWS::IAM::Role" && r.2 == role(EXECUTION_ROLE)),
        "{execution:?}"
    );
    let roles: Vec<Option<String>> = resources("iam-roles.json")
        .into_iter()
        .filter(|r| r.1 == "AWS::IAM::Role")
        .map(|r| r.2)
        .collect();
    assert_eq!(
        roles,
        [role("role-admin"), role("role-billing")],
        "one role per declared role"
    );
}

/// The strict test ground's Organizations rules, each firing, and absent
/// from plain moto.
#[tokio::test]
async fn create_account_runs_as_aws_runs_it_in_the_strict_test_ground() {
    let emu = Emulator::start();
    let org = by_hand::organization(&emu).await;
    let sts = aws_sdk_sts::Client::new(&emu.sdk_config().await);

    // IN_PROGRESS first, with no account id and no account listed yet.
    let started = request_account(&org, "fresh", "me+fresh@example.com", None).await;
    assert_eq!(started.state, Some(CreateAccountState::InProgress));
    assert!(started.account_id.is_none());
    let request_id = started.id.expect("a request id");
    let first = account_status(&org, &request_id).await;
    assert_eq!(first.state, Some(CreateAccountState::InProgress));
    assert_eq!(
        org_accounts(&org).await.len(),
        1,
        "only the management account"
    );

    // Then SUCCEEDED; the access role is still refused for a while.
    let done = settled(&org, &request_id).await;
    assert_eq!(done.state, Some(CreateAccountState::Succeeded));
    let id = done.account_id.expect("an account id");
    let access_role = format!("arn:aws:iam::{id}:role/OrganizationAccountAccessRole");
    let assume = || {
        sts.assume_role()
            .role_arn(&access_role)
            .role_session_name("strict-test")
            .send()
    };
    assert_access_denied(
        assume()
            .await
            .expect_err("a new account is not reachable at once"),
    );
    let mut attempts = 1;
    while assume().await.is_err() {
        attempts += 1;
        assert!(attempts < 10, "the access role becomes usable");
    }

    // A repeated e-mail ends FAILED with EMAIL_ALREADY_EXISTS.
    let repeated = request_account(&org, "again", "ME+fresh@example.com", None)
        .await
        .id
        .expect("a request id");
    let failed = settled(&org, &repeated).await;
    assert_eq!(failed.state, Some(CreateAccountState::Failed));
    assert_eq!(
        failed.failure_reason.as_ref().map(|r| r.as_str()),
        Some("EMAIL_ALREADY_EXISTS")
    );

    // An invited account has no access role at all.
    let invited = create_account_joined(
        &emu,
        &org,
        "invited",
        "me+invited@example.com",
        Some("INVITED"),
    )
    .await;
    assert_access_denied(
        sts.assume_role()
            .role_arn(format!(
                "arn:aws:iam::{invited}:role/OrganizationAccountAccessRole"
            ))
            .role_session_name("strict-test")
            .send()
            .await
            .expect_err("an invited account has no access role"),
    );

    // Plain moto: done at once, reachable at once.
    let lax = Emulator::start_with(support::emulator::EmulatorOptions::lax());
    let org = by_hand::organization(&lax).await;
    let status = request_account(&org, "fresh", "me+fresh@example.com", None).await;
    assert_eq!(status.state, Some(CreateAccountState::Succeeded));
}

#[tokio::test]
async fn an_invited_member_is_named_for_bootstrap_and_the_plan_does_not_fail() {
    let emu = Emulator::start();
    let org = by_hand::organization(&emu).await;
    let created = create_account(&emu, &org, "created", "ops+created@example.com").await;
    let invited = create_account_joined(
        &emu,
        &org,
        "invited",
        "ops+invited@example.com",
        Some("INVITED"),
    )
    .await;
    let ws = Workspace::with_state(&in_organization(&format!(
        r#"account "created" id="{created}"
account "invited" id="{invited}"
"#
    )));

    let plan = ws.plan_json(&emu);
    let planned = addresses(&plan);
    assert!(
        planned.contains(&format!("stack.{EXECUTION_ROLE_STACK}/{created}")),
        "the created member is bootstrapped through the access role: {planned:?}"
    );
    assert!(
        !planned.contains(&format!("stack.{EXECUTION_ROLE_STACK}/{invited}")),
        "the invited one cannot be: {planned:?}"
    );
    let hints: Vec<&str> = list(&plan, "bootstrap_needed")
        .iter()
        .filter_map(|h| h["account_id"].as_str())
        .collect();
    assert_eq!(hints, [invited.as_str()]);
    assert!(
        list(&plan, "warnings")
            .iter()
            .filter_map(Value::as_str)
            .any(|w| w.contains(&invited) && w.contains("cannot be assumed")),
        "{plan:#}"
    );

    // Its instance fails until its owner bootstraps it; then apply finishes.
    let failed = ws.apply(&emu, &[]);
    failed.expect_code(1);
    failed.assert_stdout_has(&format!(
        "stack-instance.iam-roles/{invited}/ap-northeast-1"
    ));
    let credentials = credentials_for(&emu, &invited).await;
    bootstrap_as(&emu, &credentials, &ws, "invited").expect_code(0);
    ws.apply(&emu, &[]).expect_code(0);
    ws.assert_converged(&emu);
}
