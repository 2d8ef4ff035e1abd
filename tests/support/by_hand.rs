//! Changes made outside jumpgate with a plain AWS client, as someone with
//! console or CLI access would: the set-up of a test, and the out-of-band
//! changes jumpgate must notice. Each panics naming the call if AWS refuses
//! (`emulator::sent`).

use aws_sdk_cloudformation::Client as CfnClient;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use aws_sdk_iam::Client as IamClient;
use aws_sdk_iam::types::Tag;
use aws_sdk_organizations::Client as OrgClient;
use aws_sdk_organizations::types::OrganizationFeatureSet;

use super::emulator::{Emulator, sent};

pub async fn create_user(iam: &IamClient, user: &str) {
    let request = iam.create_user().user_name(user);
    sent(request.send(), format!("CreateUser {user}")).await;
}

/// A user carrying jumpgate's ownership tag, as if jumpgate had made it.
pub async fn create_owned_user(iam: &IamClient, user: &str) {
    let tag = Tag::builder().key("managed-by").value("jumpgate").build();
    let request = iam
        .create_user()
        .user_name(user)
        .tags(tag.expect("key and value"));
    sent(request.send(), format!("CreateUser {user}")).await;
}

pub async fn delete_user(iam: &IamClient, user: &str) {
    let request = iam.delete_user().user_name(user);
    sent(request.send(), format!("DeleteUser {user}")).await;
}

pub async fn create_group(iam: &IamClient, group: &str) {
    let request = iam.create_group().group_name(group);
    sent(request.send(), format!("CreateGroup {group}")).await;
}

pub async fn add_user_to_group(iam: &IamClient, user: &str, group: &str) {
    let request = iam.add_user_to_group().user_name(user).group_name(group);
    sent(request.send(), format!("AddUserToGroup {user} {group}")).await;
}

pub async fn remove_user_from_group(iam: &IamClient, user: &str, group: &str) {
    let request = iam
        .remove_user_from_group()
        .user_name(user)
        .group_name(group);
    sent(
        request.send(),
        format!("RemoveUserFromGroup {user} {group}"),
    )
    .await;
}

pub async fn attach_group_policy(iam: &IamClient, group: &str, policy_arn: &str) {
    let request = iam
        .attach_group_policy()
        .group_name(group)
        .policy_arn(policy_arn);
    sent(
        request.send(),
        format!("AttachGroupPolicy {group} {policy_arn}"),
    )
    .await;
}

pub async fn put_group_policy(iam: &IamClient, group: &str, name: &str, document: &str) {
    let request = iam
        .put_group_policy()
        .group_name(group)
        .policy_name(name)
        .policy_document(document);
    sent(request.send(), format!("PutGroupPolicy {group}/{name}")).await;
}

pub async fn create_login_profile(iam: &IamClient, user: &str, password: &str) {
    let request = iam
        .create_login_profile()
        .user_name(user)
        .password(password);
    sent(request.send(), format!("CreateLoginProfile {user}")).await;
}

pub async fn delete_login_profile(iam: &IamClient, user: &str) {
    let request = iam.delete_login_profile().user_name(user);
    sent(request.send(), format!("DeleteLoginProfile {user}")).await;
}

pub async fn create_access_key(iam: &IamClient, user: &str) {
    let request = iam.create_access_key().user_name(user);
    sent(request.send(), format!("CreateAccessKey {user}")).await;
}

/// A virtual MFA device called `device`, enabled for `user`: its serial.
pub async fn enable_virtual_mfa_device(iam: &IamClient, user: &str, device: &str) -> String {
    let request = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(device);
    let created = sent(request.send(), format!("CreateVirtualMFADevice {device}")).await;
    let serial = created
        .virtual_mfa_device
        .expect("the device")
        .serial_number;
    let request = iam
        .enable_mfa_device()
        .user_name(user)
        .serial_number(&serial)
        .authentication_code1("123456")
        .authentication_code2("654321");
    sent(request.send(), format!("EnableMFADevice {user}")).await;
    serial
}

/// A StackSet's template and parameters replaced (`(key, value)` each), as
/// `aws cloudformation update-stack-set --capabilities CAPABILITY_NAMED_IAM`.
pub async fn update_stack_set(
    cfn: &CfnClient,
    stack_set: &str,
    template: &str,
    parameters: &[(&str, &str)],
) {
    let parameters = parameters
        .iter()
        .map(|(key, value)| {
            Parameter::builder()
                .parameter_key(*key)
                .parameter_value(*value)
                .build()
        })
        .collect();
    let request = cfn
        .update_stack_set()
        .stack_set_name(stack_set)
        .template_body(template)
        .set_parameters(Some(parameters))
        .capabilities(Capability::CapabilityNamedIam);
    sent(request.send(), format!("UpdateStackSet {stack_set}")).await;
}

/// A StackSet's instance in `account` and `region` deleted, with its stack.
pub async fn delete_stack_instance(cfn: &CfnClient, stack_set: &str, account: &str, region: &str) {
    let request = cfn
        .delete_stack_instances()
        .stack_set_name(stack_set)
        .accounts(account)
        .regions(region)
        .retain_stacks(false);
    sent(
        request.send(),
        format!("DeleteStackInstances {stack_set} {account}"),
    )
    .await;
}

/// Makes the caller's account the management account of a new
/// organization with all features.
pub async fn create_organization(org: &OrgClient) {
    let request = org
        .create_organization()
        .feature_set(OrganizationFeatureSet::All);
    sent(request.send(), "CreateOrganization").await;
}

/// An organization whose management account is the emulator's default
/// account (the jump account of the fixtures), and a client for it.
pub async fn organization(emu: &Emulator) -> OrgClient {
    let org = OrgClient::new(&emu.sdk_config().await);
    create_organization(&org).await;
    org
}
