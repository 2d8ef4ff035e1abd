//! Issue #3, acceptance 3: removing a user's block offboards them, removing
//! everything AWS requires gone before DeleteUser (in that order, proven from
//! the request log since moto's DeleteUser does not insist), and leaves users
//! jumpgate does not manage alone.

use std::collections::BTreeSet;

use crate::support::fixtures;
use crate::support::{
    Emulator, JUMP, Workspace, access_keys, by_hand, changes, describe, groups_of, iam, mutating,
    user_exists, user_tags,
};

const ESTATE: &str = fixtures::small_estate!();

const LEAVER: &str = r#"
user "leaver" console=#false {
    access "operator"
    access "developer" project="payments"
}
"#;

/// Created by hand, without jumpgate's tag: never touched.
const BYSTANDER: &str = "contractor";

const SSH_KEY: &str = include_str!("../fixtures/plan_apply/leaver-ssh-key.pub");
/// A self-signed X.509 certificate (moto checks that it parses).
const SIGNING_CERTIFICATE: &str =
    include_str!("../fixtures/plan_apply/leaver-signing-certificate.pem");

const READ_ONLY_ACCESS: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";

const INLINE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#;

/// What AWS requires gone before DeleteUser, as the calls that remove it.
const DEPENDENTS: [&str; 9] = [
    "DeleteLoginProfile",
    "DeleteAccessKey",
    "DeactivateMFADevice",
    "DeleteVirtualMFADevice",
    "DeleteUserPolicy",
    "DeleteSSHPublicKey",
    "DeleteSigningCertificate",
    "DetachUserPolicy",
    "RemoveUserFromGroup",
];

/// What the leaver holds once given, outside jumpgate, everything AWS makes
/// DeleteUser wait for.
async fn equip_leaver(iam: &aws_sdk_iam::Client) -> String {
    by_hand::create_access_key(iam, "leaver").await;
    let serial = by_hand::enable_virtual_mfa_device(iam, "leaver", "leaver-phone").await;
    by_hand::create_login_profile(iam, "leaver", "Initial-Passw0rd!xyz").await;
    iam.put_user_policy()
        .user_name("leaver")
        .policy_name("by-hand")
        .policy_document(INLINE_POLICY)
        .send()
        .await
        .expect("PutUserPolicy");
    iam.upload_ssh_public_key()
        .user_name("leaver")
        .ssh_public_key_body(SSH_KEY)
        .send()
        .await
        .expect("UploadSSHPublicKey");
    iam.upload_signing_certificate()
        .user_name("leaver")
        .certificate_body(SIGNING_CERTIFICATE)
        .send()
        .await
        .expect("UploadSigningCertificate");
    iam.attach_user_policy()
        .user_name("leaver")
        .policy_arn(READ_ONLY_ACCESS)
        .send()
        .await
        .expect("AttachUserPolicy");
    serial
}

/// A user made by hand, without tags, in a group jumpgate manages, with a key.
async fn create_bystander(iam: &aws_sdk_iam::Client) {
    by_hand::create_user(iam, BYSTANDER).await;
    by_hand::add_user_to_group(iam, BYSTANDER, "group-operator").await;
    by_hand::create_access_key(iam, BYSTANDER).await;
}

#[tokio::test]
async fn removing_a_user_offboards_them_in_the_order_aws_requires() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, &format!("{ESTATE}{LEAVER}")).await;
    let iam = iam(&emu).await;
    assert_eq!(
        groups_of(&iam, "leaver").await,
        ["group-developer-payments", "group-operator"]
    );
    let serial = equip_leaver(&iam).await;
    create_bystander(&iam).await;

    ws.write_state(ESTATE);
    let plan = ws.plan_json(&emu);
    assert_eq!(plan["unmanaged_users"], serde_json::json!([BYSTANDER]));
    assert!(
        changes(&plan)
            .iter()
            .all(|(action, address)| action == "delete" && address.contains("leaver")),
        "only the leaver's things go: {:?}",
        changes(&plan)
    );
    let text = ws.plan(&emu, &[]);
    text.expect_code(0);
    let unmanaged_line = text
        .stdout
        .lines()
        .find(|l| l.contains(BYSTANDER))
        .unwrap_or_else(|| panic!("the text plan names {BYSTANDER}:\n{}", text.stdout));
    assert!(
        unmanaged_line.contains("does not manage"),
        "{BYSTANDER} is listed as unmanaged: {unmanaged_line}"
    );

    emu.start_recording();
    ws.apply(&emu, &[]).expect_code(0);
    emu.stop_recording();

    // moto does not implement ListServiceSpecificCredentials (HTML 500): one
    // call per observation (before and under the lock), not a retry storm
    // that would take the better part of a minute.
    let unimplemented = emu
        .recorded_actions()
        .iter()
        .filter(|a| *a == "ListServiceSpecificCredentials")
        .count();
    assert_eq!(unimplemented, 2, "no retries of an unimplemented call");

    let mutations = mutating(&emu);
    let actions: Vec<&str> = mutations
        .iter()
        .map(|r| r.action.as_deref().unwrap())
        .collect();
    let delete_user = actions
        .iter()
        .position(|a| *a == "DeleteUser")
        .unwrap_or_else(|| panic!("DeleteUser was sent: {:?}", describe(&mutations)));
    for dependent in DEPENDENTS {
        let at: Vec<usize> = actions
            .iter()
            .enumerate()
            .filter(|(_, a)| **a == dependent)
            .map(|(i, _)| i)
            .collect();
        assert!(!at.is_empty(), "{dependent} was sent: {actions:?}");
        assert!(
            at.iter().all(|i| *i < delete_user),
            "{dependent} comes before DeleteUser: {actions:?}"
        );
    }
    let deactivate = actions.iter().position(|a| *a == "DeactivateMFADevice");
    let delete_device = actions.iter().position(|a| *a == "DeleteVirtualMFADevice");
    assert!(
        deactivate < delete_device,
        "a device is deactivated before it is deleted: {actions:?}"
    );

    // Nothing else: the leaver's removals and the lock, which comes and goes.
    let expected: BTreeSet<&str> = DEPENDENTS
        .into_iter()
        .chain(["CreatePolicy", "DeletePolicy", "DeleteUser"])
        .collect();
    let sent: BTreeSet<&str> = actions.iter().copied().collect();
    assert_eq!(sent, expected, "{:?}", describe(&mutations));
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "RemoveUserFromGroup")
            .count(),
        2,
        "one removal per group the leaver was in"
    );
    for request in &mutations {
        match request.action.as_deref().unwrap() {
            "CreatePolicy" => {
                assert_eq!(request.param("PolicyName"), Some("jumpgate-apply-lock"))
            }
            "DeletePolicy" => assert_eq!(
                request.param("PolicyArn"),
                Some(format!("arn:aws:iam::{JUMP}:policy/jumpgate/jumpgate-apply-lock").as_str())
            ),
            "DeleteVirtualMFADevice" => {
                assert_eq!(request.param("SerialNumber"), Some(serial.as_str()))
            }
            action => assert_eq!(
                request.param("UserName"),
                Some("leaver"),
                "{action} is about the leaver"
            ),
        }
    }

    // The leaver and their device are gone; the bystander is as it was.
    assert!(!user_exists(&iam, "leaver").await, "the leaver is gone");
    let devices = iam
        .list_virtual_mfa_devices()
        .send()
        .await
        .expect("ListVirtualMFADevices");
    assert!(
        devices
            .virtual_mfa_devices()
            .iter()
            .all(|d| d.serial_number() != serial),
        "the leaver's virtual MFA device is deleted"
    );
    assert!(user_exists(&iam, BYSTANDER).await);
    assert_eq!(groups_of(&iam, BYSTANDER).await, ["group-operator"]);
    assert_eq!(
        access_keys(&iam, BYSTANDER).await.len(),
        1,
        "the bystander keeps its key"
    );
    assert!(
        user_tags(&iam, BYSTANDER).await.is_empty(),
        "the bystander is not adopted"
    );

    // And the estate has converged.
    ws.assert_converged(&emu);
}
