//! Proves the test harness itself: the emulator starts, speaks to
//! aws-sdk-rust, separates accounts and records requests.

mod support;

use aws_sdk_iam::Client as IamClient;
use aws_sdk_organizations::types::OrganizationFeatureSet;
use support::emulator::{DEFAULT_ACCOUNT_ID, Emulator};
use support::user_names;

const READ_ONLY_ACCESS: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const OTHER_ACCOUNT_ID: &str = "222222222222";

#[tokio::test]
async fn iam_calls_reach_the_emulator_and_are_recorded() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config().await;
    let iam = IamClient::new(&config);
    emulator.start_recording();

    let created = iam
        .create_user()
        .user_name("alice")
        .send()
        .await
        .expect("CreateUser");
    let arn = created.user.expect("CreateUser returns the user").arn;
    assert_eq!(arn, format!("arn:aws:iam::{DEFAULT_ACCOUNT_ID}:user/alice"));
    assert_eq!(user_names(&iam).await, ["alice"]);

    iam.create_group()
        .group_name("readers")
        .send()
        .await
        .expect("CreateGroup");
    iam.attach_group_policy()
        .group_name("readers")
        .policy_arn(READ_ONLY_ACCESS)
        .send()
        .await
        .expect("AWS-managed policies are loaded (MOTO_IAM_LOAD_MANAGED_POLICIES)");
    let attached = iam
        .list_attached_group_policies()
        .group_name("readers")
        .send()
        .await
        .expect("ListAttachedGroupPolicies");
    let attached: Vec<_> = attached
        .attached_policies()
        .iter()
        .filter_map(|policy| policy.policy_arn())
        .collect();
    assert_eq!(attached, [READ_ONLY_ACCESS]);

    // A JSON-protocol service names its action in X-Amz-Target, not the body.
    aws_sdk_organizations::Client::new(&config)
        .create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .expect("CreateOrganization");
    emulator.stop_recording();

    let recording = emulator.recording();
    let actions: Vec<_> = recording
        .iter()
        .filter_map(|request| request.action.as_deref())
        .collect();
    assert_eq!(
        actions,
        [
            "CreateUser",
            "ListUsers",
            "CreateGroup",
            "AttachGroupPolicy",
            "ListAttachedGroupPolicies",
            "CreateOrganization",
        ]
    );
    let create_user = &recording[0];
    assert_eq!(create_user.service.as_deref(), Some("iam"));
    assert_eq!(create_user.param("UserName"), Some("alice"));
    let attach = &recording[3];
    assert_eq!(attach.param("PolicyArn"), Some(READ_ONLY_ACCESS));
    let create_organization = &recording[5];
    assert_eq!(
        create_organization.service.as_deref(),
        Some("organizations")
    );
    assert!(create_organization.body.contains("\"FeatureSet\":\"ALL\""));
    let mutating = recording.iter().filter(|r| r.is_mutating()).count();
    assert_eq!(
        mutating, 4,
        "CreateUser, CreateGroup, AttachGroupPolicy, CreateOrganization"
    );

    // Nothing is recorded once stopped, and reset forgets every entity.
    emulator.reset();
    assert!(user_names(&iam).await.is_empty());
    assert_eq!(emulator.recording().len(), recording.len());
}

#[tokio::test]
async fn assumed_role_credentials_land_in_their_own_account() {
    let emulator = Emulator::start();
    let default_iam = IamClient::new(&emulator.sdk_config().await);
    let other_config = emulator.sdk_config_for_account(OTHER_ACCOUNT_ID).await;

    let identity = aws_sdk_sts::Client::new(&other_config)
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(identity.account(), Some(OTHER_ACCOUNT_ID));

    let other_iam = IamClient::new(&other_config);
    let created = other_iam
        .create_user()
        .user_name("bob")
        .send()
        .await
        .expect("CreateUser in the other account");
    let arn = created.user.expect("CreateUser returns the user").arn;
    assert_eq!(arn, format!("arn:aws:iam::{OTHER_ACCOUNT_ID}:user/bob"));

    assert_eq!(user_names(&other_iam).await, ["bob"]);
    assert!(
        user_names(&default_iam).await.is_empty(),
        "a user created in {OTHER_ACCOUNT_ID} must not appear in {DEFAULT_ACCOUNT_ID}"
    );
}
