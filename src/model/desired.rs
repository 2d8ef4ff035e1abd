//! The validated desired state: what the KDL files say should exist.
//! Every value here has passed validation; derived names live in `derive`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::expiry::{Expiry, Until};
use crate::hygiene::Thresholds;

use super::names::{
    AccountId, AccountName, Color, Email, Partition, PolicyArn, ProjectName, Region, RoleKey,
    RoleName, UserName,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredState {
    pub jump: JumpAccount,
    pub organization: Option<Organization>,
    /// Keyed by role key; the three defaults when the file declares none.
    pub roles: BTreeMap<RoleKey, RoleDef>,
    pub projects: BTreeMap<ProjectName, Project>,
    /// Member accounts, in the order they were declared.
    pub accounts: Vec<Account>,
    /// Keyed by user name, sorted.
    pub users: BTreeMap<UserName, User>,
    /// What `until` dates left out and what they soon will (filled by
    /// `expiry::resolve` for a given day; empty as read from the file).
    pub expiry: Expiry,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JumpAccount {
    /// The name used for the jump account in plans and profiles.
    pub name: AccountName,
    pub id: AccountId,
    pub region: Region,
    /// Whether the jump account also receives the `role-<role>` roles.
    pub is_target: bool,
    pub password_policy: Option<PasswordPolicy>,
    /// When `drift` reports a credential (the `hygiene` node).
    pub hygiene: Thresholds,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordPolicy {
    pub min_length: u8,
    pub require_symbols: bool,
    pub require_numbers: bool,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub allow_users_to_change: bool,
    pub max_age_days: Option<u16>,
    pub reuse_prevention: Option<u8>,
    pub hard_expiry: bool,
}

impl Default for PasswordPolicy {
    /// IAM's own defaults when a policy node sets nothing.
    fn default() -> Self {
        Self {
            min_length: 8,
            require_symbols: false,
            require_numbers: false,
            require_uppercase: false,
            require_lowercase: false,
            allow_users_to_change: true,
            max_age_days: None,
            reuse_prevention: None,
            hard_expiry: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub access_role: RoleName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub key: RoleKey,
    pub policy: PolicyArn,
    pub session_hours: u8,
}

impl RoleDef {
    pub const DEFAULT_SESSION_HOURS: u8 = 1;

    /// The roles that exist when the file declares none.
    pub fn defaults() -> BTreeMap<RoleKey, RoleDef> {
        [
            ("admin", "AdministratorAccess"),
            ("developer", "PowerUserAccess"),
            ("operator", "ReadOnlyAccess"),
        ]
        .into_iter()
        .map(|(key, policy)| {
            let key = RoleKey::new(key).expect("default role keys are valid");
            // Desired states are in the `aws` partition (`Region` refuses the others).
            let policy = PolicyArn::aws_managed(Partition::Aws, policy);
            let role = RoleDef {
                key: key.clone(),
                policy,
                session_hours: Self::DEFAULT_SESSION_HOURS,
            };
            (key, role)
        })
        .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: ProjectName,
    /// Names of the project's accounts, in declaration order.
    pub accounts: Vec<AccountName>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: AccountName,
    /// Absent only for an account Organizations will create from `email`.
    pub id: Option<AccountId>,
    pub email: Option<Email>,
    pub project: Option<ProjectName>,
    pub env: Option<String>,
    pub color: Option<Color>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: UserName,
    /// Whether the user gets a console login profile.
    pub console: bool,
    pub age_recipient: Option<String>,
    pub access: Vec<Access>,
    /// Whether the user may have access keys (`access-keys=#false`:
    /// console only, reported by `drift` if it has one).
    pub access_keys: bool,
    /// The last day the user, and each of these grants, is valid.
    pub until: Until,
}

/// One `access` line: a role, everywhere or in one project's accounts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    pub role: RoleKey,
    pub project: Option<ProjectName>,
}

impl DesiredState {
    pub fn account(&self, name: &AccountName) -> Option<&Account> {
        self.accounts.iter().find(|a| &a.name == name)
    }
}
