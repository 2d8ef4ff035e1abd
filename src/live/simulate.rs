//! The in-memory AWS: what each planned `Operation` does to a `LiveState`,
//! as `src/aws/` carries it out and `observe` then reads it back. The
//! access impact of a plan plays a plan through it, the planner's tests
//! converge through it, and `tests/contract.rs` runs the same scenarios
//! through it and through the emulator, so it cannot drift from the real
//! adapters unnoticed.
//!
//! A call AWS would refuse changes nothing and returns the refusal, named
//! with AWS's error code. The adapters count a removal's `NoSuchEntity` as
//! done (a resent call may have taken effect): callers that replay a plan
//! for its effect ignore refusals, tests treat them as planner bugs.

use super::{
    AccountStatus, LiveGroup, LivePolicy, LiveStack, LiveStackInstance, LiveStackSet, LiveState,
    LiveUser, OrgAccount, StackInstanceStatus, StackSetStatus, StackStatus, UserDependents,
};
use crate::model::names::{AccountId, Partition, PolicyArn};
use crate::plan::Operation;

/// IAM keeps at most five versions of a managed policy (IAM quotas).
const MAX_POLICY_VERSIONS: usize = 5;

/// A call AWS would refuse, with the error code it answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call}: {code}: {message}")]
pub struct Refusal {
    pub call: String,
    pub code: &'static str,
    pub message: String,
}

/// Where the simulated calls run: the jump account, in its partition.
#[derive(Debug, Clone, Copy)]
pub struct Jump<'a> {
    pub account: &'a AccountId,
    pub partition: Partition,
}

/// Carries out `operation` on `live`, or says why AWS would refuse it.
pub fn apply(live: &mut LiveState, operation: &Operation, jump: Jump) -> Result<(), Refusal> {
    let refuse = |code: &'static str, message: String| Refusal {
        call: operation.name().to_owned(),
        code,
        message,
    };
    let no_user = |user: &str| refuse("NoSuchEntity", format!("no user {user}"));
    let no_group = |group: &str| refuse("NoSuchEntity", format!("no group {group}"));
    use Operation as O;
    match operation.clone() {
        O::UpdateAccountPasswordPolicy { policy } => live.password_policy = Some(policy),
        O::CreateAccount { name, email } => {
            let org = live.organization.as_mut().ok_or_else(|| {
                refuse(
                    "AWSOrganizationsNotInUseException",
                    "the account is in no organization".into(),
                )
            })?;
            // A made-up id, stable for the order accounts are created in.
            let id = format!("{:012}", 100_000_000_000 + org.accounts.len() as u64);
            org.accounts.push(OrgAccount {
                id: AccountId::new(&id).expect("twelve digits"),
                name,
                email,
                status: AccountStatus::Active,
            });
        }
        O::BootstrapAccount { account, .. } => {
            live.execution_role_stacks.insert(account, true);
        }
        O::CreateStack {
            stack,
            template,
            parameters,
        } => {
            // The adapter takes "already exists" for its own earlier attempt.
            live.stacks.entry(stack.clone()).or_insert(LiveStack {
                name: stack,
                status: StackStatus::CreateComplete,
                template,
                parameters,
            });
        }
        O::UpdateStack {
            stack,
            template,
            parameters,
        } => {
            let live_stack = live.stacks.get_mut(&stack).ok_or_else(|| {
                refuse("ValidationError", format!("Stack {stack} does not exist"))
            })?;
            live_stack.status = StackStatus::UpdateComplete;
            live_stack.template = template;
            live_stack.parameters = parameters;
        }
        O::DeleteStack { stack } => {
            live.stacks.remove(&stack);
        }
        O::CreateStackSet {
            stack_set,
            template,
            parameters,
        } => {
            if live.live_stack_set().is_none() {
                live.stack_set = Some(LiveStackSet {
                    name: stack_set,
                    status: StackSetStatus::Active,
                    template,
                    parameters,
                });
                live.stack_instances.clear();
            }
        }
        O::UpdateStackSet {
            template,
            parameters,
            stack_set,
        } => {
            let set = live.stack_set.as_mut().ok_or_else(|| {
                refuse(
                    "StackSetNotFoundException",
                    format!("no StackSet {stack_set}"),
                )
            })?;
            set.template = template;
            set.parameters = parameters;
            // An update deploys to every instance.
            for instance in &mut live.stack_instances {
                instance.status = StackInstanceStatus::Current;
                instance.status_reason = None;
            }
        }
        O::CreateStackInstances {
            stack_set,
            accounts,
            regions,
        }
        | O::UpdateStackInstances {
            stack_set,
            accounts,
            regions,
        } => {
            if live.live_stack_set().is_none() {
                return Err(refuse(
                    "StackSetNotFoundException",
                    format!("no StackSet {stack_set}"),
                ));
            }
            for account in &accounts {
                for region in &regions {
                    let existing = live
                        .stack_instances
                        .iter_mut()
                        .find(|i| i.account == *account && i.region == *region);
                    match existing {
                        Some(instance) => {
                            instance.status = StackInstanceStatus::Current;
                            instance.status_reason = None;
                        }
                        None if matches!(operation, O::UpdateStackInstances { .. }) => {
                            return Err(refuse(
                                "StackInstanceNotFoundException",
                                format!("no stack instance in {account} ({region})"),
                            ));
                        }
                        None => live.stack_instances.push(LiveStackInstance {
                            account: account.clone(),
                            region: region.clone(),
                            status: StackInstanceStatus::Current,
                            status_reason: None,
                        }),
                    }
                }
            }
            live.stack_instances
                .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        }
        O::DeleteStackInstances {
            accounts, regions, ..
        } => live
            .stack_instances
            .retain(|i| !(accounts.contains(&i.account) && regions.contains(&i.region))),
        O::CreatePolicy {
            name,
            path,
            document,
        } => {
            if live.policies.keys().any(|p| p.eq_ignore_ascii_case(&name)) {
                return Err(refuse(
                    "EntityAlreadyExists",
                    format!("policy {name} exists"),
                ));
            }
            let arn = PolicyArn::customer(jump.partition, jump.account, &path, &name);
            let policy = LivePolicy {
                name: name.clone(),
                arn: arn.to_string(),
                path,
                default_version: "v1".into(),
                versions: vec!["v1".into()],
                document,
            };
            live.policies.insert(name, policy);
        }
        O::CreatePolicyVersion {
            policy_arn,
            document,
            delete_version,
        } => {
            let policy = live
                .policies
                .values_mut()
                .find(|p| p.arn == policy_arn)
                .ok_or_else(|| refuse("NoSuchEntity", format!("no policy {policy_arn}")))?;
            if let Some(old) = delete_version {
                policy.versions.retain(|v| *v != old);
            }
            if policy.versions.len() >= MAX_POLICY_VERSIONS {
                return Err(refuse(
                    "LimitExceeded",
                    format!("{policy_arn} has {MAX_POLICY_VERSIONS} versions"),
                ));
            }
            let next = next_version(&policy.versions);
            policy.versions.push(next.clone());
            policy.default_version = next;
            policy.document = document;
        }
        O::CreateGroup { group, path } => {
            let group = String::from(group);
            if live.groups.keys().any(|g| g.eq_ignore_ascii_case(&group)) {
                return Err(refuse(
                    "EntityAlreadyExists",
                    format!("group {group} exists"),
                ));
            }
            let new = LiveGroup {
                name: group.clone(),
                path,
                ..LiveGroup::default()
            };
            live.groups.insert(group, new);
        }
        O::UpdateGroupPath { group, path } => {
            live.groups
                .get_mut(group.as_str())
                .ok_or_else(|| no_group(group.as_str()))?
                .path = path;
        }
        O::UpdateGroupName {
            group,
            new_group_name,
        } => {
            let new_group_name = String::from(new_group_name);
            let mut renamed = live.groups.remove(&group).ok_or_else(|| no_group(&group))?;
            renamed.name = new_group_name.clone();
            for user in live.users.values_mut() {
                if user.groups.remove(&group) {
                    user.groups.insert(new_group_name.clone());
                }
            }
            live.groups.insert(new_group_name, renamed);
        }
        O::PutGroupPolicy {
            group,
            policy_name,
            document,
        } => {
            live.groups
                .get_mut(group.as_str())
                .ok_or_else(|| no_group(group.as_str()))?
                .inline_policies
                .insert(policy_name, document);
        }
        O::DeleteGroupPolicy { group, policy_name } => {
            let removed = live
                .groups
                .get_mut(&group)
                .and_then(|g| g.inline_policies.remove(&policy_name));
            if removed.is_none() {
                return Err(refuse(
                    "NoSuchEntity",
                    format!("no policy {policy_name} on group {group}"),
                ));
            }
        }
        O::AttachGroupPolicy { group, policy_arn } => {
            let exists = live.policies.values().any(|p| p.arn == policy_arn)
                || PolicyArn::is_aws_managed(&policy_arn);
            if !exists {
                return Err(refuse("NoSuchEntity", format!("no policy {policy_arn}")));
            }
            live.groups
                .get_mut(group.as_str())
                .ok_or_else(|| no_group(group.as_str()))?
                .attached_policies
                .insert(policy_arn);
        }
        O::DetachGroupPolicy { group, policy_arn } => {
            if let Some(g) = live.groups.get_mut(&group) {
                g.attached_policies.remove(&policy_arn);
            }
        }
        O::DeleteGroup { group } => {
            let g = live.groups.get(&group).ok_or_else(|| no_group(&group))?;
            let members = live.users.values().any(|u| u.groups.contains(&group));
            if !g.inline_policies.is_empty() || !g.attached_policies.is_empty() || members {
                return Err(refuse(
                    "DeleteConflict",
                    format!("group {group} still has policies or members"),
                ));
            }
            live.groups.remove(&group);
        }
        O::CreateUser { user, tags } => {
            let user = String::from(user);
            if live.users.keys().any(|u| u.eq_ignore_ascii_case(&user)) {
                return Err(refuse("EntityAlreadyExists", format!("user {user} exists")));
            }
            let new = LiveUser {
                name: user.clone(),
                path: "/".into(),
                tags,
                // `observe` reads the login profile of every user it owns.
                login_profile: Some(false),
                ..LiveUser::default()
            };
            live.users.insert(user, new);
        }
        O::TagUser { user, tags } => {
            let existing = live
                .users
                .get_mut(user.as_str())
                .ok_or_else(|| no_user(user.as_str()))?;
            existing.tags.extend(tags);
            existing.login_profile.get_or_insert(false);
        }
        O::UpdateUser {
            user,
            new_user_name,
        } => {
            let new_user_name = String::from(new_user_name);
            let mut renamed = live.users.remove(&user).ok_or_else(|| no_user(&user))?;
            renamed.name = new_user_name.clone();
            live.users.insert(new_user_name, renamed);
        }
        O::AddUserToGroup { user, group } => {
            if !live.groups.contains_key(group.as_str()) {
                return Err(no_group(group.as_str()));
            }
            live.users
                .get_mut(user.as_str())
                .ok_or_else(|| no_user(user.as_str()))?
                .groups
                .insert(group.into());
        }
        O::RemoveUserFromGroup { user, group } => {
            if let Some(u) = live.users.get_mut(&user) {
                u.groups.remove(&group);
            }
        }
        O::CreateLoginProfile { user, .. } => {
            let existing = live
                .users
                .get_mut(user.as_str())
                .ok_or_else(|| no_user(user.as_str()))?;
            if existing.login_profile == Some(true) {
                return Err(refuse(
                    "EntityAlreadyExists",
                    format!("user {user} has a login profile"),
                ));
            }
            existing.login_profile = Some(true);
        }
        O::DeleteLoginProfile { user } => {
            if let Some(u) = live.users.get_mut(&user) {
                u.login_profile = Some(false);
            }
        }
        O::DeleteAccessKey {
            user,
            access_key_id,
        } => {
            if let Some(d) = dependents_mut(live, &user) {
                d.access_keys.retain(|k| *k != access_key_id);
            }
        }
        O::DeleteSigningCertificate {
            user,
            certificate_id,
        } => {
            if let Some(d) = dependents_mut(live, &user) {
                d.signing_certificates.retain(|c| *c != certificate_id);
            }
        }
        O::DeleteSshPublicKey {
            user,
            ssh_public_key_id,
        } => {
            if let Some(d) = dependents_mut(live, &user) {
                d.ssh_public_keys.retain(|k| *k != ssh_public_key_id);
            }
        }
        O::DeleteServiceSpecificCredential {
            user,
            credential_id,
        } => {
            if let Some(d) = dependents_mut(live, &user) {
                d.service_specific_credentials
                    .retain(|c| *c != credential_id);
            }
        }
        O::DeactivateMfaDevice {
            user,
            serial_number,
        } => {
            if let Some(d) = dependents_mut(live, &user) {
                d.mfa_devices.retain(|s| *s != serial_number);
            }
        }
        // The device is no user's once deactivated; the state does not list
        // unassigned devices.
        O::DeleteVirtualMfaDevice { .. } => {}
        O::DeleteUserPolicy { user, policy_name } => {
            if let Some(u) = live.users.get_mut(&user) {
                u.inline_policies.remove(&policy_name);
            }
        }
        O::DetachUserPolicy { user, policy_arn } => {
            if let Some(u) = live.users.get_mut(&user) {
                u.attached_policies.remove(&policy_arn);
            }
        }
        O::DeleteUser { user } => {
            let u = live.users.get(&user).ok_or_else(|| no_user(&user))?;
            if has_dependents(u) {
                return Err(refuse(
                    "DeleteConflict",
                    format!("user {user} still has dependents: {u:?}"),
                ));
            }
            live.users.remove(&user);
        }
    }
    Ok(())
}

/// What DeleteUser requires gone first (API_DeleteUser).
fn has_dependents(user: &LiveUser) -> bool {
    let left = user.dependents.clone().unwrap_or_default();
    user.login_profile == Some(true)
        || !user.groups.is_empty()
        || !user.inline_policies.is_empty()
        || !user.attached_policies.is_empty()
        || !left.access_keys.is_empty()
        || !left.signing_certificates.is_empty()
        || !left.ssh_public_keys.is_empty()
        || !left.service_specific_credentials.is_empty()
        || !left.mfa_devices.is_empty()
}

fn dependents_mut<'a>(live: &'a mut LiveState, user: &str) -> Option<&'a mut UserDependents> {
    live.users
        .get_mut(user)
        .map(|u| u.dependents.get_or_insert_default())
}

/// IAM numbers a policy's versions `v1`, `v2`, …
fn next_version(versions: &[String]) -> String {
    let highest = versions
        .iter()
        .filter_map(|v| v.strip_prefix('v')?.parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    format!("v{}", highest + 1)
}

/// Applies every operation of `operations`, in order, ignoring refusals:
/// what is left is what the calls AWS accepts would leave.
pub fn apply_all<'a>(
    live: &mut LiveState,
    operations: impl IntoIterator<Item = &'a Operation>,
    jump: Jump,
) {
    for operation in operations {
        // A refused call changes nothing, on AWS as here.
        let _ = apply(live, operation, jump);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jump_account() -> AccountId {
        AccountId::new("111111111111").unwrap()
    }

    fn run(live: &mut LiveState, operation: Operation) -> Result<(), &'static str> {
        let account = jump_account();
        let jump = Jump {
            account: &account,
            partition: Partition::Aws,
        };
        apply(live, &operation, jump).map_err(|refusal| refusal.code)
    }

    #[test]
    fn what_aws_refuses_changes_nothing() {
        let mut live = LiveState::default();
        let user = |name: &str| Operation::CreateUser {
            user: name.parse().unwrap(),
            tags: Default::default(),
        };
        run(&mut live, user("alice")).unwrap();
        assert_eq!(run(&mut live, user("ALICE")), Err("EntityAlreadyExists"));
        run(
            &mut live,
            Operation::CreateGroup {
                group: "g".parse().unwrap(),
                path: "/jumpgate/".into(),
            },
        )
        .unwrap();
        let join = Operation::AddUserToGroup {
            user: "alice".parse().unwrap(),
            group: "g".parse().unwrap(),
        };
        run(&mut live, join).unwrap();
        let before = live.clone();
        let delete_user = Operation::DeleteUser {
            user: "alice".into(),
        };
        let delete_group = Operation::DeleteGroup { group: "g".into() };
        assert_eq!(run(&mut live, delete_user.clone()), Err("DeleteConflict"));
        assert_eq!(run(&mut live, delete_group.clone()), Err("DeleteConflict"));
        assert_eq!(live, before);
        run(
            &mut live,
            Operation::RemoveUserFromGroup {
                user: "alice".into(),
                group: "g".into(),
            },
        )
        .unwrap();
        run(&mut live, delete_user).unwrap();
        run(&mut live, delete_group).unwrap();
        assert!(live.users.is_empty() && live.groups.is_empty());
    }

    #[test]
    fn policies_get_their_arn_and_aws_numbered_versions() {
        let mut live = LiveState::default();
        run(
            &mut live,
            Operation::CreatePolicy {
                name: "p".into(),
                path: "/jumpgate/".into(),
                document: serde_json::json!({}).into(),
            },
        )
        .unwrap();
        let arn = "arn:aws:iam::111111111111:policy/jumpgate/p".to_owned();
        assert_eq!(live.policies["p"].arn, arn);
        for _ in 0..4 {
            let next = Operation::CreatePolicyVersion {
                policy_arn: arn.clone(),
                document: serde_json::json!({}).into(),
                delete_version: None,
            };
            run(&mut live, next).unwrap();
        }
        assert_eq!(live.policies["p"].default_version, "v5");
        let sixth = Operation::CreatePolicyVersion {
            policy_arn: arn.clone(),
            document: serde_json::json!({}).into(),
            delete_version: None,
        };
        assert_eq!(run(&mut live, sixth), Err("LimitExceeded"));
    }
}
