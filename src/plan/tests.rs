//! The planner's behaviour on small fixtures: desired state from KDL, live
//! state built by hand or by "applying" a plan in memory.

use serde_json::{Value, json};

use super::{Action, Kind, Operation, Plan, Reason, Stage, build};
use crate::lang::{self, Sources};
use crate::live::simulate::{self, Jump};
use crate::live::{
    AccountStatus, LiveGroup, LiveOrganization, LiveStackInstance, LiveState, LiveUser, OrgAccount,
    StackInstanceStatus, StackSetStatus, StackStatus, UserDependents,
};
use crate::model::desired::DesiredState;
use crate::model::names::{AccountId, Partition};
use crate::policy::{GROUP_POLICY_NAME, MFA_POLICY_NAME, PolicyDocument};

/// A valid age X25519 recipient (the one in age's README).
pub(crate) const AGE_RECIPIENT: &str =
    "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

pub(crate) fn state(text: &str) -> DesiredState {
    let mut sources = Sources::default();
    sources.push("test.kdl", text);
    match lang::validate(sources, Vec::new()) {
        Ok(state) => state,
        Err(invalid) => panic!("fixture is invalid: {invalid:?}"),
    }
}

/// Carries out a plan's operations on a `LiveState` through the in-memory
/// AWS; a call AWS would refuse is a planner bug, so it fails the test.
pub(crate) fn apply_in_memory(live: &mut LiveState, plan: &Plan) {
    let jump = Jump {
        account: &plan.jump_account,
        partition: Partition::of(plan.region.as_str()),
    };
    for change in &plan.changes {
        for operation in &change.operations {
            if let Err(refusal) = simulate::apply(live, operation, jump) {
                panic!("{}: {refusal}", change.address);
            }
        }
    }
}

fn user_mut<'a>(live: &'a mut LiveState, name: &str) -> &'a mut LiveUser {
    live.users
        .get_mut(name)
        .unwrap_or_else(|| panic!("no user {name}"))
}

fn group_mut<'a>(live: &'a mut LiveState, name: &str) -> &'a mut LiveGroup {
    live.groups
        .get_mut(name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

/// The live state after applying the plan for `desired` to `live`.
pub(crate) fn converge(desired: &DesiredState, mut live: LiveState) -> LiveState {
    let plan = build(desired, &live);
    apply_in_memory(&mut live, &plan);
    live
}

/// `stage action address`, one per change: what a reviewer checks first.
pub(crate) fn outline(plan: &Plan) -> String {
    plan.changes
        .iter()
        .map(|c| {
            let stage = serde_json::to_value(c.stage).unwrap();
            format!(
                "{:<22} {} {}\n",
                stage.as_str().unwrap(),
                c.action.symbol(),
                c.address
            )
        })
        .collect()
}

/// `estate` (whose jump-account is in ap-northeast-1) with a password policy
/// of these properties, for the tests that need one.
pub(crate) fn with_password_policy(estate: &str, properties: &str) -> String {
    estate.replace(
        r#"region="ap-northeast-1""#,
        &format!(r#"region="ap-northeast-1" {{ password-policy {properties}; }}"#),
    )
}

pub(crate) fn addresses(plan: &Plan) -> Vec<String> {
    plan.changes.iter().map(|c| c.address.to_string()).collect()
}

/// The addresses of the plan's changes of one kind.
fn addresses_of(plan: &Plan, kind: Kind) -> Vec<String> {
    let of_kind = plan.changes.iter().filter(|c| c.kind() == kind);
    of_kind.map(|c| c.address.to_string()).collect()
}

/// `text`, and the live state one apply of it leaves.
fn converged(text: &str) -> (DesiredState, LiveState) {
    let desired = state(text);
    let live = converge(&desired, LiveState::default());
    (desired, live)
}

/// One apply of the plan from `live` leaves nothing to do.
fn assert_converges(desired: &DesiredState, live: LiveState) {
    let plan = build(desired, &converge(desired, live));
    assert!(plan.is_empty(), "{}", outline(&plan));
}

/// Some warning of the plan says all of `words`.
fn assert_warned(plan: &Plan, words: &[&str]) {
    let said = |w: &String| words.iter().all(|word| w.contains(word));
    assert!(plan.warnings.iter().any(said), "{:?}", plan.warnings);
}

const ESTATE: &str = r#"
    jump-account id="111111111111" region="ap-northeast-1"
    project "p" {
        account "p-prod" id="222222222222"
    }
    account "shared" id="333333333333"
    user "alice" {
        access "admin"
    }
    user "bob" {
        access "developer" project="p"
    }
"#;

fn owned_user(name: &str) -> LiveUser {
    LiveUser {
        name: name.into(),
        path: "/".into(),
        tags: [("managed-by".to_owned(), "jumpgate".to_owned())].into(),
        login_profile: Some(true),
        ..LiveUser::default()
    }
}

fn unowned_user(name: &str) -> LiveUser {
    LiveUser {
        name: name.into(),
        path: "/".into(),
        ..LiveUser::default()
    }
}

#[test]
fn from_nothing_everything_is_created_in_dependency_order() {
    let plan = build(&state(ESTATE), &LiveState::default());
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    let mut stages: Vec<Stage> = plan.changes.iter().map(|c| c.stage).collect();
    stages.dedup();
    assert_eq!(
        stages,
        [
            Stage::AdminRoleStack,
            Stage::ExecutionRoleStack,
            Stage::StackSet,
            Stage::StackInstances,
            Stage::MfaPolicy,
            Stage::Groups,
            Stage::GroupPolicies,
            Stage::Users,
            Stage::Memberships,
            Stage::LoginProfiles,
        ]
    );
    assert_eq!(plan.summary.add, plan.changes.len());
    assert!(plan.lockouts.is_empty() && plan.warnings.is_empty());
    insta::assert_snapshot!(outline(&plan));
}

#[test]
fn stack_instances_live_in_their_target_account() {
    let plan = build(&state(ESTATE), &LiveState::default());
    let accounts: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.kind() == Kind::StackInstance)
        .map(|c| c.account.as_str())
        .collect();
    assert_eq!(accounts, ["111111111111", "222222222222", "333333333333"]);
    assert!(
        plan.changes
            .iter()
            .filter(|c| c.kind() != Kind::StackInstance)
            .all(|c| c.account.as_str() == "111111111111")
    );
}

#[test]
fn a_converged_estate_plans_nothing() {
    let desired = state(ESTATE);
    let live = converge(&desired, LiveState::default());
    let plan = build(&desired, &live);
    assert!(plan.is_empty(), "{}", outline(&plan));
    assert!(plan.warnings.is_empty() && plan.unmanaged_users.is_empty());
    assert_eq!(plan.summary, Default::default());
}

#[test]
fn an_apply_cut_off_anywhere_is_finished_by_the_next() {
    let desired = state(ESTATE);
    let full = build(&desired, &LiveState::default());
    for done in 0..=full.changes.len() {
        let mut live = LiveState::default();
        let partial = Plan {
            changes: full.changes[..done].to_vec(),
            ..full.clone()
        };
        apply_in_memory(&mut live, &partial);
        let rest = build(&desired, &live);
        assert_eq!(
            rest.changes.len(),
            full.changes.len() - done,
            "after {done} changes:\n{}",
            outline(&rest)
        );
        let live = converge(&desired, live);
        let again = build(&desired, &live);
        assert!(again.is_empty(), "after {done}: {}", outline(&again));
    }
}

#[test]
fn a_password_policy_comes_first_and_converges() {
    let desired = state(&with_password_policy(ESTATE, "min-length=14"));
    let plan = build(&desired, &LiveState::default());
    assert_eq!(plan.changes[0].address, "password-policy");
    assert_eq!(plan.changes[0].stage, Stage::PasswordPolicy);
    let live = converge(&desired, LiveState::default());
    assert!(build(&desired, &live).is_empty());
}

#[test]
fn offboarding_removes_every_dependent_before_the_user() {
    let (desired, mut live) = converged(ESTATE);
    let mut carol = owned_user("carol");
    carol.groups = ["group-admin".to_owned(), "legacy-team".to_owned()].into();
    carol.inline_policies = ["scratch".to_owned()].into();
    carol.attached_policies = ["arn:aws:iam::aws:policy/IAMUserChangePassword".to_owned()].into();
    carol.dependents = Some(UserDependents {
        access_keys: vec!["AKIAEXAMPLE".into()],
        signing_certificates: vec!["CERT1".into()],
        ssh_public_keys: vec!["APKAEXAMPLE".into()],
        service_specific_credentials: vec!["ACCAEXAMPLE".into()],
        mfa_devices: vec!["arn:aws:iam::111111111111:mfa/carol".into()],
        unreadable: vec![],
    });
    live.users.insert("carol".into(), carol);
    live.groups.insert(
        "legacy-team".into(),
        LiveGroup {
            name: "legacy-team".into(),
            path: "/".into(),
            ..LiveGroup::default()
        },
    );

    let plan = build(&desired, &live);
    assert!(plan.changes.iter().all(|c| c.action == Action::Delete));
    let (user, dependents) = plan.changes.split_last().unwrap();
    assert_eq!(user.address, "user.carol");
    assert_eq!(user.stage, Stage::DeleteUsers);
    assert!(dependents.iter().all(|c| c.stage == Stage::UserDependents));
    assert_eq!(
        addresses(&plan),
        [
            "login-profile.carol",
            "access-key.carol/AKIAEXAMPLE",
            "signing-certificate.carol/CERT1",
            "ssh-public-key.carol/APKAEXAMPLE",
            "service-specific-credential.carol/ACCAEXAMPLE",
            "mfa-device.carol/carol",
            "user-policy.carol/scratch",
            "user-policy-attachment.carol/IAMUserChangePassword",
            "membership.carol/group-admin",
            "membership.carol/legacy-team",
            "user.carol",
        ]
    );
    let mfa = &plan.changes[5];
    let calls: Vec<&str> = mfa.operations.iter().map(Operation::name).collect();
    assert_eq!(calls, ["DeactivateMFADevice", "DeleteVirtualMFADevice"]);
    // Applying it really empties the user before DeleteUser (checked in memory).
    let live = converge(&desired, live);
    assert!(!live.users.contains_key("carol"));
    assert!(live.groups.contains_key("legacy-team"), "not ours: kept");
}

#[test]
fn unreadable_dependents_are_a_warning() {
    let (desired, mut live) = converged(ESTATE);
    let mut carol = owned_user("carol");
    carol.dependents = Some(UserDependents {
        unreadable: vec!["ListSSHPublicKeys: AccessDenied".into()],
        ..UserDependents::default()
    });
    live.users.insert("carol".into(), carol);
    let plan = build(&desired, &live);
    assert_eq!(plan.warnings.len(), 1);
    assert!(
        plan.warnings[0].contains("ListSSHPublicKeys"),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn an_unowned_undeclared_user_is_listed_and_left_alone() {
    let (desired, mut live) = converged(ESTATE);
    let mut dave = unowned_user("dave");
    dave.groups = ["group-admin".to_owned(), "break-glass".to_owned()].into();
    dave.login_profile = None;
    live.users.insert("dave".into(), dave);
    let plan = build(&desired, &live);
    assert!(plan.is_empty(), "{}", outline(&plan));
    assert_eq!(plan.unmanaged_users, ["dave"]);
}

#[test]
fn adopting_a_declared_unowned_user_is_an_explicit_update() {
    let (desired, mut live) = converged(ESTATE);
    let mut alice = unowned_user("alice");
    alice.tags = [("team".to_owned(), "platform".to_owned())].into();
    alice.login_profile = Some(true);
    live.users.insert("alice".into(), alice);
    let plan = build(&desired, &live);
    assert_eq!(
        addresses(&plan),
        ["user.alice", "membership.alice/group-admin"]
    );
    let adopt = &plan.changes[0];
    assert_eq!(adopt.action, Action::Update);
    assert_eq!(adopt.reason, Some(Reason::Adopt));
    assert!(matches!(adopt.operations[..], [Operation::TagUser { .. }]));
    assert!(plan.unmanaged_users.is_empty());
    assert_converges(&desired, live);
}

#[test]
fn adding_an_account_to_a_project_touches_only_that_project() {
    let before = state(ESTATE);
    let live = converge(&before, LiveState::default());
    let after = state(&ESTATE.replace(
        r#"account "p-prod" id="222222222222""#,
        r#"account "p-prod" id="222222222222"
        account "p-stg" id="444444444444""#,
    ));
    let plan = build(&after, &live);
    assert_eq!(
        addresses(&plan),
        [
            "stack-instance.iam-roles/444444444444/ap-northeast-1",
            "group-policy.group-admin-p/assume-role",
            "group-policy.group-developer-p/assume-role",
            "group-policy.group-operator-p/assume-role",
        ]
    );
    let instance = &plan.changes[0];
    assert_eq!(instance.action, Action::Create);
    assert_eq!(instance.account.as_str(), "444444444444");
    for change in &plan.changes[1..] {
        assert_eq!(change.action, Action::Update);
        let resources = &change.after.as_ref().unwrap()["Statement"][0]["Resource"];
        assert_eq!(resources.as_array().unwrap().len(), 2, "{resources}");
    }
    // Global groups name no account, so they did not change.
    let global = &live.groups["group-admin"].inline_policies[GROUP_POLICY_NAME];
    assert_eq!(
        global.as_json()["Statement"][0]["Resource"],
        json!("arn:aws:iam::*:role/role-admin")
    );
}

#[test]
fn removing_an_account_deletes_its_stack_instance_last() {
    let text = ESTATE.replace(
        r#"account "p-prod" id="222222222222""#,
        r#"account "p-prod" id="222222222222"
        account "p-stg" id="444444444444""#,
    );
    let live = converge(&state(&text), LiveState::default());
    let plan = build(&state(ESTATE), &live);
    let last = plan.changes.last().unwrap();
    assert_eq!(
        last.address,
        "stack-instance.iam-roles/444444444444/ap-northeast-1"
    );
    assert_eq!(
        (last.action, last.stage),
        (Action::Delete, Stage::DeleteStackInstances)
    );
}

/// A document as IAM hands it back: URL-encoded.
fn url_encoded(document: &Value) -> String {
    percent_encoding::utf8_percent_encode(&document.to_string(), percent_encoding::NON_ALPHANUMERIC)
        .to_string()
}

#[test]
fn documents_equal_to_iam_plan_no_change() {
    let (desired, mut live) = converged(ESTATE);
    // Single-item lists where jumpgate writes scalars, and URL-encoded on the way back.
    let group = group_mut(&mut live, "group-admin");
    let mut listy = group.inline_policies[GROUP_POLICY_NAME].as_json().clone();
    let statement = &mut listy["Statement"][0];
    statement["Action"] = json!([statement["Action"]]);
    statement["Resource"] = json!([statement["Resource"]]);
    let decoded = PolicyDocument::parse(&url_encoded(&listy)).unwrap();
    group
        .inline_policies
        .insert(GROUP_POLICY_NAME.into(), decoded);
    // Statements in another order, and lists of strings in another order.
    let policy = live.policies.get_mut(MFA_POLICY_NAME).unwrap();
    let mut document = policy.document.as_json().clone();
    let statements = document["Statement"].as_array_mut().unwrap();
    assert!(
        statements.len() > 1,
        "the MFA policy has several statements"
    );
    statements.reverse();
    for s in statements.iter_mut() {
        if let Some(actions) = s.get_mut("Action").and_then(Value::as_array_mut) {
            actions.reverse();
        }
    }
    policy.document = document.into();
    let plan = build(&desired, &live);
    assert!(plan.is_empty(), "{}", outline(&plan));
}

#[test]
fn a_changed_document_is_an_update_with_both_sides() {
    let (desired, mut live) = converged(ESTATE);
    let group = group_mut(&mut live, "group-developer-p");
    group.inline_policies.insert(
        GROUP_POLICY_NAME.into(),
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": "sts:AssumeRole", "Resource": "*"}]})
        .into(),
    );
    let plan = build(&desired, &live);
    assert_eq!(
        addresses(&plan),
        ["group-policy.group-developer-p/assume-role"]
    );
    let change = &plan.changes[0];
    assert_eq!(change.action, Action::Update);
    assert_eq!(
        change.before.as_ref().unwrap()["Statement"][0]["Resource"],
        "*"
    );
}

#[test]
fn a_full_managed_policy_frees_its_oldest_version_first() {
    let (desired, mut live) = converged(ESTATE);
    let policy = live.policies.get_mut(MFA_POLICY_NAME).unwrap();
    policy.versions = ["v3", "v4", "v5", "v6", "v7"].map(String::from).into();
    policy.default_version = "v7".into();
    policy.document = json!({"Version": "2012-10-17", "Statement": []}).into();
    let plan = build(&desired, &live);
    assert_eq!(addresses(&plan), ["managed-policy.policy-enforce-mfa"]);
    match &plan.changes[0].operations[..] {
        [Operation::CreatePolicyVersion { delete_version, .. }] => {
            assert_eq!(delete_version.as_deref(), Some("v3"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stray_policies_on_owned_groups_are_removed() {
    let (desired, mut live) = converged(ESTATE);
    let group = group_mut(&mut live, "group-operator");
    group
        .inline_policies
        .insert("hand-made".into(), json!({"Statement": []}).into());
    group
        .attached_policies
        .insert("arn:aws:iam::aws:policy/AdministratorAccess".into());
    let plan = build(&desired, &live);
    assert_eq!(
        addresses(&plan),
        [
            "group-policy.group-operator/hand-made",
            "group-policy-attachment.group-operator/AdministratorAccess",
        ]
    );
    assert!(
        plan.changes
            .iter()
            .all(|c| c.stage == Stage::RemoveGroupPolicies)
    );
}

#[test]
fn an_obsolete_owned_group_is_emptied_then_deleted() {
    let with_project = state(ESTATE);
    let live = converge(&with_project, LiveState::default());
    let without = state(
        r#"
        jump-account id="111111111111" region="ap-northeast-1"
        account "shared" id="333333333333"
        user "alice" { access "admin"; }
        user "bob" { access "developer"; }
    "#,
    );
    let plan = build(&without, &live);
    let deleted = addresses_of(&plan, Kind::Group);
    assert_eq!(
        deleted,
        [
            "group.group-admin-p",
            "group.group-developer-p",
            "group.group-operator-p"
        ]
    );
    let live = converge(&without, live);
    assert!(build(&without, &live).is_empty());
    assert!(!live.groups.contains_key("group-developer-p"));
}

#[test]
fn lockouts_name_every_account_no_admin_can_reach() {
    let text = ESTATE.replace(r#"access "admin""#, r#"access "admin" project="p""#);
    let plan = build(&state(&text), &LiveState::default());
    let locked: Vec<(&str, &str)> = plan
        .lockouts
        .iter()
        .map(|l| (l.account.as_str(), l.account_id.as_str()))
        .collect();
    assert_eq!(
        locked,
        [("jump", "111111111111"), ("shared", "333333333333")]
    );
    assert!(plan.lockouts.iter().all(|l| l.role == "role-admin"));
}

#[test]
fn a_console_less_user_gets_no_login_profile_and_loses_one() {
    let text = ESTATE.replace(r#"user "bob""#, r#"user "bob" console=#false"#);
    let desired = state(&text);
    let plan = build(&desired, &LiveState::default());
    assert!(addresses(&plan).iter().any(|a| a == "login-profile.alice"));
    assert!(!addresses(&plan).iter().any(|a| a == "login-profile.bob"));
    let mut live = converge(&state(ESTATE), LiveState::default());
    assert_eq!(live.users["bob"].login_profile, Some(true));
    let plan = build(&desired, &live);
    assert_eq!(addresses(&plan), ["login-profile.bob"]);
    assert_eq!(plan.changes[0].stage, Stage::RemoveLoginProfiles);
    apply_in_memory(&mut live, &plan);
    assert!(build(&desired, &live).is_empty());
}

#[test]
fn initial_passwords_go_where_the_file_says() {
    let text = ESTATE.replace(
        r#"user "bob""#,
        &format!(r#"user "bob" age-recipient="{AGE_RECIPIENT}""#),
    );
    let plan = build(&state(&text), &LiveState::default());
    let delivery = |user: &str| {
        plan.changes
            .iter()
            .find(|c| c.address == format!("login-profile.{user}"))
            .map(|c| c.after.as_ref().unwrap()["password"].clone())
            .unwrap()
    };
    assert_eq!(delivery("alice"), json!({"to": "file"}));
    assert_eq!(
        delivery("bob"),
        json!({"to": "age", "recipient": AGE_RECIPIENT})
    );
}

#[test]
fn a_missing_stack_set_hides_stale_instances() {
    // Instances listed for a stack set that is gone are not deleted twice.
    let (desired, mut live) = converged(ESTATE);
    live.stack_set.as_mut().unwrap().status = StackSetStatus::Deleted;
    let plan = build(&desired, &live);
    assert!(plan.changes.iter().all(|c| c.action == Action::Create));
    assert_eq!(
        plan.changes
            .iter()
            .filter(|c| c.kind() == Kind::StackInstance)
            .count(),
        3
    );
}

#[test]
fn adopting_a_group_also_settles_its_members_in_one_apply() {
    let (desired, mut live) = converged(ESTATE);
    // A hand-made group-operator that bob, a developer, is in.
    let group = group_mut(&mut live, "group-operator");
    group.path = "/".into();
    user_mut(&mut live, "bob")
        .groups
        .insert("group-operator".into());
    let plan = build(&desired, &live);
    assert_eq!(
        addresses(&plan),
        ["group.group-operator", "membership.bob/group-operator"]
    );
    assert_converges(&desired, live);
}

/// Estates to move between; every move must converge in one apply.
const ESTATES: &[&str] = &[
    ESTATE,
    r#"
    jump-account id="111111111111" region="ap-northeast-1" target=#false {
        password-policy min-length=14 require-symbols=#true
    }
    project "p" {
        account "p-prod" id="222222222222"
        account "p-stg" id="444444444444"
    }
    project "q" { account "q-prod" id="555555555555"; }
    account "shared" id="333333333333"
    user "alice" { access "admin"; access "operator" project="q"; }
    user "erin" console=#false { access "developer" project="p"; }
    "#,
    r#"
    jump-account id="111111111111" region="ap-northeast-1"
    role "admin" policy="arn:aws:iam::aws:policy/AdministratorAccess"
    role "auditor" policy="arn:aws:iam::aws:policy/SecurityAudit" session-hours=4
    account "shared" id="333333333333"
    user "bob" { access "auditor"; access "admin"; }
    "#,
    r#"
    jump-account id="111111111111" region="ap-northeast-1"
    project "p" { }
    user "alice" { access "admin" project="p"; }
    "#,
];

#[test]
fn every_move_between_estates_converges_in_one_apply() {
    for (i, from) in ESTATES.iter().enumerate() {
        let live = converge(&state(from), LiveState::default());
        for (j, to) in ESTATES.iter().enumerate() {
            let desired = state(to);
            let plan = build(&desired, &live);
            let mut moved = live.clone();
            apply_in_memory(&mut moved, &plan);
            let again = build(&desired, &moved);
            assert!(
                again.is_empty(),
                "estate {i} → {j} needs a second apply:\n{}",
                outline(&again)
            );
            assert!(plan.warnings.is_empty(), "{i} → {j}: {:?}", plan.warnings);
        }
    }
}

const ORGANIZATION: &str = r#"
    jump-account id="111111111111" region="ap-northeast-1"
    organization
    account "sandbox" email="me+sandbox@example.com"
    account "prod" email="me+prod@example.com"
    account "audit" id="555555555555"
    user "me" { access "admin" }
"#;

fn organization_with(accounts: &[(&str, &str)]) -> LiveOrganization {
    LiveOrganization {
        management_account: AccountId::new("111111111111").unwrap(),
        accounts: accounts
            .iter()
            .map(|(id, email)| OrgAccount {
                id: AccountId::new(id).unwrap(),
                name: (*email).into(),
                email: (*email).into(),
                status: AccountStatus::Active,
            })
            .collect(),
    }
}

#[test]
fn organizations_mode_creates_accounts_first_then_bootstraps_them() {
    let desired = state(ORGANIZATION);
    let mut live = LiveState {
        organization: Some(organization_with(&[
            ("111111111111", "root@example.com"),
            ("555555555555", "audit@example.com"),
            ("666666666666", "old@example.com"),
        ])),
        ..LiveState::default()
    };
    live.execution_role_stacks
        .insert(AccountId::new("555555555555").unwrap(), false);
    let first = build(&desired, &live);
    assert_eq!(first.changes[0].stage, Stage::CreateAccounts);
    let created = addresses_of(&first, Kind::Account);
    assert_eq!(created, ["account.sandbox", "account.prod"]);
    // The existing member is bootstrapped through the access role before its instance.
    let bootstrap = first
        .changes
        .iter()
        .position(|c| c.stage == Stage::BootstrapAccounts)
        .expect("a bootstrap change");
    let instance = first
        .changes
        .iter()
        .position(|c| c.kind() == Kind::StackInstance && c.account.as_str() == "555555555555")
        .expect("an instance for the existing member");
    assert!(bootstrap < instance);
    assert!(
        first
            .warnings
            .iter()
            .any(|w| w.contains("666666666666") && w.contains("never closes")),
        "{:?}",
        first.warnings
    );
    apply_in_memory(&mut live, &first);
    // The new accounts are matched by e-mail now; they still need the execution role.
    for account in &live.organization.as_ref().unwrap().accounts {
        live.execution_role_stacks
            .entry(account.id.clone())
            .or_insert(false);
    }
    let follow_up = build(&desired, &live);
    let bootstrapped = follow_up
        .changes
        .iter()
        .filter(|c| c.stage == Stage::BootstrapAccounts)
        .count();
    assert_eq!(bootstrapped, 2, "{:#?}", follow_up.changes);
    assert!(follow_up.changes.iter().all(|c| c.kind() != Kind::Account));
    apply_in_memory(&mut live, &follow_up);
    assert!(build(&desired, &live).is_empty());
}

#[test]
fn without_organizations_accounts_lacking_an_instance_need_bootstrap() {
    let desired = state(
        r#"
        jump-account id="111111111111" region="ap-northeast-1"
        account "shared" id="222222222222"
        user "me" { access "admin" }
    "#,
    );
    let plan = build(&desired, &LiveState::default());
    let hints: Vec<(&str, &str)> = plan
        .bootstrap_needed
        .iter()
        .map(|h| (h.account.as_str(), h.account_id.as_str()))
        .collect();
    assert_eq!(hints, [("shared", "222222222222")]);
    let mut live = LiveState::default();
    apply_in_memory(&mut live, &plan);
    assert!(build(&desired, &live).bootstrap_needed.is_empty());
}

#[test]
fn a_stack_whose_creation_failed_is_deleted_and_created_again() {
    let desired = state(ORGANIZATION);
    let mut live = converge(
        &desired,
        LiveState {
            organization: Some(organization_with(&[("111111111111", "root@example.com")])),
            ..LiveState::default()
        },
    );
    live.stacks.get_mut("stackset-admin-role").unwrap().status = StackStatus::RollbackComplete;
    let plan = build(&desired, &live);
    let change = plan
        .changes
        .iter()
        .find(|c| c.address == "stack.stackset-admin-role")
        .expect("the failed stack is replaced");
    let calls: Vec<&str> = change.operations.iter().map(Operation::name).collect();
    assert_eq!(calls, ["DeleteStack", "CreateStack"]);
    assert_eq!(change.reason, Some(Reason::Replace));
    apply_in_memory(&mut live, &plan);
    assert!(build(&desired, &live).is_empty());
}

const ONE_MEMBER: &str = r#"
    jump-account id="111111111111" region="ap-northeast-1"
    account "shared" id="222222222222"
    user "me" { access "admin" }
"#;

fn instance_in<'a>(live: &'a mut LiveState, account: &str) -> &'a mut LiveStackInstance {
    live.stack_instances
        .iter_mut()
        .find(|i| i.account.as_str() == account)
        .unwrap_or_else(|| panic!("no instance in {account}"))
}

#[test]
fn an_instance_left_outdated_by_a_failure_is_deployed_again_until_current() {
    let (desired, mut live) = converged(ONE_MEMBER);
    let failed = instance_in(&mut live, "222222222222");
    failed.status = StackInstanceStatus::Outdated;
    failed.status_reason = Some(
        "Account 222222222222 should have 'AWSCloudFormationStackSetExecutionRole' role".into(),
    );
    let plan = build(&desired, &live);
    let repairs: Vec<(String, Vec<&str>, Option<Reason>)> = plan
        .changes
        .iter()
        .map(|c| {
            (
                c.address.to_string(),
                c.operations.iter().map(Operation::name).collect(),
                c.reason,
            )
        })
        .collect();
    assert_eq!(
        repairs,
        [(
            "stack-instance.iam-roles/222222222222/ap-northeast-1".to_owned(),
            vec!["UpdateStackInstances"],
            Some(Reason::Repair)
        )]
    );
    assert_eq!(plan.changes[0].action, Action::Update);
    assert_eq!(
        plan.changes[0].before.as_ref().unwrap()["status"],
        "OUTDATED"
    );
    apply_in_memory(&mut live, &plan);
    assert!(build(&desired, &live).is_empty());
}

#[test]
fn an_update_of_the_stack_set_repairs_outdated_instances_without_a_second_operation() {
    let (desired, mut live) = converged(ONE_MEMBER);
    instance_in(&mut live, "222222222222").status = StackInstanceStatus::Outdated;
    live.stack_set.as_mut().unwrap().template = json!({"Resources": {}});
    let plan = build(&desired, &live);
    let calls: Vec<&str> = plan
        .changes
        .iter()
        .flat_map(|c| c.operations.iter().map(Operation::name))
        .collect();
    assert_eq!(calls, ["UpdateStackSet"]);
}

#[test]
fn an_inoperable_instance_is_reported_with_what_to_do_not_updated() {
    let (desired, mut live) = converged(ONE_MEMBER);
    instance_in(&mut live, "222222222222").status = StackInstanceStatus::Inoperable;
    let plan = build(&desired, &live);
    assert!(plan.changes.is_empty(), "{:#?}", plan.changes);
    assert_warned(&plan, &["INOPERABLE", "--retain-stacks"]);
}

#[test]
fn a_member_whose_access_role_cannot_be_assumed_is_named_for_bootstrap_not_bootstrapped() {
    let desired = state(
        r#"
        jump-account id="111111111111" region="ap-northeast-1"
        organization
        account "invited" id="555555555555"
        user "me" { access "admin" }
    "#,
    );
    let mut live = LiveState {
        organization: Some(organization_with(&[
            ("111111111111", "root@example.com"),
            ("555555555555", "invited@example.com"),
        ])),
        ..LiveState::default()
    };
    live.unreachable_accounts
        .insert(AccountId::new("555555555555").unwrap());
    let plan = build(&desired, &live);
    assert!(
        plan.changes
            .iter()
            .all(|c| c.stage != Stage::BootstrapAccounts),
        "{:#?}",
        plan.changes
    );
    let hinted: Vec<&str> = plan
        .bootstrap_needed
        .iter()
        .map(|h| h.account_id.as_str())
        .collect();
    assert_eq!(hinted, ["555555555555"]);
    assert_warned(&plan, &["555555555555", "cannot be assumed"]);
}

/// IAM names ignore case ("IAM identifiers"): a file's `Alice` and a live
/// `alice` are one user, renamed in place, never created and deleted.
#[test]
fn a_user_differing_only_in_case_is_renamed_not_replaced() {
    let desired = state(&ESTATE.replace("user \"alice\"", "user \"Alice\""));
    let mut live = converge(&state(ESTATE), LiveState::default());
    // And bob, spelt otherwise and not jumpgate's, is adopted by the rename.
    let mut bob = live.users.remove("bob").expect("bob");
    bob.name = "BOB".into();
    bob.tags.clear();
    live.users.insert("BOB".into(), bob);
    let plan = build(&desired, &live);
    assert_eq!(
        addresses(&plan),
        ["user.Alice", "user.bob"],
        "{}",
        outline(&plan)
    );
    let rename = &plan.changes[0];
    assert_eq!(rename.action, Action::Update);
    assert_eq!(
        rename.operations,
        [Operation::UpdateUser {
            user: "alice".into(),
            new_user_name: "Alice".parse().unwrap(),
        }]
    );
    assert_eq!(
        rename.after.as_ref().unwrap()["renamed_from"],
        json!("alice")
    );
    assert_eq!(rename.reason, Some(Reason::Rename));
    assert!(matches!(
        plan.changes[1].operations[..],
        [Operation::UpdateUser { .. }, Operation::TagUser { .. }]
    ));
    assert_eq!(plan.changes[1].reason, Some(Reason::Adopt));
    assert!(plan.unmanaged_users.is_empty());
    assert_converges(&desired, live);
}

#[test]
fn a_group_differing_only_in_case_is_renamed_with_its_members() {
    let (desired, mut live) = converged(ESTATE);
    let mut group = live.groups.remove("group-admin").expect("group-admin");
    group.name = "Group-Admin".into();
    live.groups.insert("Group-Admin".into(), group);
    let alice = user_mut(&mut live, "alice");
    alice.groups.remove("group-admin");
    alice.groups.insert("Group-Admin".into());
    let plan = build(&desired, &live);
    assert_eq!(
        addresses(&plan),
        ["group.group-admin"],
        "{}",
        outline(&plan)
    );
    assert!(matches!(
        plan.changes[0].operations[..],
        [Operation::UpdateGroupName { .. }]
    ));
    assert_converges(&desired, live);
}

/// CreateLoginProfile must meet the account's policy too, not only the file's.
#[test]
fn passwords_meet_the_stricter_of_the_file_and_the_account_policy() {
    let length = |file: Option<u8>, account: Option<u8>| {
        let policy = |min_length| crate::model::desired::PasswordPolicy {
            min_length,
            ..Default::default()
        };
        let text = match file {
            Some(min) => ESTATE.replace(
                r#"region="ap-northeast-1""#,
                &format!(r#"region="ap-northeast-1" {{ password-policy min-length={min} }}"#),
            ),
            None => ESTATE.to_owned(),
        };
        let live = LiveState {
            password_policy: account.map(policy),
            ..LiveState::default()
        };
        let plan = build(&state(&text), &live);
        plan.changes
            .iter()
            .flat_map(|c| &c.operations)
            .find_map(|op| match op {
                Operation::CreateLoginProfile {
                    password_length, ..
                } => Some(*password_length),
                _ => None,
            })
            .expect("a login profile")
    };
    assert_eq!(length(None, None), 20);
    assert_eq!(length(None, Some(40)), 40);
    assert_eq!(length(Some(32), Some(40)), 40);
    assert_eq!(length(Some(64), Some(40)), 64);
}

#[test]
fn saved_operations_carry_only_names_aws_could_hold() {
    let traversal = "../../x";
    // A name from the file is refused as the saved plan is read...
    let typed = json!({"call": "AddUserToGroup", "user": traversal, "group": "group-admin"});
    let refused = serde_json::from_value::<Operation>(typed).expect_err("a path for a user");
    assert!(refused.to_string().contains("user name"), "{refused}");
    // ...a name as IAM spells it by `check_names`, and the JSON is the same.
    for (call, field) in [("DeleteUser", "user"), ("DeleteGroup", "group")] {
        let saved = json!({"call": call, field: traversal});
        let operation: Operation = serde_json::from_value(saved.clone()).expect(call);
        assert_eq!(serde_json::to_value(&operation).unwrap(), saved);
        let refused = operation.check_names().expect_err(call);
        assert!(
            refused.0.contains(&format!("{field} name")),
            "{call}: {refused}"
        );
    }
    let typed = json!({"call": "AddUserToGroup", "user": "alice", "group": "group-admin"});
    let operation: Operation = serde_json::from_value(typed.clone()).expect("valid names");
    assert_eq!(serde_json::to_value(&operation).unwrap(), typed);
    assert_eq!(operation.check_names(), Ok(()));
}
