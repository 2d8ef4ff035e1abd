//! A `Plan`: inert, ordered data saying what `apply` will do and why. Built
//! by `build` (pure: desired + live state in, plan out); read by `render`
//! and carried out by `apply`.

mod accounts;
mod build;
mod expiry;
mod feasible;
mod lockout;
mod only;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access::AccessChanges;
use crate::model::desired::{DesiredState, PasswordPolicy};
use crate::model::expiry::End;
use crate::model::names::{AccountId, NameError, Region};

pub use accounts::{BootstrapHint, resolve_account_ids};
pub use build::{StackNeed, stack_need};

/// The plan that makes `live` what `desired` says, with the changes that
/// `until` dates call for labelled as such.
pub fn build(desired: &DesiredState, live: &crate::live::LiveState) -> Plan {
    expiry::label(build::build(desired, live), desired)
}
pub use expiry::ending_soon;
pub use lockout::{Lockout, administrator_roles, lockouts, users_whose_mfa_devices_matter};
pub(crate) use only::user_of;
pub use only::{OnlyError, Subset, only};

/// Bumped whenever the JSON shape of a plan changes incompatibly.
/// 2: `access_changes` added.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub jump_account: AccountId,
    pub region: Region,
    /// Digest of the live state the plan was computed from.
    pub fingerprint: String,
    /// The jumpgate that made the plan: another version may plan otherwise.
    #[serde(default)]
    pub jumpgate_version: String,
    /// Digest of the desired-state files the plan was made from; empty for
    /// a plan that was never saved.
    #[serde(default)]
    pub inputs_digest: String,
    /// In the order `apply` carries them out; changes of one stage are
    /// independent of each other.
    pub changes: Vec<Change>,
    /// Who gains and who loses which role in which account, and which groups
    /// gain or lose MFA enforcement, when the changes are applied.
    #[serde(default)]
    pub access_changes: AccessChanges,
    /// Users in the jump account that jumpgate does not own and leaves alone.
    pub unmanaged_users: Vec<String>,
    /// Accounts where, after this plan, nobody could reach the admin role.
    pub lockouts: Vec<Lockout>,
    /// Changes whose apply cannot succeed, each with the reason found in
    /// the live state: `plan` exits 1 and `apply` refuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<String>,
    /// Things a reviewer should know that are not changes.
    pub warnings: Vec<String>,
    /// Member accounts that may still lack the StackSet execution role
    /// (without Organizations), with the command that puts it there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_needed: Vec<BootstrapHint>,
    /// Users and grants whose `until` day comes within a week.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<End>,
    pub summary: Summary,
}

/// The version of jumpgate, as saved plans record it.
pub const JUMPGATE_VERSION: &str = env!("CARGO_PKG_VERSION");

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Checks every name a loaded plan's operations carry as the file's
    /// names are checked, so a tampered plan cannot smuggle in a path
    /// (`../../x`) or a name AWS would never hold.
    pub fn check_names(&self) -> Result<(), NameError> {
        use crate::model::names::{AccountId, GroupName, UserName};
        for operation in self.changes.iter().flat_map(|c| &c.operations) {
            let value = serde_json::to_value(operation).expect("operations serialise");
            let Some(fields) = value.as_object() else {
                continue;
            };
            for (field, value) in fields {
                let texts: Vec<&str> = match value {
                    Value::String(text) => vec![text],
                    Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                    _ => continue,
                };
                for text in texts {
                    match field.as_str() {
                        "user" => UserName::new(text).map(drop)?,
                        "group" => GroupName::new(text).map(drop)?,
                        "accounts" | "account" => AccountId::new(text).map(drop)?,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Summary {
    pub fn of(changes: &[Change]) -> Self {
        let count = |action| changes.iter().filter(|c| c.action == action).count();
        Self {
            add: count(Action::Create),
            change: count(Action::Update),
            destroy: count(Action::Delete),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// The symbol users see in text plans.
    pub fn symbol(self) -> char {
        match self {
            Action::Create => '+',
            Action::Update => '~',
            Action::Delete => '-',
        }
    }
}

/// What kind of AWS object a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Account,
    PasswordPolicy,
    Stack,
    StackSet,
    StackInstance,
    ManagedPolicy,
    Group,
    GroupPolicy,
    GroupPolicyAttachment,
    User,
    UserPolicy,
    UserPolicyAttachment,
    Membership,
    LoginProfile,
    AccessKey,
    SigningCertificate,
    SshPublicKey,
    ServiceSpecificCredential,
    MfaDevice,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_value(self).expect("kinds serialise");
        f.write_str(text.as_str().expect("kinds serialise as strings"))
    }
}

/// The order of execution: every change of a stage finishes before the next
/// stage starts. Creations come first, in dependency order, then deletions
/// in reverse dependency order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    CreateAccounts,
    PasswordPolicy,
    AdminRoleStack,
    ExecutionRoleStack,
    StackSet,
    BootstrapAccounts,
    StackInstances,
    MfaPolicy,
    Groups,
    GroupPolicies,
    Users,
    Memberships,
    LoginProfiles,
    RemoveMemberships,
    RemoveLoginProfiles,
    UserDependents,
    DeleteUsers,
    RemoveGroupPolicies,
    DeleteGroups,
    DeleteStackInstances,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    /// `<kind>.<name>`, unique within a plan.
    pub address: String,
    /// The account the object lives in.
    pub account: AccountId,
    pub stage: Stage,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The AWS calls `apply` makes for this change, in order.
    pub operations: Vec<Operation>,
    /// Why, when the file alone does not say (it no longer lists the object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The user's or the grant's `until` day has passed.
    Expired,
}

/// Where an initial console password goes: never into the plan itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "to")]
pub enum SecretDelivery {
    /// Encrypted to the user's age public key.
    Age { recipient: String },
    /// A file readable only by its owner, under `--secrets-dir`.
    File,
}

/// One AWS API call, with everything it needs: a saved plan can be applied
/// without the desired-state files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call")]
pub enum Operation {
    CreateAccount {
        name: String,
        email: String,
    },
    /// Deploys the StackSet execution-role stack in a member account through
    /// the organization's access role there.
    BootstrapAccount {
        account: String,
        access_role: String,
        template: Value,
        parameters: BTreeMap<String, String>,
    },
    UpdateAccountPasswordPolicy {
        policy: PasswordPolicy,
    },
    CreateStack {
        stack: String,
        template: Value,
        parameters: BTreeMap<String, String>,
    },
    DeleteStack {
        stack: String,
    },
    UpdateStack {
        stack: String,
        template: Value,
        parameters: BTreeMap<String, String>,
    },
    CreateStackSet {
        stack_set: String,
        template: Value,
        parameters: BTreeMap<String, String>,
    },
    UpdateStackSet {
        stack_set: String,
        template: Value,
        parameters: BTreeMap<String, String>,
    },
    CreateStackInstances {
        stack_set: String,
        accounts: Vec<String>,
        regions: Vec<String>,
    },
    /// Deploys the StackSet's template again to instances that are not
    /// CURRENT (a failed or cancelled earlier operation).
    UpdateStackInstances {
        stack_set: String,
        accounts: Vec<String>,
        regions: Vec<String>,
    },
    DeleteStackInstances {
        stack_set: String,
        accounts: Vec<String>,
        regions: Vec<String>,
    },
    CreatePolicy {
        name: String,
        path: String,
        document: Value,
    },
    CreatePolicyVersion {
        policy_arn: String,
        document: Value,
        /// IAM keeps five versions; the oldest non-default one goes first.
        delete_version: Option<String>,
    },
    CreateGroup {
        group: String,
        path: String,
    },
    UpdateGroupPath {
        group: String,
        path: String,
    },
    /// Gives a group the spelling the file uses (IAM names ignore case).
    UpdateGroupName {
        group: String,
        new_group_name: String,
    },
    PutGroupPolicy {
        group: String,
        policy_name: String,
        document: Value,
    },
    DeleteGroupPolicy {
        group: String,
        policy_name: String,
    },
    AttachGroupPolicy {
        group: String,
        policy_arn: String,
    },
    DetachGroupPolicy {
        group: String,
        policy_arn: String,
    },
    DeleteGroup {
        group: String,
    },
    CreateUser {
        user: String,
        tags: BTreeMap<String, String>,
    },
    TagUser {
        user: String,
        tags: BTreeMap<String, String>,
    },
    /// Gives a user the spelling the file uses (IAM names ignore case).
    UpdateUser {
        user: String,
        new_user_name: String,
    },
    AddUserToGroup {
        user: String,
        group: String,
    },
    RemoveUserFromGroup {
        user: String,
        group: String,
    },
    CreateLoginProfile {
        user: String,
        delivery: SecretDelivery,
        /// The generated password's length: the password policy's minimum
        /// or more. The password itself is made at apply time.
        password_length: u8,
    },
    DeleteLoginProfile {
        user: String,
    },
    DeleteAccessKey {
        user: String,
        access_key_id: String,
    },
    DeleteSigningCertificate {
        user: String,
        certificate_id: String,
    },
    #[serde(rename = "DeleteSSHPublicKey")]
    DeleteSshPublicKey {
        user: String,
        ssh_public_key_id: String,
    },
    DeleteServiceSpecificCredential {
        user: String,
        credential_id: String,
    },
    #[serde(rename = "DeactivateMFADevice")]
    DeactivateMfaDevice {
        user: String,
        serial_number: String,
    },
    #[serde(rename = "DeleteVirtualMFADevice")]
    DeleteVirtualMfaDevice {
        serial_number: String,
    },
    DeleteUserPolicy {
        user: String,
        policy_name: String,
    },
    DetachUserPolicy {
        user: String,
        policy_arn: String,
    },
    DeleteUser {
        user: String,
    },
}

impl Operation {
    /// The API action's name, as AWS and request logs spell it.
    pub fn name(&self) -> String {
        let value = serde_json::to_value(self).expect("operations serialise");
        value["call"].as_str().unwrap_or_default().to_owned()
    }
}
