//! A `Plan`: inert, ordered data saying what `apply` will do and why. Built
//! by `build` (pure: desired + live state in, plan out); read by `render`
//! and carried out by `apply`.

mod accounts;
mod address;
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
use crate::model::names::{AccountId, GroupName, NameError, Region, UserName};
use crate::policy::PolicyDocument;

pub use accounts::{BootstrapHint, resolve_account_ids};
pub use address::Address;
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

/// The JSON plan's `format_version` (`render::wire`), bumped whenever its
/// shape changes incompatibly. 2: `access_changes` added. 3: each change's
/// `reason` says adopt, rename, repair and replace too, `after` no longer
/// carries `"adopted": true`, and updates list their `differences`.
pub const FORMAT_VERSION: u32 = 3;

/// The domain plan: what the planner decided, typed for the code that reads
/// it. Its JSON form is `render::wire::Plan`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub jump_account: AccountId,
    pub region: Region,
    /// Digest of the live state the plan was computed from.
    pub fingerprint: String,
    /// The jumpgate that made the plan: another version may plan otherwise.
    pub jumpgate_version: String,
    /// Digest of the desired-state files the plan was made from; empty for
    /// a plan that was never saved.
    pub inputs_digest: String,
    /// In the order `apply` carries them out; changes of one stage are
    /// independent of each other.
    pub changes: Vec<Change>,
    /// The names of the declared accounts, for titling their changes.
    pub account_names: BTreeMap<AccountId, String>,
    /// Who gains and who loses which role in which account, and which groups
    /// gain or lose MFA enforcement, when the changes are applied.
    pub access_changes: AccessChanges,
    /// Users in the jump account that jumpgate does not own and leaves alone.
    pub unmanaged_users: Vec<String>,
    /// Accounts where, after this plan, nobody could reach the admin role.
    pub lockouts: Vec<Lockout>,
    /// Changes whose apply cannot succeed, each with the reason found in
    /// the live state: `plan` exits 1 and `apply` refuses.
    pub blockers: Vec<String>,
    /// Things a reviewer should know that are not changes.
    pub warnings: Vec<String>,
    /// Member accounts that may still lack the StackSet execution role
    /// (without Organizations).
    pub bootstrap_needed: Vec<BootstrapHint>,
    /// Users and grants whose `until` day comes within a week.
    pub expiring: Vec<End>,
    pub summary: Summary,
}

/// The version of jumpgate, as saved plans record it.
pub const JUMPGATE_VERSION: &str = env!("CARGO_PKG_VERSION");

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

impl Kind {
    /// Every kind, in the order of the enum.
    pub const ALL: [Kind; 19] = [
        Kind::Account,
        Kind::PasswordPolicy,
        Kind::Stack,
        Kind::StackSet,
        Kind::StackInstance,
        Kind::ManagedPolicy,
        Kind::Group,
        Kind::GroupPolicy,
        Kind::GroupPolicyAttachment,
        Kind::User,
        Kind::UserPolicy,
        Kind::UserPolicyAttachment,
        Kind::Membership,
        Kind::LoginProfile,
        Kind::AccessKey,
        Kind::SigningCertificate,
        Kind::SshPublicKey,
        Kind::ServiceSpecificCredential,
        Kind::MfaDevice,
    ];

    /// The kind's name as addresses and the JSON plan spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::PasswordPolicy => "password-policy",
            Kind::Stack => "stack",
            Kind::StackSet => "stack-set",
            Kind::StackInstance => "stack-instance",
            Kind::ManagedPolicy => "managed-policy",
            Kind::Group => "group",
            Kind::GroupPolicy => "group-policy",
            Kind::GroupPolicyAttachment => "group-policy-attachment",
            Kind::User => "user",
            Kind::UserPolicy => "user-policy",
            Kind::UserPolicyAttachment => "user-policy-attachment",
            Kind::Membership => "membership",
            Kind::LoginProfile => "login-profile",
            Kind::AccessKey => "access-key",
            Kind::SigningCertificate => "signing-certificate",
            Kind::SshPublicKey => "ssh-public-key",
            Kind::ServiceSpecificCredential => "service-specific-credential",
            Kind::MfaDevice => "mfa-device",
        }
    }

    /// The kind a name spells, as `as_str` gives it.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub action: Action,
    /// Unique within a plan; its kind is the change's kind.
    pub address: Address,
    /// The account the object lives in.
    pub account: AccountId,
    pub stage: Stage,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The AWS calls `apply` makes for this change, in order.
    pub operations: Vec<Operation>,
    /// Why this action, when the difference alone does not say.
    pub reason: Option<Reason>,
}

impl Change {
    /// What kind of AWS object the change is about.
    pub fn kind(&self) -> Kind {
        self.address.kind
    }
}

/// Why the planner chose a change's action, when the file and the live
/// state's difference do not say it alone: context for the reader, in the
/// manner of Terraform's `ActionReason`. `apply` never reads it: what it does
/// is the change's operations, whatever the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The object exists without jumpgate's marker: the update takes it over.
    Adopt,
    /// The object exists spelt otherwise (IAM ignores case in names): the
    /// update gives it the file's spelling.
    Rename,
    /// The object is live but broken (a stack instance not `CURRENT` after
    /// a failed or cancelled operation): the update deploys it again.
    Repair,
    /// The object cannot be updated in its state (a stack whose creation
    /// rolled back): the update deletes and creates it again.
    Replace,
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
///
/// Account ids, and the user and group names a call takes from the file,
/// are the newtypes, so a saved plan with a bad one is refused as it is
/// read. A name that can come from IAM (an object renamed, emptied or
/// deleted) stays a `String`: observed names are never held to the file's
/// rules (`import` skips users whose names break them), and jumpgate must
/// still be able to act on them; `check_names` checks those.
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
        account: AccountId,
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
        accounts: Vec<AccountId>,
        regions: Vec<String>,
    },
    /// Deploys the StackSet's template again to instances that are not
    /// CURRENT (a failed or cancelled earlier operation).
    UpdateStackInstances {
        stack_set: String,
        accounts: Vec<AccountId>,
        regions: Vec<String>,
    },
    DeleteStackInstances {
        stack_set: String,
        accounts: Vec<AccountId>,
        regions: Vec<String>,
    },
    CreatePolicy {
        name: String,
        path: String,
        document: PolicyDocument,
    },
    CreatePolicyVersion {
        policy_arn: String,
        document: PolicyDocument,
        /// IAM keeps five versions; the oldest non-default one goes first.
        delete_version: Option<String>,
    },
    CreateGroup {
        group: GroupName,
        path: String,
    },
    UpdateGroupPath {
        group: GroupName,
        path: String,
    },
    /// Gives a group the spelling the file uses (IAM names ignore case).
    UpdateGroupName {
        group: String,
        new_group_name: GroupName,
    },
    PutGroupPolicy {
        group: GroupName,
        policy_name: String,
        document: PolicyDocument,
    },
    DeleteGroupPolicy {
        group: String,
        policy_name: String,
    },
    AttachGroupPolicy {
        group: GroupName,
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
        user: UserName,
        tags: BTreeMap<String, String>,
    },
    TagUser {
        user: UserName,
        tags: BTreeMap<String, String>,
    },
    /// Gives a user the spelling the file uses (IAM names ignore case).
    UpdateUser {
        user: String,
        new_user_name: UserName,
    },
    AddUserToGroup {
        user: UserName,
        group: GroupName,
    },
    RemoveUserFromGroup {
        user: String,
        group: String,
    },
    CreateLoginProfile {
        user: UserName,
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
    /// The API action's name, as AWS and request logs spell it (and as the
    /// `call` tag of the JSON plan does).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::CreateAccount { .. } => "CreateAccount",
            Operation::BootstrapAccount { .. } => "BootstrapAccount",
            Operation::UpdateAccountPasswordPolicy { .. } => "UpdateAccountPasswordPolicy",
            Operation::CreateStack { .. } => "CreateStack",
            Operation::DeleteStack { .. } => "DeleteStack",
            Operation::UpdateStack { .. } => "UpdateStack",
            Operation::CreateStackSet { .. } => "CreateStackSet",
            Operation::UpdateStackSet { .. } => "UpdateStackSet",
            Operation::CreateStackInstances { .. } => "CreateStackInstances",
            Operation::UpdateStackInstances { .. } => "UpdateStackInstances",
            Operation::DeleteStackInstances { .. } => "DeleteStackInstances",
            Operation::CreatePolicy { .. } => "CreatePolicy",
            Operation::CreatePolicyVersion { .. } => "CreatePolicyVersion",
            Operation::CreateGroup { .. } => "CreateGroup",
            Operation::UpdateGroupPath { .. } => "UpdateGroupPath",
            Operation::UpdateGroupName { .. } => "UpdateGroupName",
            Operation::PutGroupPolicy { .. } => "PutGroupPolicy",
            Operation::DeleteGroupPolicy { .. } => "DeleteGroupPolicy",
            Operation::AttachGroupPolicy { .. } => "AttachGroupPolicy",
            Operation::DetachGroupPolicy { .. } => "DetachGroupPolicy",
            Operation::DeleteGroup { .. } => "DeleteGroup",
            Operation::CreateUser { .. } => "CreateUser",
            Operation::TagUser { .. } => "TagUser",
            Operation::UpdateUser { .. } => "UpdateUser",
            Operation::AddUserToGroup { .. } => "AddUserToGroup",
            Operation::RemoveUserFromGroup { .. } => "RemoveUserFromGroup",
            Operation::CreateLoginProfile { .. } => "CreateLoginProfile",
            Operation::DeleteLoginProfile { .. } => "DeleteLoginProfile",
            Operation::DeleteAccessKey { .. } => "DeleteAccessKey",
            Operation::DeleteSigningCertificate { .. } => "DeleteSigningCertificate",
            Operation::DeleteSshPublicKey { .. } => "DeleteSSHPublicKey",
            Operation::DeleteServiceSpecificCredential { .. } => "DeleteServiceSpecificCredential",
            Operation::DeactivateMfaDevice { .. } => "DeactivateMFADevice",
            Operation::DeleteVirtualMfaDevice { .. } => "DeleteVirtualMFADevice",
            Operation::DeleteUserPolicy { .. } => "DeleteUserPolicy",
            Operation::DetachUserPolicy { .. } => "DetachUserPolicy",
            Operation::DeleteUser { .. } => "DeleteUser",
        }
    }

    /// The user the call acts on, by the name the file gives it (a
    /// rename's old spelling is not one).
    pub fn user(&self) -> Option<&str> {
        use Operation as Op;
        match self {
            Op::CreateUser { user, .. }
            | Op::TagUser { user, .. }
            | Op::AddUserToGroup { user, .. }
            | Op::CreateLoginProfile { user, .. } => Some(user.as_str()),
            Op::RemoveUserFromGroup { user, .. }
            | Op::DeleteLoginProfile { user }
            | Op::DeleteAccessKey { user, .. }
            | Op::DeleteSigningCertificate { user, .. }
            | Op::DeleteSshPublicKey { user, .. }
            | Op::DeleteServiceSpecificCredential { user, .. }
            | Op::DeactivateMfaDevice { user, .. }
            | Op::DeleteUserPolicy { user, .. }
            | Op::DetachUserPolicy { user, .. }
            | Op::DeleteUser { user } => Some(user),
            _ => None,
        }
    }

    /// The group the call acts on, by the name the file gives it (a
    /// rename's old spelling is not one).
    pub fn group(&self) -> Option<&str> {
        use Operation as Op;
        match self {
            Op::CreateGroup { group, .. }
            | Op::UpdateGroupPath { group, .. }
            | Op::PutGroupPolicy { group, .. }
            | Op::AttachGroupPolicy { group, .. }
            | Op::AddUserToGroup { group, .. } => Some(group.as_str()),
            Op::DeleteGroupPolicy { group, .. }
            | Op::DetachGroupPolicy { group, .. }
            | Op::DeleteGroup { group }
            | Op::RemoveUserFromGroup { group, .. } => Some(group),
            _ => None,
        }
    }

    /// Checks the user and group names the call carries as `String`s as
    /// the file's names are checked (the typed ones were when the plan was
    /// read), so a tampered saved plan cannot smuggle in a path (`../../x`)
    /// or a name AWS would never hold.
    pub fn check_names(&self) -> Result<(), NameError> {
        use Operation as Op;
        let user = |name: &str| UserName::new(name).map(drop);
        let group = |name: &str| GroupName::new(name).map(drop);
        match self {
            Op::UpdateUser { user: name, .. }
            | Op::DeleteLoginProfile { user: name }
            | Op::DeleteAccessKey { user: name, .. }
            | Op::DeleteSigningCertificate { user: name, .. }
            | Op::DeleteSshPublicKey { user: name, .. }
            | Op::DeleteServiceSpecificCredential { user: name, .. }
            | Op::DeactivateMfaDevice { user: name, .. }
            | Op::DeleteUserPolicy { user: name, .. }
            | Op::DetachUserPolicy { user: name, .. }
            | Op::DeleteUser { user: name } => user(name),
            Op::UpdateGroupName { group: name, .. }
            | Op::DeleteGroupPolicy { group: name, .. }
            | Op::DetachGroupPolicy { group: name, .. }
            | Op::DeleteGroup { group: name } => group(name),
            Op::RemoveUserFromGroup {
                user: user_name,
                group: group_name,
            } => user(user_name).and(group(group_name)),
            _ => Ok(()),
        }
    }
}
