//! Users, with their access from their memberships of jumpgate's groups,
//! and the users outside the pattern, which are left alone.

use std::collections::BTreeMap;

use super::groups::{GroupRole, KnownGroup};
use crate::live::{LiveGroup, LiveState, LiveUser};
use crate::model::derive::MAX_GROUPS_PER_USER;
use crate::model::desired::Access;
use crate::model::names::UserName;

/// One live user as the imported file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportedUser {
    /// Outside the pattern: written commented out, and left alone.
    Unmanaged {
        name: UserName,
        /// Why, as the comment says it.
        reasons: Vec<String>,
        console: bool,
    },
    Managed(ManagedUser),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedUser {
    pub name: UserName,
    /// Without jumpgate's marker: the first apply adopts the user.
    pub adopted: bool,
    /// Groups it is in that jumpgate does not manage.
    pub foreign_groups: Vec<String>,
    /// Whether one of those is on jumpgate's path (the plan removes such
    /// groups).
    pub foreign_on_owned_path: bool,
    /// Its policies of its own, which the plan removes.
    pub own_policies: Vec<String>,
    pub console: bool,
    /// Global roles first, then by role and project.
    pub access: Vec<Access>,
}

impl ImportedUser {
    pub fn is_unmanaged(&self) -> bool {
        matches!(self, ImportedUser::Unmanaged { .. })
    }

    /// Whether the first apply adopts this user.
    pub fn is_adopted(&self) -> bool {
        matches!(self, ImportedUser::Managed(user) if user.adopted)
    }
}

/// Every live user with a valid name, in name order.
pub(super) fn from_memberships(
    live: &LiveState,
    groups: &BTreeMap<String, KnownGroup>,
    notes: &mut Vec<String>,
) -> Vec<ImportedUser> {
    let mut users = Vec::new();
    for user in live.users.values() {
        match UserName::new(&user.name) {
            Ok(name) => users.push(one_user(live, groups, user, name, notes)),
            Err(err) => notes.push(format!("user skipped: {err}")),
        }
    }
    users
}

fn one_user(
    live: &LiveState,
    groups: &BTreeMap<String, KnownGroup>,
    user: &LiveUser,
    name: UserName,
    notes: &mut Vec<String>,
) -> ImportedUser {
    let mut access = Vec::new();
    let mut foreign_groups = Vec::new();
    for group in &user.groups {
        match groups.get(group.as_str()).map(|g| &g.role) {
            Some(GroupRole::Global(role)) => access.push(Access {
                role: role.clone(),
                project: None,
            }),
            Some(GroupRole::Project { role, project, .. }) => access.push(Access {
                role: role.clone(),
                project: Some(project.clone()),
            }),
            None => foreign_groups.push(group.clone()),
        }
    }
    access.sort_by(|a, b| (a.project.is_some(), a).cmp(&(b.project.is_some(), b)));
    let own_policies: Vec<String> = user
        .inline_policies
        .iter()
        .map(String::as_str)
        .chain(
            user.attached_policies
                .iter()
                .map(|a| a.rsplit('/').next().unwrap_or(a)),
        )
        .map(str::to_owned)
        .collect();
    let console = user.login_profile != Some(false);
    let reasons = outside_the_pattern(user, &access, &own_policies);
    if !reasons.is_empty() {
        notes.push(format!(
            "user {name} is left unmanaged: it {} (uncomment its block to adopt it)",
            reasons.join(", ")
        ));
        return ImportedUser::Unmanaged {
            name,
            reasons,
            console,
        };
    }
    if !own_policies.is_empty() {
        notes.push(format!(
            "user {name} has policies of its own ({}); the plan removes them (access comes from groups only)",
            own_policies.join(", ")
        ));
    }
    if access.len() > MAX_GROUPS_PER_USER {
        notes.push(format!(
            "user {name} is in {} of jumpgate's groups, more than AWS's limit of {MAX_GROUPS_PER_USER}; the rest are commented out",
            access.len()
        ));
    }
    ImportedUser::Managed(ManagedUser {
        name,
        adopted: !user.is_owned(),
        foreign_on_owned_path: foreign_groups
            .iter()
            .any(|g| live.groups.get(g).is_some_and(LiveGroup::is_owned)),
        foreign_groups,
        own_policies,
        console,
        access,
    })
}

/// Why a user jumpgate does not own is outside the jump-account pattern,
/// and so not adopted by default: a CI user with keys and a policy of its
/// own would break if jumpgate took it over. Empty for users to adopt.
fn outside_the_pattern(user: &LiveUser, access: &[Access], own: &[String]) -> Vec<String> {
    if user.is_owned() {
        return Vec::new();
    }
    let mut reasons = Vec::new();
    if !own.is_empty() {
        reasons.push(format!("has policies of its own ({})", own.join(", ")));
    }
    let keys = user.dependents.as_ref().map_or(0, |d| d.access_keys.len());
    if keys > 0 {
        reasons.push(format!(
            "has {keys} access key{}",
            if keys == 1 { "" } else { "s" }
        ));
    }
    if access.is_empty() {
        reasons.push("is in no group of the jump-account pattern".to_owned());
    }
    reasons
}
