//! Large generated estates for the reliability suites, and what IAM must
//! hold once one is applied.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::emulator::{Emulator, RecordedRequest};
use super::fault_proxy::Logged;
use super::live::{JUMP, login_profile};

pub const ROLES: [&str; 3] = ["admin", "developer", "operator"];

/// An estate of `projects` projects of two accounts each, two accounts in
/// no project, and `users` users. `variant` shifts who gets what, so two
/// variants differ in many memberships, users and login profiles.
pub struct Estate {
    pub projects: usize,
    pub users: usize,
    pub variant: usize,
}

/// One user as the estate declares them.
#[derive(Debug, Clone)]
pub struct DeclaredUser {
    pub name: String,
    pub console: bool,
    pub groups: BTreeSet<String>,
}

impl Estate {
    /// Variant 0 of an estate of `projects` projects and `users` users.
    pub fn new(projects: usize, users: usize) -> Estate {
        Estate {
            projects,
            users,
            variant: 0,
        }
    }

    pub fn account_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = (0..self.projects * 2)
            .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
            .collect();
        ids.push("300000000001".into());
        ids.push("300000000002".into());
        ids
    }

    pub fn declared_users(&self) -> Vec<DeclaredUser> {
        // In variant v, users [v*users/4, v*users/4 + users) of a longer list.
        let offset = self.variant * self.users / 4;
        (offset..offset + self.users)
            .map(|i| {
                let mut groups = BTreeSet::new();
                let shifted = i + self.variant;
                if i % 10 == 0 {
                    groups.insert("group-admin".to_owned());
                } else {
                    let role = ROLES[1 + shifted % 2];
                    groups.insert(format!("group-{role}-p{}", shifted % self.projects));
                    if i % 3 == 0 {
                        groups.insert(format!("group-operator-p{}", (shifted + 1) % self.projects));
                    }
                    if i % 7 == 0 {
                        groups.insert("group-operator".to_owned());
                    }
                }
                DeclaredUser {
                    name: format!("user-{i:03}"),
                    console: (i + self.variant) % 5 != 4,
                    groups,
                }
            })
            .collect()
    }

    /// Every managed group: one per role, globally and per project.
    pub fn groups(&self) -> BTreeSet<String> {
        let mut groups = BTreeSet::new();
        for role in ROLES {
            groups.insert(format!("group-{role}"));
            for p in 0..self.projects {
                groups.insert(format!("group-{role}-p{p}"));
            }
        }
        groups
    }

    pub fn kdl(&self) -> String {
        let mut kdl = format!(
            "jump-account id=\"{JUMP}\" region=\"ap-northeast-1\" {{\n    password-policy min-length=16\n}}\n"
        );
        let ids = self.account_ids();
        for p in 0..self.projects {
            kdl += &format!(
                "project \"p{p}\" {{\n    account \"p{p}-prod\" id=\"{}\"\n    account \"p{p}-stg\" id=\"{}\"\n}}\n",
                ids[2 * p],
                ids[2 * p + 1]
            );
        }
        kdl += &format!("account \"shared\" id=\"{}\"\n", ids[self.projects * 2]);
        kdl += &format!(
            "account \"sandbox\" id=\"{}\"\n",
            ids[self.projects * 2 + 1]
        );
        for user in self.declared_users() {
            let console = if user.console { "" } else { " console=#false" };
            kdl += &format!("user \"{}\"{console} {{\n", user.name);
            for group in &user.groups {
                let rest = group.trim_start_matches("group-");
                match rest.split_once('-') {
                    Some((role, project)) => {
                        kdl += &format!("    access \"{role}\" project=\"{project}\"\n")
                    }
                    None => kdl += &format!("    access \"{rest}\"\n"),
                }
            }
            kdl += "}\n";
        }
        kdl
    }
}

/// The users, groups, memberships and login profiles live in the jump account.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IamContents {
    /// User name → (groups, has a login profile).
    pub users: BTreeMap<String, (BTreeSet<String>, bool)>,
    /// Group name → attached policy ARNs.
    pub groups: BTreeMap<String, BTreeSet<String>>,
    /// Customer-managed policy names (with duplicates, if any).
    pub policies: Vec<String>,
}

/// Reads the jump account's users, groups and policies from the emulator.
pub async fn iam_contents(emu: &Emulator) -> IamContents {
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    // Users and groups only: unfiltered, the answer carries every
    // AWS-managed policy the emulator loads (1,200 documents), 0.65 s a
    // call against 0.015 s.
    let details = iam
        .get_account_authorization_details()
        .filter(aws_sdk_iam::types::EntityType::User)
        .filter(aws_sdk_iam::types::EntityType::Group)
        .send()
        .await
        .expect("GetAccountAuthorizationDetails");
    let mut contents = IamContents::default();
    for user in details.user_detail_list() {
        let name = user.user_name().unwrap_or_default().to_owned();
        let profile = login_profile(&iam, &name).await.is_some();
        let groups = user.group_list().iter().cloned().collect();
        let previous = contents.users.insert(name.clone(), (groups, profile));
        assert!(previous.is_none(), "user {name} is listed twice");
    }
    for group in details.group_detail_list() {
        let name = group.group_name().unwrap_or_default().to_owned();
        let attached = group
            .attached_managed_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        let previous = contents.groups.insert(name.clone(), attached);
        assert!(previous.is_none(), "group {name} is listed twice");
    }
    let policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .expect("ListPolicies");
    contents.policies = policies
        .policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_owned))
        .collect();
    contents.policies.sort();
    contents
}

/// What `iam_contents` must be for `estate` (plus `extra_users`, unmanaged).
pub fn expected_contents(estate: &Estate) -> IamContents {
    let mfa = format!("arn:aws:iam::{JUMP}:policy/jumpgate/policy-enforce-mfa");
    IamContents {
        users: estate
            .declared_users()
            .into_iter()
            .map(|u| (u.name, (u.groups, u.console)))
            .collect(),
        groups: estate
            .groups()
            .into_iter()
            .map(|g| (g, BTreeSet::from([mfa.clone()])))
            .collect(),
        policies: vec!["policy-enforce-mfa".to_owned()],
    }
}

/// Named differences between two contents, for failure messages and the
/// "objects lost / duplicated" figures.
pub fn differences(expected: &IamContents, live: &IamContents) -> (Vec<String>, Vec<String>) {
    let mut lost = Vec::new();
    let mut extra = Vec::new();
    for (name, (groups, profile)) in &expected.users {
        match live.users.get(name) {
            None => lost.push(format!("user {name}")),
            Some((live_groups, live_profile)) => {
                for g in groups.difference(live_groups) {
                    lost.push(format!("membership {name} in {g}"));
                }
                for g in live_groups.difference(groups) {
                    extra.push(format!("membership {name} in {g}"));
                }
                if profile & !live_profile {
                    lost.push(format!("login profile of {name}"));
                }
                if !profile & live_profile {
                    extra.push(format!("login profile of {name}"));
                }
            }
        }
    }
    for name in live
        .users
        .keys()
        .filter(|n| !expected.users.contains_key(*n))
    {
        extra.push(format!("user {name}"));
    }
    for (name, attached) in &expected.groups {
        match live.groups.get(name) {
            None => lost.push(format!("group {name}")),
            Some(live_attached) if live_attached != attached => {
                lost.push(format!("attachments of {name}: {live_attached:?}"))
            }
            _ => {}
        }
    }
    for name in live
        .groups
        .keys()
        .filter(|n| !expected.groups.contains_key(*n))
    {
        extra.push(format!("group {name}"));
    }
    if live.policies != expected.policies {
        extra.push(format!("policies {:?}", live.policies));
    }
    (lost, extra)
}

/// A request as one of the two recorders saw it: the emulator's recording
/// or the fault proxy's log.
pub trait SentRequest {
    fn action(&self) -> Option<&str>;
    fn param(&self, name: &str) -> Option<&str>;
}

impl SentRequest for RecordedRequest {
    fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }

    fn param(&self, name: &str) -> Option<&str> {
        RecordedRequest::param(self, name)
    }
}

impl SentRequest for Logged {
    fn action(&self) -> Option<&str> {
        Some(&self.action)
    }

    fn param(&self, name: &str) -> Option<&str> {
        Logged::param(self, name)
    }
}

/// The last password each user's login profile was created with, as sent.
pub fn passwords_sent<R: SentRequest>(requests: &[R]) -> BTreeMap<String, String> {
    requests
        .iter()
        .filter(|r| r.action() == Some("CreateLoginProfile"))
        .filter_map(|r| {
            Some((
                r.param("UserName")?.to_owned(),
                r.param("Password")?.to_owned(),
            ))
        })
        .collect()
}

/// Asserts that each console user's password file in `secrets` holds the
/// password `sent` says AWS last got; `context` prefixes the message.
#[track_caller]
pub fn assert_passwords_delivered(
    estate: &Estate,
    secrets: &Path,
    sent: &BTreeMap<String, String>,
    context: &str,
) {
    for user in estate.declared_users().iter().filter(|u| u.console) {
        let file = secrets.join(format!("{}.password", user.name));
        let delivered = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{context}{}: {e}", file.display()));
        assert_eq!(
            sent.get(&user.name),
            Some(&delivered),
            "{context}{}'s password file holds the password AWS got",
            user.name
        );
    }
}
