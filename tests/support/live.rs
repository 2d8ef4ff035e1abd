//! Reading back what a run did: the emulator's IAM and request recording,
//! and the JSON plan.

use std::collections::BTreeMap;
use std::fmt::{Debug, Display};

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_cloudformation::types::StackSet;
use aws_sdk_iam::Client as IamClient;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{AccessKeyMetadata, LoginProfile};
use serde_json::Value;

use super::emulator::{Emulator, RecordedRequest, sent};
use super::runner::Outcome;

/// The jump account every fixture declares: the emulator's default account.
pub const JUMP: &str = "123456789012";

/// The mutating requests of the recording.
pub fn mutating(emu: &Emulator) -> Vec<RecordedRequest> {
    emu.recording()
        .into_iter()
        .filter(RecordedRequest::is_mutating)
        .collect()
}

/// A short description of requests, for failure messages.
pub fn describe(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let subject = ["UserName", "GroupName", "PolicyName", "PolicyArn"]
                .iter()
                .find_map(|p| r.param(p))
                .unwrap_or("");
            format!("{} {subject}", r.action.as_deref().unwrap_or("?"))
        })
        .collect()
}

/// Asserts that the recording since it started holds no mutating request.
#[track_caller]
pub fn assert_nothing_mutated(emu: &Emulator, what: &str) {
    let mutations = mutating(emu);
    assert!(
        mutations.is_empty(),
        "{what} sent mutating requests: {:?}",
        describe(&mutations)
    );
}

/// The recorded requests whose action is `action`.
pub fn actions_named<'r>(
    recording: &'r [RecordedRequest],
    action: &str,
) -> Vec<&'r RecordedRequest> {
    recording
        .iter()
        .filter(|r| r.action.as_deref() == Some(action))
        .collect()
}

/// Runs `f` with the emulator's recording on, from empty.
pub fn recorded<T>(emu: &Emulator, f: impl FnOnce() -> T) -> T {
    emu.clear_recording();
    emu.start_recording();
    let result = f();
    emu.stop_recording();
    result
}

/// Runs `run` with the recording on (from empty): it must exit 1 saying
/// `says` on stderr, and send no mutating request.
#[track_caller]
pub fn assert_refused(
    emu: &Emulator,
    what: &str,
    says: &str,
    run: impl FnOnce() -> Outcome,
) -> Outcome {
    let refused = recorded(emu, run);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains(says),
        "{what}: the refusal does not say {says:?}:\n{}",
        refused.stderr
    );
    assert_nothing_mutated(emu, what);
    refused
}

/// `(action, address)` of each change of a JSON plan, in order.
pub fn changes(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .expect("changes is a list")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().expect("action").to_owned(),
                c["address"].as_str().expect("address").to_owned(),
            )
        })
        .collect()
}

/// The addresses of a JSON plan's changes, in order.
pub fn addresses(plan: &Value) -> Vec<String> {
    changes(plan)
        .into_iter()
        .map(|(_, address)| address)
        .collect()
}

/// The accounts of `stack_set`'s instances, in the order of
/// `Emulator::stack_instances`.
pub async fn stack_instance_accounts(emu: &Emulator, stack_set: &str) -> Vec<String> {
    emu.stack_instances(stack_set)
        .await
        .into_iter()
        .map(|(account, _, _)| account)
        .collect()
}

pub async fn iam(emu: &Emulator) -> IamClient {
    IamClient::new(&emu.sdk_config().await)
}

pub async fn iam_in(emu: &Emulator, account: &str) -> IamClient {
    IamClient::new(&emu.sdk_config_for_account(account).await)
}

/// A CloudFormation client for the default account.
pub async fn cfn(emu: &Emulator) -> CfnClient {
    CfnClient::new(&emu.sdk_config().await)
}

/// Names of the roles in an account's IAM.
pub async fn role_names(iam: &IamClient) -> Vec<String> {
    let roles = iam.list_roles().send().await.expect("ListRoles").roles;
    sorted(roles.into_iter().map(|r| r.role_name))
}

/// Names of the roles in `account`, read with credentials for it.
pub async fn roles_in(emu: &Emulator, account: &str) -> Vec<String> {
    role_names(&iam_in(emu, account).await).await
}

/// A user's tags, key to value.
pub async fn user_tags(iam: &IamClient, user: &str) -> BTreeMap<String, String> {
    let request = iam.list_user_tags().user_name(user);
    let tags = sent(request.send(), format!("ListUserTags {user}"))
        .await
        .tags;
    tags.into_iter().map(|t| (t.key, t.value)).collect()
}

/// Whether a user carries jumpgate's ownership tag.
pub async fn is_adopted(iam: &IamClient, user: &str) -> bool {
    user_tags(iam, user)
        .await
        .get("managed-by")
        .map(String::as_str)
        == Some("jumpgate")
}

/// The ARNs of the managed policies attached to a group.
pub async fn attached_group_policies(iam: &IamClient, group: &str) -> Vec<String> {
    let request = iam.list_attached_group_policies().group_name(group);
    let attached = sent(request.send(), format!("ListAttachedGroupPolicies {group}")).await;
    let policies = attached.attached_policies.unwrap_or_default();
    policies.into_iter().filter_map(|p| p.policy_arn).collect()
}

/// A group's inline policy, decoded.
pub async fn group_policy(iam: &IamClient, group: &str, name: &str) -> Value {
    let request = iam.get_group_policy().group_name(group).policy_name(name);
    let policy = sent(request.send(), format!("GetGroupPolicy {group}/{name}")).await;
    decode_document(policy.policy_document())
}

/// The status of a CloudFormation stack in the default account.
pub async fn stack_status(emu: &Emulator, stack: &str) -> Option<String> {
    let request = cfn(emu).await.describe_stacks().stack_name(stack);
    let described = sent(request.send(), format!("DescribeStacks {stack}")).await;
    let status = described.stacks()[0].stack_status();
    status.map(|s| s.as_str().to_owned())
}

/// A StackSet of the default account, as DescribeStackSet describes it.
pub async fn stack_set(emu: &Emulator, stack_set: &str) -> StackSet {
    let request = cfn(emu)
        .await
        .describe_stack_set()
        .stack_set_name(stack_set);
    let described = sent(request.send(), format!("DescribeStackSet {stack_set}")).await;
    let set = described.stack_set;
    set.unwrap_or_else(|| panic!("DescribeStackSet {stack_set}: no StackSet in the answer"))
}

/// Names of the users in an account's IAM.
pub async fn user_names(iam: &IamClient) -> Vec<String> {
    let users = iam.list_users().send().await.expect("ListUsers").users;
    sorted(users.into_iter().map(|u| u.user_name))
}

/// What a read of one IAM entity answered, `None` if IAM says there is no
/// such entity (`NoSuchEntity`); any other error panics naming `call`.
async fn unless_missing<T, E: ProvideErrorMetadata + Debug, R: Debug>(
    request: impl Future<Output = Result<T, SdkError<E, R>>>,
    call: impl Display,
) -> Option<T> {
    match request.await {
        Ok(answer) => Some(answer),
        Err(err) if err.code() == Some("NoSuchEntity") => None,
        Err(err) => panic!("{call}: {err:?}"),
    }
}

/// Whether a user exists, by GetUser.
pub async fn user_exists(iam: &IamClient, user: &str) -> bool {
    let request = iam.get_user().user_name(user);
    let answer = unless_missing(request.send(), format!("GetUser {user}")).await;
    answer.is_some()
}

/// A user's login profile (console password), by GetLoginProfile; `None`
/// if the user has none.
pub async fn login_profile(iam: &IamClient, user: &str) -> Option<LoginProfile> {
    let request = iam.get_login_profile().user_name(user);
    let answer = unless_missing(request.send(), format!("GetLoginProfile {user}")).await;
    answer.and_then(|answer| answer.login_profile)
}

/// A user's access keys.
pub async fn access_keys(iam: &IamClient, user: &str) -> Vec<AccessKeyMetadata> {
    let request = iam.list_access_keys().user_name(user);
    let listed = sent(request.send(), format!("ListAccessKeys {user}")).await;
    listed.access_key_metadata
}

/// The group names a user is in.
pub async fn groups_of(iam: &IamClient, user: &str) -> Vec<String> {
    let groups = iam
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .expect("ListGroupsForUser")
        .groups;
    sorted(groups.into_iter().map(|g| g.group_name))
}

fn sorted(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = names.collect();
    names.sort();
    names
}

/// A policy document as IAM returns it: URL-encoded JSON.
pub fn decode_document(text: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("not a policy document ({e}): {text}"))
}

/// `Statement` as a list, whether written as one object or a list.
pub fn statements(document: &Value) -> Vec<Value> {
    match &document["Statement"] {
        Value::Array(list) => list.clone(),
        single => vec![single.clone()],
    }
}

/// Fails unless `plan` validates against `schema/plan.schema.json`, the
/// schema shipped for scripts.
#[track_caller]
pub fn assert_matches_plan_schema(plan: &Value) {
    let schema: Value = serde_json::from_str(include_str!("../../schema/plan.schema.json"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(plan)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "the plan breaks its schema: {errors:#?}");
}
