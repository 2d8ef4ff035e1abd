//! Issue #11's acceptance tests: StackSets as AWS runs them. The strict test
//! ground (tests/support/strict/rules_cloudformation.py) keeps operations
//! RUNNING for a while, refuses a second one, fails instances in accounts
//! without a usable execution role, and follows the failure tolerance; these
//! tests show each rule firing and what jumpgate does about it.

mod support;

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{StackSetOperationPreferences, StackSetOperationStatus};
use serde_json::json;

use support::emulator::REGION;
use support::{
    Emulator, EmulatorOptions, JUMP, Workspace, addresses, changes, iam, iam_in, jumpgate,
    role_names, roles_in, stack_status, user_exists,
};

const MEMBER_A: &str = "210987654321";
const MEMBER_B: &str = "310987654321";
const MEMBER_C: &str = "410987654321";

/// A template with one role per name, trusting the jump account.
fn template(roles: &[&str]) -> String {
    let resources: serde_json::Map<String, serde_json::Value> = roles
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                format!("Role{i}"),
                json!({
                    "Type": "AWS::IAM::Role",
                    "Properties": {
                        "RoleName": name,
                        "AssumeRolePolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [{
                                "Effect": "Allow",
                                "Principal": {"AWS": format!("arn:aws:iam::{JUMP}:root")},
                                "Action": "sts:AssumeRole"
                            }]
                        }
                    }
                }),
            )
        })
        .collect();
    json!({"Resources": resources}).to_string()
}

/// The StackSet `probe`, which makes the role `role-probe`.
async fn create_probe(cfn: &CfnClient) {
    cfn.create_stack_set()
        .stack_set_name("probe")
        .template_body(template(&["role-probe"]))
        .send()
        .await
        .expect("CreateStackSet");
}

/// The administration role in the jump account, as `stackset-admin-role` makes it.
async fn administration_role(emu: &Emulator) {
    aws_sdk_iam::Client::new(&emu.sdk_config().await)
        .create_role()
        .role_name("AWSCloudFormationStackSetAdministrationRole")
        .assume_role_policy_document(
            json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudformation.amazonaws.com"},
                    "Action": "sts:AssumeRole"
                }]
            })
            .to_string(),
        )
        .send()
        .await
        .expect("CreateRole");
}

fn preferences(tolerance: i32) -> StackSetOperationPreferences {
    StackSetOperationPreferences::builder()
        .max_concurrent_percentage(100)
        .failure_tolerance_percentage(tolerance)
        .build()
}

/// Polls an operation to its end, counting the OperationNotFound and
/// RUNNING answers on the way.
async fn wait(
    cfn: &CfnClient,
    stack_set: &str,
    id: &str,
) -> (StackSetOperationStatus, i32, usize, usize) {
    let (mut not_found, mut running) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "operation {id} never ended");
        match cfn
            .describe_stack_set_operation()
            .stack_set_name(stack_set)
            .operation_id(id)
            .send()
            .await
        {
            Err(err) if err.code() == Some("OperationNotFoundException") => not_found += 1,
            Err(err) => panic!("DescribeStackSetOperation: {err:?}"),
            Ok(out) => {
                let operation = out.stack_set_operation.expect("an operation");
                match operation.status.clone().expect("a status") {
                    StackSetOperationStatus::Running => running += 1,
                    status => {
                        let failed = operation
                            .status_details
                            .and_then(|d| d.failed_stack_instances_count)
                            .unwrap_or(0);
                        return (status, failed, not_found, running);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Every page of the operation's results, as (account, status, reason).
async fn results(
    cfn: &CfnClient,
    stack_set: &str,
    id: &str,
) -> (Vec<(String, String, String)>, usize) {
    let (mut all, mut pages) = (Vec::new(), 0);
    let mut token = None;
    loop {
        let page = cfn
            .list_stack_set_operation_results()
            .stack_set_name(stack_set)
            .operation_id(id)
            .set_next_token(token)
            .send()
            .await
            .expect("ListStackSetOperationResults");
        pages += 1;
        all.extend(page.summaries().iter().map(|s| {
            (
                s.account().unwrap_or_default().to_owned(),
                s.status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                s.status_reason().unwrap_or_default().to_owned(),
            )
        }));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    all.sort();
    (all, pages)
}

#[tokio::test]
async fn the_strict_test_ground_runs_stack_set_operations_as_aws_does() {
    // Long enough to see RUNNING on a loaded machine.
    let emu = Emulator::start_with_knobs(&[("STACKSET_OPERATION_SECONDS", "1")]);
    let cfn = CfnClient::new(&emu.sdk_config().await);
    administration_role(&emu).await;
    // A: usable execution role. B: none. C: the role, but also a role of
    // the name the template makes.
    emu.bootstrap_accounts(JUMP, &[MEMBER_A, MEMBER_C]).await;
    iam_in(&emu, MEMBER_C)
        .await
        .create_role()
        .role_name("role-probe")
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .expect("CreateRole");

    create_probe(&cfn).await;
    let duplicate = cfn
        .create_stack_set()
        .stack_set_name("probe")
        .template_body(template(&["role-probe"]))
        .send()
        .await
        .expect_err("a name in use");
    assert_eq!(duplicate.code(), Some("NameAlreadyExistsException"));

    let started = cfn
        .create_stack_instances()
        .stack_set_name("probe")
        .accounts(MEMBER_A)
        .accounts(MEMBER_B)
        .accounts(MEMBER_C)
        .regions(REGION)
        .operation_preferences(preferences(100))
        .send()
        .await
        .expect("CreateStackInstances");
    let id = started.operation_id().expect("an operation id").to_owned();
    let second = cfn
        .delete_stack_instances()
        .stack_set_name("probe")
        .accounts(MEMBER_A)
        .regions(REGION)
        .retain_stacks(false)
        .send()
        .await
        .expect_err("one operation at a time");
    assert_eq!(second.code(), Some("OperationInProgressException"));

    // Within the tolerance: SUCCEEDED, yet two instances failed.
    let (status, failed, not_found, running) = wait(&cfn, "probe", &id).await;
    assert_eq!(status, StackSetOperationStatus::Succeeded);
    assert_eq!(failed, 2);
    assert_eq!(
        not_found, 1,
        "OperationNotFound once, right after the start"
    );
    assert!(running >= 1, "RUNNING before the end");
    let (listed, pages) = results(&cfn, "probe", &id).await;
    assert!(pages > 1, "the results come in pages");
    assert_eq!(listed.len(), 3);
    assert_eq!(
        (listed[0].0.as_str(), listed[0].1.as_str()),
        (MEMBER_A, "SUCCEEDED")
    );
    assert_eq!(
        (listed[1].0.as_str(), listed[1].1.as_str()),
        (MEMBER_B, "FAILED")
    );
    assert!(
        listed[1]
            .2
            .contains("should have 'AWSCloudFormationStackSetExecutionRole' role"),
        "{listed:?}"
    );
    assert_eq!(
        (listed[2].0.as_str(), listed[2].1.as_str()),
        (MEMBER_C, "FAILED")
    );
    assert!(listed[2].2.contains("already exists"), "{listed:?}");
    let instances = emu.stack_instances("probe").await;
    let status_of = |account: &str| {
        instances
            .iter()
            .find(|(a, _, _)| a == account)
            .map(|(_, _, s)| s.clone())
    };
    assert_eq!(status_of(MEMBER_A).as_deref(), Some("CURRENT"));
    assert_eq!(status_of(MEMBER_B).as_deref(), Some("OUTDATED"));
    assert_eq!(status_of(MEMBER_C).as_deref(), Some("OUTDATED"));
    assert!(
        roles_in(&emu, MEMBER_A)
            .await
            .contains(&"role-probe".to_owned())
    );
    assert!(
        !roles_in(&emu, MEMBER_B)
            .await
            .contains(&"role-probe".to_owned())
    );

    // UpdateStackSet reaches the deployed stacks: a new role appears where
    // the execution role works; elsewhere the instance stays OUTDATED.
    let updated = cfn
        .update_stack_set()
        .stack_set_name("probe")
        .template_body(template(&["role-probe", "role-second"]))
        .operation_preferences(preferences(100))
        .send()
        .await
        .expect("UpdateStackSet");
    let (status, failed, _, _) = wait(&cfn, "probe", updated.operation_id().unwrap()).await;
    assert_eq!((status, failed), (StackSetOperationStatus::Succeeded, 2));
    assert!(
        roles_in(&emu, MEMBER_A)
            .await
            .contains(&"role-second".to_owned())
    );

    // Beyond the tolerance (AWS's default, 0): FAILED.
    let strict = cfn
        .update_stack_instances()
        .stack_set_name("probe")
        .accounts(MEMBER_B)
        .regions(REGION)
        .send()
        .await
        .expect("UpdateStackInstances");
    let (status, failed, _, _) = wait(&cfn, "probe", strict.operation_id().unwrap()).await;
    assert_eq!((status, failed), (StackSetOperationStatus::Failed, 1));

    // Plain moto: done at once, nothing fails.
    let lax = Emulator::start_with(EmulatorOptions::lax());
    let cfn = CfnClient::new(&lax.sdk_config().await);
    create_probe(&cfn).await;
    let id = cfn
        .create_stack_instances()
        .stack_set_name("probe")
        .accounts(MEMBER_B)
        .regions(REGION)
        .send()
        .await
        .expect("CreateStackInstances")
        .operation_id
        .expect("an id");
    let (status, failed, not_found, running) = wait(&cfn, "probe", &id).await;
    assert_eq!(
        (status, failed, not_found, running),
        (StackSetOperationStatus::Succeeded, 0, 0, 0)
    );
}

const ESTATE: &str = r#"
jump-account id="123456789012" region="ap-northeast-1"
account "shared" id="210987654321"
account "analytics" id="310987654321"
user "me" {
    access "admin"
}
"#;

#[tokio::test]
async fn an_apply_killed_while_an_operation_runs_is_finished_by_the_next_one() {
    // Operations run long enough to be cut off in the middle. IAM's
    // consistency window is closed: `unlock` right after the kill could
    // otherwise miss the lock the dead apply made a moment before, which is
    // not what this test is about.
    let emu = Emulator::start_with_knobs(&[
        ("STACKSET_OPERATION_SECONDS", "3"),
        ("IAM_CONSISTENCY_SECONDS", "0"),
    ]);
    let ws = Workspace::bootstrapped(&emu, ESTATE).await;
    emu.start_recording();
    let apply = ws.apply_command(&emu).spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !emu
        .recorded_actions()
        .iter()
        .any(|a| a == "CreateStackInstances")
    {
        assert!(
            Instant::now() < deadline,
            "the apply never started its instances"
        );
        assert!(!apply.has_ended(), "the apply ended too soon");
        std::thread::sleep(Duration::from_millis(20));
    }
    apply.kill();
    apply.wait();
    emu.stop_recording();

    // The user breaks the lock of the dead apply, then applies again.
    jumpgate(&emu, &["unlock", "--yes"]).expect_code(0);
    let again = ws.apply(&emu, &[]);
    again.expect_code(0);
    assert!(
        !format!("{}{}", again.stdout, again.stderr).contains("OperationInProgressException"),
        "{}\n{}",
        again.stdout,
        again.stderr
    );
    assert!(
        again.stderr.contains("is running") && again.stderr.contains("waiting for it"),
        "it says it waits for the running operation:\n{}",
        again.stderr
    );
    ws.assert_converged(&emu);
    for account in [MEMBER_A, MEMBER_B] {
        assert!(
            roles_in(&emu, account)
                .await
                .contains(&"role-admin".to_owned()),
            "{account} has its roles"
        );
    }
}

#[tokio::test]
async fn cloudformation_is_called_in_the_files_region_whatever_the_environment_says() {
    let emu = Emulator::start();
    let ws = Workspace::bootstrapped(&emu, ESTATE).await;
    let applied = ws.apply_command(&emu).env("AWS_REGION", "us-east-1").run();
    // The difference is noted.
    applied
        .expect_code(0)
        .assert_stderr_has("us-east-1")
        .assert_stderr_has("file's region ap-northeast-1");
    let in_region = |region: &'static str| {
        let emu = &emu;
        async move {
            let config = emu
                .sdk_config()
                .await
                .into_builder()
                .region(aws_config::Region::new(region))
                .build();
            CfnClient::new(&config)
                .describe_stack_set()
                .stack_set_name("iam-roles")
                .send()
                .await
                .is_ok()
        }
    };
    assert!(
        in_region("ap-northeast-1").await,
        "the StackSet is in the file's region"
    );
    assert!(
        !in_region("us-east-1").await,
        "and not in the environment's"
    );
    // From the other region, the plan finds it: nothing to do.
    ws.command(&emu, "plan")
        .env("AWS_REGION", "us-east-1")
        .arg("--detailed-exitcode")
        .run()
        .expect_code(0);
}

#[tokio::test]
async fn stack_set_roles_made_outside_jumpgate_are_used_not_fought() {
    let emu = Emulator::start();
    // As AWS's sample templates leave them: both roles, by hand, no
    // jumpgate stack.
    administration_role(&emu).await;
    emu.bootstrap_accounts(JUMP, &[JUMP]).await;
    let ws = Workspace::bootstrapped(&emu, ESTATE).await;

    let plan = ws.plan_json(&emu);
    let planned: Vec<String> = addresses(&plan);
    assert!(
        !planned.iter().any(|a| a.starts_with("stack.")),
        "no stack for a role that exists: {planned:?}"
    );
    let warnings = plan["warnings"].as_array().expect("warnings");
    for role in [
        "AWSCloudFormationStackSetAdministrationRole",
        "AWSCloudFormationStackSetExecutionRole",
    ] {
        assert!(
            warnings
                .iter()
                .filter_map(|w| w.as_str())
                .any(|w| w.contains(role) && w.contains("made outside jumpgate")),
            "{role} is named: {warnings:?}"
        );
    }
    // Every stage runs, the roles reach every account, and the next plan
    // is empty: no create-fail-delete loop.
    ws.apply(&emu, &[]).expect_code(0);
    for account in [JUMP, MEMBER_A, MEMBER_B] {
        assert!(
            roles_in(&emu, account)
                .await
                .contains(&"role-admin".to_owned()),
            "{account} has its roles"
        );
    }
    assert!(user_exists(&iam(&emu).await, "me").await);
    ws.assert_converged(&emu);
}

#[tokio::test]
async fn a_role_stack_that_failed_on_a_role_made_outside_jumpgate_is_removed_and_the_role_kept() {
    let emu = Emulator::start();
    let cfn = CfnClient::new(&emu.sdk_config().await);
    administration_role(&emu).await;
    // What an earlier jumpgate left: its stack failed on the existing name.
    let failed = cfn
        .create_stack()
        .stack_name("stackset-admin-role")
        .template_body(jumpgate::templates::admin_role().to_string())
        .capabilities(aws_sdk_cloudformation::types::Capability::CapabilityNamedIam)
        .send()
        .await;
    assert!(
        failed.is_ok(),
        "AWS creates the stack, then fails it: {failed:?}"
    );
    assert_eq!(
        stack_status(&emu, "stackset-admin-role").await.as_deref(),
        Some("ROLLBACK_COMPLETE")
    );

    let ws = Workspace::bootstrapped(&emu, ESTATE).await;
    let plan = ws.plan_json(&emu);
    let stacks: Vec<(String, String)> = changes(&plan)
        .into_iter()
        .filter(|(_, a)| a.starts_with("stack.stackset-admin-role"))
        .collect();
    assert_eq!(
        stacks,
        [("delete".to_owned(), "stack.stackset-admin-role".to_owned())]
    );
    ws.apply(&emu, &[]).expect_code(0);
    assert!(
        role_names(&iam(&emu).await)
            .await
            .contains(&"AWSCloudFormationStackSetAdministrationRole".to_owned()),
        "the role made outside jumpgate is kept"
    );
    ws.assert_converged(&emu);
}
