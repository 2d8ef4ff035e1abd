//! `import`: the desired state that matches a live jump account, written as
//! KDL. Pure: a function of what `observe::observe_all` read.
//!
//! Where each part comes from, one step (and submodule) each:
//! - roles (`roles.rs`): the resources of the `iam-roles` StackSet
//!   template, JSON or YAML (`RoleName` `role-<key>`, `ManagedPolicyArns`,
//!   `MaxSessionDuration`); the three defaults when there is no StackSet;
//! - projects (`groups.rs`): the project groups `group-<role>-<project>`
//!   and the account ARNs in their assume-role policies, inline or
//!   customer-managed (`policy-assume-<role>-role-<project>` in hand-built
//!   estates);
//! - accounts (`accounts.rs`): the StackSet's instances in the home
//!   region, named after the organization's account names when those could
//!   be read, else `account-<id>`; accounts in no project group are
//!   top-level accounts;
//! - users (`users.rs`): every IAM user jumpgate owns, and every other one
//!   that follows the pattern, their `access` from memberships of the
//!   groups above, `console=#false` without a login profile. Users outside
//!   the pattern (policies of their own, access keys, no group of the
//!   pattern) are written commented out with the reason, and left alone;
//! - the password policy, when the account has one.
//!
//! Each step adds notes on what it could not express or what the first plan
//! changes. `render::kdl` writes the result.
//!
//! Objects without jumpgate's marker are imported all the same: the plan on
//! the imported file adopts them with explicit updates.

mod accounts;
mod groups;
mod roles;
#[cfg(test)]
mod tests;
mod users;

use std::collections::BTreeMap;

pub use users::{ImportedUser, ManagedUser};

use crate::live::LiveState;
use crate::model::desired::{PasswordPolicy, RoleDef};
use crate::model::names::{AccountId, AccountName, ProjectName, Region, RoleKey};

/// What to import from.
pub struct ImportInput<'a> {
    /// The account the credentials belong to: the jump account.
    pub jump_account: &'a AccountId,
    /// The home region: where the StackSet and its instances live.
    pub region: &'a Region,
    pub live: &'a LiveState,
    /// When the import ran, as written in the file's header (RFC 3339).
    pub imported_at: &'a str,
}

/// The imported file and what a reviewer should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub text: String,
    /// Things that could not be expressed, or that the first plan changes.
    pub notes: Vec<String>,
    pub summary: ImportSummary,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub roles: usize,
    pub projects: usize,
    pub accounts: usize,
    pub users: usize,
    /// Users outside the pattern, written commented out and left alone.
    pub unmanaged: usize,
    /// Users and groups without jumpgate's marker, which the plan adopts.
    pub to_adopt: usize,
}

/// The estate as the imported file declares it: what `render::kdl` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedEstate<'a> {
    pub jump: &'a AccountId,
    pub region: &'a Region,
    pub imported_at: &'a str,
    /// Whether the jump account receives the roles too.
    pub jump_is_target: bool,
    pub password_policy: Option<&'a PasswordPolicy>,
    /// Whether the jump account manages an organization.
    pub organization: bool,
    /// The StackSet's roles; `None` when the defaults apply.
    pub roles: Option<BTreeMap<RoleKey, RoleDef>>,
    /// Each project's accounts, in name order.
    pub projects: BTreeMap<ProjectName, Vec<(AccountName, AccountId)>>,
    /// Accounts that receive the roles in no project, in name order.
    pub loose_accounts: Vec<(AccountName, AccountId)>,
    pub users: Vec<ImportedUser>,
    /// Whether the estate itself (not its users) gave notes: the header
    /// points to them, while each user's notes stand in its own block.
    pub estate_notes: bool,
}

pub fn import(input: &ImportInput) -> Imported {
    let mut notes = Vec::new();
    let live = input.live;
    let (roles, roles_from_stack_set) = roles::from_stack_set(live, &mut notes);
    let groups = groups::classify_groups(live, &roles, &mut notes);
    let accounts = accounts::from_instances_and_groups(input, &groups, &mut notes);
    let estate_notes = !notes.is_empty();
    let users = users::from_memberships(live, &groups, &mut notes);
    let summary = ImportSummary {
        roles: roles.len(),
        projects: accounts.projects.len(),
        accounts: accounts.members + 1,
        users: users.iter().filter(|u| !u.is_unmanaged()).count(),
        unmanaged: users.iter().filter(|u| u.is_unmanaged()).count(),
        to_adopt: users.iter().filter(|u| u.is_adopted()).count()
            + groups.values().filter(|g| !g.owned).count(),
    };
    let estate = ImportedEstate {
        jump: input.jump_account,
        region: input.region,
        imported_at: input.imported_at,
        jump_is_target: accounts.jump_is_target,
        password_policy: live.password_policy.as_ref(),
        organization: live
            .organization
            .as_ref()
            .is_some_and(|org| org.management_account == *input.jump_account),
        roles: roles_from_stack_set.then_some(roles),
        projects: accounts.projects,
        loose_accounts: accounts.loose,
        users,
        estate_notes,
    };
    Imported {
        text: crate::render::kdl::write(&estate),
        notes,
        summary,
    }
}
