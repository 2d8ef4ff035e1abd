//! Proves the test harness itself: the emulator starts, speaks to
//! aws-sdk-rust, separates accounts and records requests.

mod support;

use aws_sdk_iam::Client as IamClient;
use support::by_hand;
use support::emulator::{DEFAULT_ACCOUNT_ID, Emulator, sent};
use support::{attached_group_policies, user_names};

const READ_ONLY_ACCESS: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const OTHER_ACCOUNT_ID: &str = "222222222222";

/// Creates `user` with `iam`, which must land it in `account`.
async fn create_user_in(iam: &IamClient, user: &str, account: &str) {
    let request = iam.create_user().user_name(user);
    let created = sent(request.send(), format!("CreateUser {user} in {account}")).await;
    let arn = created.user.expect("CreateUser returns the user").arn;
    assert_eq!(arn, format!("arn:aws:iam::{account}:user/{user}"));
}

#[tokio::test]
async fn iam_calls_reach_the_emulator_and_are_recorded() {
    let emulator = Emulator::start();
    let config = emulator.sdk_config().await;
    let iam = IamClient::new(&config);
    emulator.start_recording();

    create_user_in(&iam, "alice", DEFAULT_ACCOUNT_ID).await;
    assert_eq!(user_names(&iam).await, ["alice"]);

    by_hand::create_group(&iam, "readers").await;
    let attach = iam
        .attach_group_policy()
        .group_name("readers")
        .policy_arn(READ_ONLY_ACCESS);
    let loaded = "AWS-managed policies are loaded (MOTO_IAM_LOAD_MANAGED_POLICIES)";
    sent(attach.send(), loaded).await;
    assert_eq!(
        attached_group_policies(&iam, "readers").await,
        [READ_ONLY_ACCESS]
    );

    // A JSON-protocol service names its action in X-Amz-Target, not the body.
    by_hand::create_organization(&aws_sdk_organizations::Client::new(&config)).await;
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
    create_user_in(&other_iam, "bob", OTHER_ACCOUNT_ID).await;
    assert_eq!(user_names(&other_iam).await, ["bob"]);
    assert!(
        user_names(&default_iam).await.is_empty(),
        "a user created in {OTHER_ACCOUNT_ID} must not appear in {DEFAULT_ACCOUNT_ID}"
    );
}
