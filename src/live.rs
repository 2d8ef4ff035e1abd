//! The observed live state of the jump account and the StackSet: what
//! `observe` read from AWS, as plain data the planner compares against.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::credential_report::CredentialReport;
use crate::model::desired::PasswordPolicy;
use crate::model::names::AccountId;
use crate::policy::PolicyDocument;

pub mod simulate;
pub mod status;

pub use status::{AccountStatus, StackInstanceStatus, StackSetStatus, StackStatus};

/// The tag that marks a user as jumpgate's.
pub const OWNER_TAG_KEY: &str = "managed-by";
pub const OWNER_TAG_VALUE: &str = "jumpgate";
/// The IAM path that marks groups and policies (which cannot carry the tag)
/// as jumpgate's.
pub const OWNED_PATH: &str = "/jumpgate/";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveState {
    /// The account the credentials belong to.
    pub caller_account: Option<AccountId>,
    pub password_policy: Option<PasswordPolicy>,
    /// Every user in the jump account, owned or not, by name.
    pub users: BTreeMap<String, LiveUser>,
    /// Every group in the jump account, by name.
    pub groups: BTreeMap<String, LiveGroup>,
    /// Every customer-managed policy in the jump account (less the apply
    /// lock), by name: jumpgate's own, and the ones hand-built estates grant
    /// access through.
    pub policies: BTreeMap<String, LivePolicy>,
    /// CloudFormation stacks jumpgate deploys in the jump account, by name.
    pub stacks: BTreeMap<String, LiveStack>,
    pub stack_set: Option<LiveStackSet>,
    pub stack_instances: Vec<LiveStackInstance>,
    /// Read in Organizations mode only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<LiveOrganization>,
    /// Whether the StackSet execution-role stack is in a member account, by
    /// account id; read (through the access role) only for accounts that
    /// have no working stack instance yet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub execution_role_stacks: BTreeMap<AccountId, bool>,
    /// The StackSet's administration and execution roles that exist in the
    /// jump account although jumpgate's stack for them does not (made by
    /// hand, or by AWS's sample templates, which use the same names).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub foreign_stack_set_roles: BTreeSet<String>,
    /// Member accounts whose access role cannot be assumed (an account
    /// invited into the organization has none), by account id.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unreachable_accounts: BTreeSet<AccountId>,
    /// IAM's credential report, when it could be read. Left out of saved
    /// plans and their fingerprint: it is regenerated every four hours, and
    /// what the plan depends on in it is already in `users`.
    #[serde(skip)]
    pub credential_report: Option<CredentialReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveOrganization {
    pub management_account: AccountId,
    pub accounts: Vec<OrgAccount>,
}

/// Where an account stands in the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// An active member: its access role may be assumed.
    Active,
    /// Listed, but suspended or closing.
    Inactive,
    /// Not in the organization at all.
    Outside,
}

impl LiveOrganization {
    /// The one answer to "is this account in the organization", for
    /// observation and planning alike.
    pub fn membership(&self, id: &AccountId) -> Membership {
        match self.accounts.iter().find(|a| &a.id == id) {
            None => Membership::Outside,
            Some(account) if account.status == AccountStatus::Active => Membership::Active,
            Some(_) => Membership::Inactive,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgAccount {
    pub id: AccountId,
    pub name: String,
    pub email: String,
    pub status: AccountStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveUser {
    pub name: String,
    pub path: String,
    pub tags: BTreeMap<String, String>,
    pub groups: BTreeSet<String>,
    pub inline_policies: BTreeSet<String>,
    pub attached_policies: BTreeSet<String>,
    /// When IAM created the user (Unix seconds): tells whether a credential
    /// report row describes this user or an older one of the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// `None` when it was not looked at (users jumpgate does not own).
    pub login_profile: Option<bool>,
    /// Credentials and devices; read only for users about to be deleted,
    /// because that is when AWS requires them gone.
    pub dependents: Option<UserDependents>,
}

impl LiveUser {
    pub fn is_owned(&self) -> bool {
        self.tags.get(OWNER_TAG_KEY).map(String::as_str) == Some(OWNER_TAG_VALUE)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserDependents {
    pub access_keys: Vec<String>,
    pub signing_certificates: Vec<String>,
    pub ssh_public_keys: Vec<String>,
    pub service_specific_credentials: Vec<String>,
    pub mfa_devices: Vec<String>,
    /// Lists that could not be read, with the reason; DeleteUser may then fail.
    pub unreadable: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveGroup {
    pub name: String,
    pub path: String,
    /// Inline policies by name, decoded.
    pub inline_policies: BTreeMap<String, PolicyDocument>,
    pub attached_policies: BTreeSet<String>,
}

impl LiveGroup {
    pub fn is_owned(&self) -> bool {
        self.path == OWNED_PATH
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LivePolicy {
    pub name: String,
    pub arn: String,
    pub path: String,
    pub default_version: String,
    /// Every version id, the default included.
    pub versions: Vec<String>,
    pub document: PolicyDocument,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStack {
    pub name: String,
    pub status: StackStatus,
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStackSet {
    pub name: String,
    pub status: StackSetStatus,
    pub template: Value,
    pub parameters: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveStackInstance {
    pub account: AccountId,
    pub region: String,
    pub status: StackInstanceStatus,
    pub status_reason: Option<String>,
}

impl LiveStackInstance {
    /// Deployed with the StackSet's current template in `region`.
    pub fn is_current_in(&self, account: &AccountId, region: &str) -> bool {
        &self.account == account
            && self.region == region
            && self.status == StackInstanceStatus::Current
    }
}

impl LiveState {
    /// The StackSet, unless CloudFormation reports it deleted.
    pub fn live_stack_set(&self) -> Option<&LiveStackSet> {
        self.stack_set
            .as_ref()
            .filter(|s| s.status != StackSetStatus::Deleted)
    }

    /// A digest of everything the plan was computed from, so that a saved
    /// plan can tell whether the world moved since.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let bytes = serde_json::to_vec(self).expect("live state serialises");
        hex::encode(Sha256::digest(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_active_inactive_or_outside() {
        let id = |text: &str| AccountId::new(text).unwrap();
        let account = |text: &str, status: &str| OrgAccount {
            id: id(text),
            name: text.into(),
            email: format!("{text}@example.com"),
            status: status.into(),
        };
        let org = LiveOrganization {
            management_account: id("111111111111"),
            accounts: vec![
                account("111111111111", "ACTIVE"),
                account("222222222222", "SUSPENDED"),
                account("333333333333", "PENDING_CLOSURE"),
            ],
        };
        assert_eq!(org.membership(&id("111111111111")), Membership::Active);
        assert_eq!(org.membership(&id("222222222222")), Membership::Inactive);
        assert_eq!(org.membership(&id("333333333333")), Membership::Inactive);
        assert_eq!(org.membership(&id("444444444444")), Membership::Outside);
    }
}
