//! Changes made outside jumpgate with a plain AWS client, as someone with
//! console or CLI access would: the set-up of a test, and the out-of-band
//! changes jumpgate must notice. Each panics naming the call if AWS refuses.

use aws_sdk_iam::Client as IamClient;
use aws_sdk_organizations::Client as OrgClient;
use aws_sdk_organizations::types::OrganizationFeatureSet;

use super::emulator::Emulator;

pub async fn create_user(iam: &IamClient, user: &str) {
    iam.create_user()
        .user_name(user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateUser {user}: {e:?}"));
}

/// A user carrying jumpgate's ownership tag, as if jumpgate had made it.
pub async fn create_owned_user(iam: &IamClient, user: &str) {
    let tag = aws_sdk_iam::types::Tag::builder()
        .key("managed-by")
        .value("jumpgate")
        .build()
        .expect("key and value");
    iam.create_user()
        .user_name(user)
        .tags(tag)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateUser {user}: {e:?}"));
}

pub async fn create_group(iam: &IamClient, group: &str) {
    iam.create_group()
        .group_name(group)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateGroup {group}: {e:?}"));
}

pub async fn add_user_to_group(iam: &IamClient, user: &str, group: &str) {
    iam.add_user_to_group()
        .user_name(user)
        .group_name(group)
        .send()
        .await
        .unwrap_or_else(|e| panic!("AddUserToGroup {user} {group}: {e:?}"));
}

pub async fn remove_user_from_group(iam: &IamClient, user: &str, group: &str) {
    iam.remove_user_from_group()
        .user_name(user)
        .group_name(group)
        .send()
        .await
        .unwrap_or_else(|e| panic!("RemoveUserFromGroup {user} {group}: {e:?}"));
}

pub async fn attach_group_policy(iam: &IamClient, group: &str, policy_arn: &str) {
    iam.attach_group_policy()
        .group_name(group)
        .policy_arn(policy_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("AttachGroupPolicy {group} {policy_arn}: {e:?}"));
}

pub async fn put_group_policy(iam: &IamClient, group: &str, name: &str, document: &str) {
    iam.put_group_policy()
        .group_name(group)
        .policy_name(name)
        .policy_document(document)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutGroupPolicy {group}/{name}: {e:?}"));
}

pub async fn create_login_profile(iam: &IamClient, user: &str, password: &str) {
    iam.create_login_profile()
        .user_name(user)
        .password(password)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateLoginProfile {user}: {e:?}"));
}

pub async fn delete_login_profile(iam: &IamClient, user: &str) {
    iam.delete_login_profile()
        .user_name(user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("DeleteLoginProfile {user}: {e:?}"));
}

pub async fn create_access_key(iam: &IamClient, user: &str) {
    iam.create_access_key()
        .user_name(user)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateAccessKey {user}: {e:?}"));
}

/// A virtual MFA device called `device`, enabled for `user`: its serial.
pub async fn enable_virtual_mfa_device(iam: &IamClient, user: &str, device: &str) -> String {
    let serial = iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(device)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateVirtualMFADevice {device}: {e:?}"))
        .virtual_mfa_device
        .expect("the device")
        .serial_number;
    iam.enable_mfa_device()
        .user_name(user)
        .serial_number(&serial)
        .authentication_code1("123456")
        .authentication_code2("654321")
        .send()
        .await
        .unwrap_or_else(|e| panic!("EnableMFADevice {user}: {e:?}"));
    serial
}

/// Makes the caller's account the management account of a new
/// organization with all features.
pub async fn create_organization(org: &OrgClient) {
    org.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateOrganization: {e:?}"));
}

/// An organization whose management account is the emulator's default
/// account (the jump account of the fixtures), and a client for it.
pub async fn organization(emu: &Emulator) -> OrgClient {
    let org = OrgClient::new(&emu.sdk_config().await);
    create_organization(&org).await;
    org
}
