//! `--only ADDRESS…`: the part of a plan that the named changes need, for
//! cutting someone off now while the rest of the queue waits for review.
//!
//! A change needs another when AWS would refuse it without the other done
//! first: `DeleteUser` needs the user's credentials, policies and
//! memberships gone (DeleteConflict otherwise), `DeleteGroup` needs its
//! members and policies gone, `AddUserToGroup` needs the user and the group
//! to exist, a login profile needs its user, a group's policy its group, a
//! policy attachment the managed policy, stack instances their StackSet and
//! the StackSet its administration role. Nothing else is pulled in.
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_remove.html>

use super::{Action, Address, Change, Kind, Operation, Plan, Summary};

/// A plan cut down to the selected changes and what they need.
#[derive(Debug, Clone, PartialEq)]
pub struct Subset {
    /// Still a plan of the same live state: it applies, or saves, as any plan.
    pub plan: Plan,
    /// The changes left for a later apply, in plan order.
    pub pending: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnlyError {
    #[error("{} not in the plan{}", list(.missing), hint(.suggestions))]
    NotInPlan {
        missing: Vec<String>,
        /// For each missing address with a close one in the plan: (missing, close).
        suggestions: Vec<(String, String)>,
    },
}

fn list(missing: &[String]) -> String {
    match missing {
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(", ")),
    }
}

fn hint(suggestions: &[(String, String)]) -> String {
    suggestions
        .iter()
        .map(|(missing, close)| format!("; did you mean {close} (for {missing})?"))
        .collect()
}

/// The changes named by `addresses` (compared ignoring case, as IAM compares
/// names) and, transitively, those they need. Refuses an address that names
/// no change of the plan.
pub fn only(plan: &Plan, addresses: &[String]) -> Result<Subset, OnlyError> {
    let position = |address: &String| {
        let address = Address::parse(address)?;
        plan.changes
            .iter()
            .position(|c| c.address.same_as(&address))
    };
    let missing: Vec<String> = addresses
        .iter()
        .filter(|a| position(a).is_none())
        .cloned()
        .collect();
    if !missing.is_empty() {
        let known: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
        let known: Vec<&str> = known.iter().map(String::as_str).collect();
        let suggestions = missing
            .iter()
            .filter_map(|m| {
                crate::lang::did_you_mean(m, &known).map(|close| (m.clone(), close.to_owned()))
            })
            .collect();
        return Err(OnlyError::NotInPlan {
            missing,
            suggestions,
        });
    }
    let mut selected = vec![false; plan.changes.len()];
    let mut work: Vec<usize> = addresses.iter().filter_map(position).collect();
    while let Some(index) = work.pop() {
        if std::mem::replace(&mut selected[index], true) {
            continue;
        }
        work.extend(needs(&plan.changes, index).filter(|&j| !selected[j]));
    }
    let (mut changes, mut pending) = (Vec::new(), Vec::new());
    for (change, keep) in plan.changes.iter().zip(selected) {
        if keep { &mut changes } else { &mut pending }.push(change.clone());
    }
    Ok(Subset {
        plan: Plan {
            summary: Summary::of(&changes),
            changes,
            ..plan.clone()
        },
        pending,
    })
}

/// The indexes of the changes that `changes[index]` needs done first.
fn needs(changes: &[Change], index: usize) -> impl Iterator<Item = usize> + '_ {
    let change = &changes[index];
    changes
        .iter()
        .enumerate()
        .filter(move |(j, other)| *j != index && needed_by(change, other))
        .map(|(j, _)| j)
}

/// Whether `change` cannot be made before `other`.
fn needed_by(change: &Change, other: &Change) -> bool {
    let creates = |kind: Kind| other.kind() == kind && other.action == Action::Create;
    let same = |a: Option<&str>, b: Option<&str>| matches!((a, b), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
    let (kind, other_kind) = (change.kind(), other.kind());
    match change.action {
        // Deleting a user or a group: whatever still hangs on it goes first.
        Action::Delete => match kind {
            Kind::User => {
                other.action == Action::Delete
                    && other_kind != Kind::User
                    && same(user_of(change), user_of(other))
            }
            Kind::Group => {
                other.action == Action::Delete
                    && other_kind != Kind::Group
                    && same(group_of(change), group_of(other))
            }
            _ => false,
        },
        // Creating or updating: what it refers to must exist.
        Action::Create | Action::Update => {
            (kind != Kind::User && creates(Kind::User) && same(user_of(change), user_of(other)))
                || (kind != Kind::Group
                    && creates(Kind::Group)
                    && same(group_of(change), group_of(other)))
                || (other_kind == Kind::ManagedPolicy
                    && other.action != Action::Delete
                    && attaches(change).any(|name| other.address.name == name))
                || (kind == Kind::StackInstance
                    && other.action != Action::Delete
                    && matches!(other_kind, Kind::StackSet | Kind::Stack))
                || (kind == Kind::StackSet
                    && other.action != Action::Delete
                    && other_kind == Kind::Stack)
        }
    }
}

/// The user a change is about, from its calls.
pub(crate) fn user_of(change: &Change) -> Option<&str> {
    change.operations.iter().find_map(Operation::user)
}

/// The group a change is about, from its calls.
fn group_of(change: &Change) -> Option<&str> {
    change.operations.iter().find_map(Operation::group)
}

/// The names of the managed policies a change attaches.
fn attaches(change: &Change) -> impl Iterator<Item = &str> {
    change
        .operations
        .iter()
        .filter_map(|operation| match operation {
            Operation::AttachGroupPolicy { policy_arn, .. } => policy_arn.rsplit('/').next(),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveState;
    use crate::plan::build;
    use crate::plan::tests::{addresses, apply_in_memory, converge, outline, state};

    const THREE_USERS: &str = r#"
        jump-account id="111111111111" region="ap-northeast-1"
        project "p" {
            account "p-prod" id="222222222222"
        }
        user "alice" {
            access "admin"
        }
        user "bob" {
            access "developer" project="p"
        }
        user "carol" {
            access "operator"
        }
    "#;

    /// Alice and bob are live; the file drops bob, adds dave and gives alice more.
    fn three_pending() -> (crate::model::desired::DesiredState, LiveState) {
        let live = converge(&state(THREE_USERS), LiveState::default());
        let next = state(
            r#"
            jump-account id="111111111111" region="ap-northeast-1"
            project "p" {
                account "p-prod" id="222222222222"
            }
            user "alice" {
                access "admin"
                access "operator"
            }
            user "carol" {
                access "operator"
            }
            user "dave" {
                access "developer" project="p"
            }
        "#,
        );
        (next, live)
    }

    #[test]
    fn offboarding_one_user_takes_what_deleting_them_needs_and_nothing_else() {
        let (desired, mut live) = three_pending();
        let plan = build(&desired, &live);
        let subset = only(&plan, &["user.bob".to_owned()]).unwrap();
        insta::assert_snapshot!(outline(&subset.plan), @r"
        user-dependents        - login-profile.bob
        user-dependents        - membership.bob/group-developer-p
        delete-users           - user.bob
        ");
        assert_eq!(subset.plan.summary.destroy, 3);
        assert_eq!(subset.plan.fingerprint, plan.fingerprint);
        let pending: Vec<String> = subset
            .pending
            .iter()
            .map(|c| c.address.to_string())
            .collect();
        assert_eq!(
            pending,
            [
                "user.dave",
                "membership.alice/group-operator",
                "membership.dave/group-developer-p",
                "login-profile.dave"
            ]
        );
        // Applying the subset leaves exactly the rest pending; a full plan finishes it.
        apply_in_memory(&mut live, &subset.plan);
        assert_eq!(build(&desired, &live).changes, subset.pending);
        let live = converge(&desired, live);
        assert!(build(&desired, &live).is_empty());
    }

    #[test]
    fn a_new_membership_brings_its_user_but_not_their_login_profile() {
        let (desired, live) = three_pending();
        let plan = build(&desired, &live);
        let subset = only(&plan, &["MEMBERSHIP.dave/group-developer-p".to_owned()]).unwrap();
        insta::assert_snapshot!(outline(&subset.plan), @r"
        users                  + user.dave
        memberships            + membership.dave/group-developer-p
        ");
    }

    #[test]
    fn a_new_group_member_brings_the_group_and_its_policy_attachment_needs() {
        let live = LiveState::default();
        let plan = build(&state(THREE_USERS), &live);
        let subset = only(&plan, &["membership.carol/group-operator".to_owned()]).unwrap();
        assert_eq!(
            addresses(&subset.plan),
            [
                "group.group-operator",
                "user.carol",
                "membership.carol/group-operator"
            ]
        );
        let attach = plan
            .changes
            .iter()
            .find(|c| c.address == "group-policy-attachment.group-operator/policy-enforce-mfa")
            .unwrap();
        let subset = only(&plan, &[attach.address.to_string()]).unwrap();
        assert_eq!(
            addresses(&subset.plan),
            [
                "managed-policy.policy-enforce-mfa",
                "group.group-operator",
                "group-policy-attachment.group-operator/policy-enforce-mfa"
            ]
        );
    }

    #[test]
    fn addresses_not_in_the_plan_are_refused_with_a_hint() {
        let (desired, live) = three_pending();
        let plan = build(&desired, &live);
        let err = only(
            &plan,
            &["user.bobb".to_owned(), "stack.nothing-like-it".to_owned()],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "user.bobb, stack.nothing-like-it are not in the plan; did you mean user.bob (for user.bobb)?"
        );
    }
}
