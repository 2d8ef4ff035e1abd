//! Projects, from the policies of jumpgate's groups: which live groups
//! follow its naming, and what each grants.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::live::{LiveGroup, LiveState};
use crate::model::desired::RoleDef;
use crate::model::names::{AccountId, ProjectName, RoleArn, RoleKey};
use crate::policy::{PolicyDocument, one_or_many};

/// What one of jumpgate's groups grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum GroupRole {
    /// `group-<role>`: the role everywhere.
    Global(RoleKey),
    /// `group-<role>-<project>`: the role in the accounts its policy names.
    Project {
        role: RoleKey,
        project: ProjectName,
        accounts: BTreeSet<AccountId>,
    },
}

pub(super) struct KnownGroup {
    pub(super) name: String,
    pub(super) role: GroupRole,
    pub(super) owned: bool,
}

/// The live groups that follow jumpgate's naming, with or without its
/// marker, by name.
pub(super) fn classify_groups(
    live: &LiveState,
    roles: &BTreeMap<RoleKey, RoleDef>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, KnownGroup> {
    let mut known = BTreeMap::new();
    for group in live.groups.values() {
        let role = match classify(group, &group_documents(group, live), roles) {
            Some(role) => role,
            None => {
                let members = live
                    .users
                    .values()
                    .filter(|u| u.groups.contains(&group.name))
                    .count();
                if group.is_owned() {
                    notes.push(format!(
                        "group {} is on jumpgate's path but matches no declared role or project; the plan deletes it",
                        group.name
                    ));
                } else if members > 0 {
                    notes.push(format!(
                        "group {} ({members} members) is not one of jumpgate's; its memberships are not imported and `drift` reports it",
                        group.name
                    ));
                }
                continue;
            }
        };
        known.insert(
            group.name.clone(),
            KnownGroup {
                name: group.name.clone(),
                role,
                owned: group.is_owned(),
            },
        );
    }
    known
}

pub(super) fn classify(
    group: &LiveGroup,
    documents: &[&PolicyDocument],
    roles: &BTreeMap<RoleKey, RoleDef>,
) -> Option<GroupRole> {
    let rest = group.name.strip_prefix("group-")?;
    if let Some(role) = roles.keys().find(|k| k.as_str() == rest) {
        return Some(GroupRole::Global(role.clone()));
    }
    let targets: Vec<(Option<AccountId>, String)> =
        documents.iter().flat_map(|d| assumable_roles(d)).collect();
    // With roles `admin` and `admin-x`, `group-admin-x-y` is told apart by
    // the role its policy assumes; without a policy, the longest role wins.
    let mut candidates: Vec<(&RoleKey, ProjectName)> = roles
        .keys()
        .filter_map(|role| {
            let project = rest.strip_prefix(role.as_str())?.strip_prefix('-')?;
            Some((role, ProjectName::new(project).ok()?))
        })
        .collect();
    candidates.sort_by_key(|(role, _)| std::cmp::Reverse(role.as_str().len()));
    let (role, project) = candidates
        .iter()
        .find(|(role, _)| targets.iter().any(|(_, r)| r == role.as_str()))
        .or(candidates.first())
        .cloned()?;
    let accounts = targets
        .into_iter()
        .filter(|(_, r)| r == role.as_str())
        .filter_map(|(account, _)| account)
        .collect();
    Some(GroupRole::Project {
        role: role.clone(),
        project,
        accounts,
    })
}

/// Every policy document of a group: inline ones (jumpgate's and hand-made),
/// and the customer-managed ones attached to it (hand-built estates grant
/// through those: `policy-assume-admin-role-<project>`).
fn group_documents<'a>(group: &'a LiveGroup, live: &'a LiveState) -> Vec<&'a PolicyDocument> {
    let attached = group.attached_policies.iter().filter_map(|arn| {
        live.policies
            .values()
            .find(|p| p.arn == *arn)
            .map(|p| &p.document)
    });
    group.inline_policies.values().chain(attached).collect()
}

/// `(account, role key)` of each `arn:<partition>:iam::<account>:role/role-<key>`
/// an assume-role policy allows; the account is `None` where the policy
/// names the role in every account (`*`), as a global group's does.
fn assumable_roles(document: &PolicyDocument) -> Vec<(Option<AccountId>, String)> {
    let mut found = Vec::new();
    for statement in document.statements() {
        if statement["Effect"] != "Allow" {
            continue;
        }
        let resources = one_or_many(statement.get("Resource"));
        for resource in resources.into_iter().filter_map(Value::as_str) {
            let Some((account, role)) = RoleArn::parse_pattern(resource) else {
                continue;
            };
            if let Some(key) = role.strip_prefix("role-") {
                found.push((account, key.to_owned()));
            }
        }
    }
    found
}
