//! Who can reach which role in which account, and through which group:
//! computed from the desired state, or from the live jump account (group
//! memberships and the groups' policies), and the two compared. Pure; the
//! renderings at the bottom only read an [`AccessReport`].
//!
//! The live computation models a user signed in with MFA: it reads every
//! policy document of the user's groups that it holds (inline policies, and
//! attached policies on jumpgate's path), takes each `Allow` statement that
//! grants `sts:AssumeRole` as granting (its conditions assumed met), and
//! takes unconditional `Deny` statements away. Wildcard resources are
//! expanded against the declared target accounts and roles; role ARNs
//! written out in a policy count even when the file does not know them.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;

use crate::live::{LiveGroup, LiveState, LiveUser};
use crate::model::derive::{group_name, role_name, targets};
use crate::model::desired::DesiredState;
use crate::model::expiry::show;
use crate::model::names::{AccountId, RoleArn};
use crate::policy::{PolicyDocument, one_or_many, role_arn};

mod impact;

pub use impact::{AccessChange, AccessChanges, Direction, MfaChange, impact, role_names};

const ASSUME_ROLE: &str = "sts:AssumeRole";

/// One way one user reaches one role: the long-form record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub user: String,
    /// The declared account name; the id for an account the file does not declare.
    pub account: String,
    pub account_id: String,
    /// The role key (`admin`) for `role-<key>` roles the file declares; the
    /// IAM role name otherwise.
    pub role: String,
    pub role_arn: String,
    pub group: String,
    /// The grant's last day (`YYYY-MM-DD`), from `until` on the user or the
    /// `access` line, whichever comes first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

/// Where a grant was found when the file is compared with the live account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The file grants it and the live account does too.
    Both,
    /// The file grants it; the live account does not (yet): an apply is pending.
    FileOnly,
    /// The live account grants it; the file does not: changed by hand?
    LiveOnly,
}

impl Status {
    /// The mark put before a role in the text and Markdown grids.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Both => "",
            Status::FileOnly => "~",
            Status::LiveOnly => "!",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Status::Both => "in the file and live",
            Status::FileOnly => "file only: granted by the file, not live (apply pending?)",
            Status::LiveOnly => "live only: granted in AWS, not by the file (changed by hand?)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub grant: Grant,
    /// `None` when only the file was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// An account as a column of the grid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountColumn {
    pub name: String,
    pub id: String,
}

/// The who-can-reach-what matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReport {
    /// Whether the live account was read and compared with the file.
    pub compared_with_live: bool,
    /// The target accounts in declaration order (jump account first), then
    /// any account only a live policy names.
    pub accounts: Vec<AccountColumn>,
    /// Declared roles in order, then role names only a live policy names.
    pub roles: Vec<String>,
    /// Every declared user, and with `--live` every live user, sorted.
    pub users: Vec<String>,
    /// Sorted by user, account (column order), role (row order), group.
    pub entries: Vec<Entry>,
}

impl AccessReport {
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.entries.iter().map(|e| &e.grant)
    }

    /// Entries where the file and the live account disagree.
    pub fn differences(&self) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.status, Some(Status::FileOnly | Status::LiveOnly)))
    }
}

/// The accounts and roles the file knows, to name and order what is found.
struct Catalogue {
    accounts: Vec<AccountColumn>,
    roles: Vec<String>,
}

impl Catalogue {
    fn of(state: &DesiredState) -> Catalogue {
        Catalogue {
            accounts: targets(state)
                .into_iter()
                .map(|t| AccountColumn {
                    name: t.name.to_string(),
                    id: t.id.to_string(),
                })
                .collect(),
            roles: state.roles.keys().map(|k| k.to_string()).collect(),
        }
    }

    /// Adds the accounts the live StackSet reaches and the roles its
    /// template declares, so a plan that removes them can name what goes.
    fn add_live_targets(&mut self, live: &LiveState) {
        for instance in &live.stack_instances {
            if self
                .accounts
                .iter()
                .any(|a| a.id == instance.account.as_str())
            {
                continue;
            }
            let name = live
                .organization
                .as_ref()
                .and_then(|o| o.accounts.iter().find(|a| a.id == instance.account))
                .map_or_else(|| instance.account.to_string(), |a| a.name.clone());
            self.accounts.push(AccountColumn {
                name,
                id: instance.account.to_string(),
            });
        }
        let live_roles = live
            .stack_set
            .as_ref()
            .and_then(|s| role_names(&s.template))
            .unwrap_or_default();
        for key in live_roles.iter().filter_map(|n| n.strip_prefix("role-")) {
            if !self.roles.iter().any(|r| r == key) {
                self.roles.push(key.to_owned());
            }
        }
    }

    /// Every declared role in every target account, as ARNs with their names.
    fn declared_arns(&self) -> Vec<(String, &AccountColumn, String)> {
        let mut arns = Vec::new();
        for account in &self.accounts {
            for role in &self.roles {
                let name = format!("role-{role}");
                let Ok(id) = AccountId::new(&account.id) else {
                    continue;
                };
                arns.push((role_arn(&id, &name), account, role.clone()));
            }
        }
        arns
    }

    fn account_index(&self, id: &str) -> usize {
        self.accounts
            .iter()
            .position(|a| a.id == id)
            .unwrap_or(usize::MAX)
    }

    fn role_index(&self, role: &str) -> usize {
        self.roles
            .iter()
            .position(|r| r == role)
            .unwrap_or(usize::MAX)
    }

    /// The grant for a role ARN, named as the file names things where it can.
    fn grant(&self, user: &str, arn: &str, group: &str) -> Option<Grant> {
        let parsed = parse_role_arn(arn)?;
        let account_id = parsed.account.as_str();
        let role_name = parsed.name();
        let account = self
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .map_or_else(|| account_id.to_owned(), |a| a.name.clone());
        let role = role_name
            .strip_prefix("role-")
            .filter(|key| self.roles.iter().any(|r| r == key))
            .unwrap_or(role_name)
            .to_owned();
        Some(Grant {
            user: user.to_owned(),
            account,
            account_id: account_id.to_owned(),
            role,
            role_arn: arn.to_owned(),
            group: group.to_owned(),
            until: None,
        })
    }

    fn sort(&self, entries: &mut [Entry]) {
        entries.sort_by(|a, b| {
            let key = |e: &Entry| {
                (
                    e.grant.user.clone(),
                    self.account_index(&e.grant.account_id),
                    e.grant.account_id.clone(),
                    self.role_index(&e.grant.role),
                    e.grant.role.clone(),
                    e.grant.group.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
    }

    /// Adds the accounts and roles only found live, so every grant has a column and a rank.
    fn extend_with(&mut self, entries: &[Entry]) {
        for entry in entries {
            let g = &entry.grant;
            if !self.accounts.iter().any(|a| a.id == g.account_id) {
                self.accounts.push(AccountColumn {
                    name: g.account.clone(),
                    id: g.account_id.clone(),
                });
            }
            if !self.roles.contains(&g.role) {
                self.roles.push(g.role.clone());
            }
        }
    }

    /// The report of one side's grants alone, so none is marked with where
    /// it was found.
    fn uncompared(self, users: BTreeSet<String>, grants: Vec<Grant>) -> AccessReport {
        let entries = grants
            .into_iter()
            .map(|grant| Entry {
                grant,
                status: None,
            })
            .collect();
        self.report(users, entries, false)
    }

    fn report(
        mut self,
        users: BTreeSet<String>,
        mut entries: Vec<Entry>,
        compared_with_live: bool,
    ) -> AccessReport {
        self.extend_with(&entries);
        self.sort(&mut entries);
        entries.dedup();
        AccessReport {
            compared_with_live,
            accounts: self.accounts,
            roles: self.roles,
            users: users.into_iter().collect(),
            entries,
        }
    }
}

/// A role ARN naming one role (no wildcard in its name).
fn parse_role_arn(arn: &str) -> Option<RoleArn> {
    RoleArn::parse(arn).filter(|arn| !arn.name().contains(['*', '?']))
}

/// What the file grants: each `access` line through its group, in every
/// account the group's policy covers (global groups: every target account;
/// project groups: the project's accounts that have an id).
pub fn from_desired(state: &DesiredState) -> AccessReport {
    let catalogue = Catalogue::of(state);
    let grants = desired_grants(state, &catalogue);
    let users = state.users.keys().map(|u| u.to_string()).collect();
    catalogue.uncompared(users, grants)
}

fn desired_grants(state: &DesiredState, catalogue: &Catalogue) -> Vec<Grant> {
    let targets = targets(state);
    let mut grants = Vec::new();
    for user in state.users.values() {
        for access in &user.access {
            let group = group_name(access);
            let role = role_name(&access.role);
            let reached = targets
                .iter()
                .filter(|t| access.project.is_none() || t.project == access.project);
            let until = [user.until.user, user.until.grants.get(access).copied()]
                .into_iter()
                .flatten()
                .min()
                .map(show);
            for target in reached {
                let arn = role_arn(&target.id, role.as_str());
                let grant = catalogue.grant(user.name.as_str(), &arn, group.as_str());
                grants.extend(grant.map(|g| Grant {
                    until: until.clone(),
                    ..g
                }));
            }
        }
    }
    grants
}

/// What the live jump account grants, from memberships and group policies.
pub fn from_live_only(state: &DesiredState, live: &LiveState) -> AccessReport {
    let catalogue = Catalogue::of(state);
    let grants = live_grants(live, &catalogue);
    let users = live.users.keys().cloned().collect();
    catalogue.uncompared(users, grants)
}

/// The file's grants and the live account's, each marked with where it was found.
pub fn compare(state: &DesiredState, live: &LiveState) -> AccessReport {
    let catalogue = Catalogue::of(state);
    let desired = desired_grants(state, &catalogue);
    let found = live_grants(live, &catalogue);
    let key = |g: &Grant| (g.user.clone(), g.role_arn.clone(), g.group.clone());
    let live_keys: BTreeSet<_> = found.iter().map(key).collect();
    let desired_keys: BTreeSet<_> = desired.iter().map(key).collect();
    let mut entries: Vec<Entry> = desired
        .into_iter()
        .map(|grant| {
            let status = if live_keys.contains(&key(&grant)) {
                Status::Both
            } else {
                Status::FileOnly
            };
            Entry {
                grant,
                status: Some(status),
            }
        })
        .collect();
    entries.extend(
        found
            .into_iter()
            .filter(|g| !desired_keys.contains(&key(g)))
            .map(|grant| Entry {
                grant,
                status: Some(Status::LiveOnly),
            }),
    );
    let users = state
        .users
        .keys()
        .map(|u| u.to_string())
        .chain(live.users.keys().cloned())
        .collect();
    catalogue.report(users, entries, true)
}

fn live_grants(live: &LiveState, catalogue: &Catalogue) -> Vec<Grant> {
    let candidates: Vec<String> = catalogue
        .declared_arns()
        .into_iter()
        .map(|(arn, _, _)| arn)
        .collect();
    let mut memo = Memo::new(&candidates);
    let view = SourceView::of(live, &mut memo);
    let mut grants = Vec::new();
    for user in live.users.values() {
        for (arn, via) in combine(&view.sources(user)) {
            for source in via {
                grants.extend(catalogue.grant(&user.name, &arn, &source));
            }
        }
    }
    grants
}

/// What one holder of policies (a group, or a policy attached to a user)
/// allows and denies of `sts:AssumeRole`.
#[derive(Debug, Default)]
struct SourceReach {
    /// Role ARNs its `Allow` statements cover: the candidates its patterns
    /// match, and literal ARNs (they may name accounts the file does not).
    allowed: BTreeSet<String>,
    /// Unconditional `Deny` statements, kept whole to test any ARN.
    denies: Vec<Value>,
}

fn source_reach(documents: &[&PolicyDocument], candidates: &[String]) -> SourceReach {
    let mut reach = SourceReach::default();
    for statement in documents
        .iter()
        .copied()
        .flat_map(PolicyDocument::statements)
    {
        if !grants_assume_role(statement) {
            continue;
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => {
                let resources = one_or_many(statement.get("Resource"));
                let literal = resources
                    .iter()
                    .filter_map(|r| r.as_str())
                    .filter(|r| parse_role_arn(r).is_some());
                // Without a wildcard (a project group's account list) the
                // literal ARNs are all it covers: no need to try every candidate.
                let patterns = resources
                    .iter()
                    .any(|r| r.as_str().is_none_or(|r| r.contains(['*', '?'])))
                    || statement.get("NotResource").is_some();
                let expanded = candidates.iter().filter(|_| patterns);
                for arn in literal.chain(expanded.map(String::as_str)) {
                    if !reach.allowed.contains(arn) && resource_matches(statement, arn) {
                        reach.allowed.insert(arn.to_owned());
                    }
                }
            }
            Some("Deny") if statement.get("Condition").is_none() => {
                reach.denies.push(statement.clone());
            }
            _ => {}
        }
    }
    reach
}

/// Each distinct set of documents read once, across the states compared.
struct Memo<'c> {
    candidates: &'c [String],
    known: std::collections::HashMap<String, Rc<SourceReach>>,
}

impl<'c> Memo<'c> {
    fn new(candidates: &'c [String]) -> Memo<'c> {
        Memo {
            candidates,
            known: Default::default(),
        }
    }

    fn reach(&mut self, documents: &[&PolicyDocument]) -> Rc<SourceReach> {
        let key = serde_json::to_string(documents).expect("documents serialise");
        let candidates = self.candidates;
        self.known
            .entry(key)
            .or_insert_with(|| Rc::new(source_reach(documents, candidates)))
            .clone()
    }
}

/// The sources of one live state: each group's reach, each attached
/// policy's, read once for all its users.
struct SourceView {
    groups: BTreeMap<String, Rc<SourceReach>>,
    policies: BTreeMap<String, Rc<SourceReach>>,
}

impl SourceView {
    fn of(live: &LiveState, memo: &mut Memo) -> SourceView {
        let by_arn = policies_by_arn(live);
        let groups = live
            .groups
            .values()
            .map(|g| {
                let documents = group_documents(g, &by_arn);
                (g.name.clone(), memo.reach(&documents))
            })
            .collect();
        let policies = live
            .users
            .values()
            .flat_map(|u| &u.attached_policies)
            .filter_map(|arn| Some((arn.clone(), memo.reach(&[*by_arn.get(arn.as_str())?]))))
            .collect();
        SourceView { groups, policies }
    }

    /// A user's sources, each with the label a reader sees: the group's
    /// name, or `user policy <name>` for a policy attached to the user.
    fn sources(&self, user: &LiveUser) -> Vec<(String, Rc<SourceReach>)> {
        let groups = user
            .groups
            .iter()
            .filter_map(|g| Some((g.clone(), self.groups.get(g)?.clone())));
        let policies = user.attached_policies.iter().filter_map(|arn| {
            let name = arn.rsplit('/').next().unwrap_or(arn);
            Some((
                format!("user policy {name}"),
                self.policies.get(arn)?.clone(),
            ))
        });
        groups.chain(policies).collect()
    }
}

/// The role ARNs a user with these sources may assume, each with the
/// sources that grant it; an unconditional deny in any source wins.
fn combine(sources: &[(String, Rc<SourceReach>)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (label, reach) in sources {
        for arn in &reach.allowed {
            allowed
                .entry(arn.clone())
                .or_default()
                .insert(label.clone());
        }
    }
    allowed.retain(|arn, _| !denied(sources, arn));
    allowed
}

/// The sources that let a user reach `arn`, or `None` when none do.
fn allows(sources: &[(String, Rc<SourceReach>)], arn: &str) -> Option<BTreeSet<String>> {
    let via: BTreeSet<String> = sources
        .iter()
        .filter(|(_, r)| r.allowed.contains(arn))
        .map(|(label, _)| label.clone())
        .collect();
    (!via.is_empty() && !denied(sources, arn)).then_some(via)
}

fn denied(sources: &[(String, Rc<SourceReach>)], arn: &str) -> bool {
    sources
        .iter()
        .any(|(_, r)| r.denies.iter().any(|deny| resource_matches(deny, arn)))
}

/// The documents of the customer-managed policies that were read, by ARN.
fn policies_by_arn(live: &LiveState) -> BTreeMap<&str, &PolicyDocument> {
    live.policies
        .values()
        .map(|p| (p.arn.as_str(), &p.document))
        .collect()
}

/// A group's documents: its inline ones, and the attached ones whose
/// documents were read (AWS-managed ones never grant `sts:AssumeRole` on a
/// jump account's roles).
fn group_documents<'a>(
    group: &'a LiveGroup,
    by_arn: &BTreeMap<&str, &'a PolicyDocument>,
) -> Vec<&'a PolicyDocument> {
    group
        .inline_policies
        .values()
        .chain(
            group
                .attached_policies
                .iter()
                .filter_map(|arn| by_arn.get(arn.as_str()).copied()),
        )
        .collect()
}

fn any_matches(patterns: Option<&Value>, value: &str, case_insensitive: bool) -> bool {
    one_or_many(patterns)
        .iter()
        .filter_map(|p| p.as_str())
        .any(|p| {
            if case_insensitive {
                glob(&p.to_ascii_lowercase(), &value.to_ascii_lowercase())
            } else {
                glob(p, value)
            }
        })
}

/// Whether the statement covers `sts:AssumeRole` (Action or NotAction; IAM
/// compares actions case-insensitively).
fn grants_assume_role(statement: &Value) -> bool {
    covers(statement, "Action", "NotAction", ASSUME_ROLE, true)
}

/// Whether the statement's Resource (or NotResource) covers the ARN.
fn resource_matches(statement: &Value, arn: &str) -> bool {
    covers(statement, "Resource", "NotResource", arn, false)
}

/// Whether `value` is in the statement's `element` list, or outside its
/// `not_element` list; a statement with neither covers nothing.
fn covers(
    statement: &Value,
    element: &str,
    not_element: &str,
    value: &str,
    ignore_case: bool,
) -> bool {
    if let Some(patterns) = statement.get(element) {
        any_matches(Some(patterns), value, ignore_case)
    } else if let Some(patterns) = statement.get(not_element) {
        !any_matches(Some(patterns), value, ignore_case)
    } else {
        false
    }
}

/// IAM's wildcard matching: `*` any run of characters, `?` any one.
fn glob(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, vi));
            pi += 1;
        } else if let Some((star, matched)) = backtrack {
            pi = star + 1;
            vi = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{LiveGroup, LiveUser};
    use crate::model::derive::managed_groups;
    use crate::policy::{GROUP_POLICY_NAME, group_policy};
    use crate::render::access::{
        render_csv, render_json, render_markdown, render_text, status_name,
    };
    use serde_json::json;

    const STATE: &str = r#"
jump-account id="111111111111" region="ap-northeast-1"
project "pay" {
    account "pay-prod" id="222222222222" color="d13212"
    account "pay-stg"  id="333333333333"
}
account "shared" id="444444444444"
user "alice" {
    access "admin"
}
user "bob" {
    access "operator" project="pay"
    access "developer" project="pay"
}
user "carol" {
    access "operator"
    access "operator" project="pay"
}
user "dave"
"#;

    pub(crate) fn state() -> DesiredState {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.kdl");
        std::fs::write(&path, STATE).unwrap();
        crate::lang::load(&path).expect("the test state is valid")
    }

    /// The live state an apply of `state` would leave: its groups with their
    /// policies, its users in their groups.
    fn applied(state: &DesiredState) -> LiveState {
        let mut live = LiveState::default();
        for (name, spec) in managed_groups(state) {
            let mut group = LiveGroup {
                name: name.to_string(),
                path: "/jumpgate/".into(),
                ..LiveGroup::default()
            };
            if let Some(policy) = group_policy(&spec) {
                group
                    .inline_policies
                    .insert(GROUP_POLICY_NAME.into(), policy);
            }
            live.groups.insert(name.to_string(), group);
        }
        for user in state.users.values() {
            let groups = crate::model::derive::user_groups(user);
            add_user(
                &mut live,
                user.name.as_str(),
                groups.iter().map(|g| g.to_string()),
            );
        }
        live
    }

    /// Puts user `name` in the live state, a member of `groups`.
    fn add_user<G: Into<String>>(
        live: &mut LiveState,
        name: &str,
        groups: impl IntoIterator<Item = G>,
    ) {
        let user = LiveUser {
            name: name.into(),
            groups: groups.into_iter().map(Into::into).collect(),
            ..LiveUser::default()
        };
        live.users.insert(name.into(), user);
    }

    fn rows(report: &AccessReport) -> Vec<String> {
        report
            .entries
            .iter()
            .map(|e| {
                let g = &e.grant;
                let status = e.status.map(status_name).unwrap_or("");
                format!("{} {} {} {} {status}", g.user, g.account, g.role, g.group)
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn the_file_grants_through_global_and_project_groups() {
        let report = from_desired(&state());
        assert_eq!(
            rows(&report),
            [
                "alice jump admin group-admin",
                "alice pay-prod admin group-admin",
                "alice pay-stg admin group-admin",
                "alice shared admin group-admin",
                "bob pay-prod developer group-developer-pay",
                "bob pay-prod operator group-operator-pay",
                "bob pay-stg developer group-developer-pay",
                "bob pay-stg operator group-operator-pay",
                "carol jump operator group-operator",
                "carol pay-prod operator group-operator",
                "carol pay-prod operator group-operator-pay",
                "carol pay-stg operator group-operator",
                "carol pay-stg operator group-operator-pay",
                "carol shared operator group-operator",
            ]
        );
        assert_eq!(report.users, ["alice", "bob", "carol", "dave"]);
        assert_eq!(
            report.grants().next().unwrap().role_arn,
            "arn:aws:iam::111111111111:role/role-admin"
        );
    }

    #[test]
    fn a_faithful_apply_reads_back_as_the_same_grants() {
        let state = state();
        let live = applied(&state);
        let from_file: Vec<Grant> = from_desired(&state).grants().cloned().collect();
        let from_live: Vec<Grant> = from_live_only(&state, &live).grants().cloned().collect();
        assert_eq!(from_file, from_live);
        let compared = compare(&state, &live);
        assert!(
            compared
                .entries
                .iter()
                .all(|e| e.status == Some(Status::Both))
        );
        assert_eq!(compared.differences().count(), 0);
    }

    #[test]
    fn a_membership_added_by_hand_is_live_only_and_a_missing_one_file_only() {
        let state = state();
        let mut live = applied(&state);
        add_user(&mut live, "dave", ["group-admin-pay"]);
        live.users
            .get_mut("bob")
            .unwrap()
            .groups
            .remove("group-developer-pay");
        let report = compare(&state, &live);
        let differences: Vec<String> = report
            .differences()
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    status_name(e.status.unwrap()),
                    e.grant.user,
                    e.grant.account,
                    e.grant.role
                )
            })
            .collect();
        assert_eq!(
            differences,
            [
                "file-only bob pay-prod developer",
                "file-only bob pay-stg developer",
                "live-only dave pay-prod admin",
                "live-only dave pay-stg admin",
            ]
        );
        let text = render_text(&report);
        assert!(text.contains("!admin"), "{text}");
        assert!(text.contains("~developer,operator"), "{text}");
        assert!(
            text.contains("4 differences: 2 live only, 2 file only."),
            "{text}"
        );
    }

    #[test]
    fn live_policies_are_read_as_iam_reads_them() {
        let state = state();
        let mut live = applied(&state);
        let hand_made = LiveGroup {
            name: "contractors".into(),
            path: "/".into(),
            inline_policies: [(
                "odd".to_owned(),
                json!({"Statement": [
                    // Wildcards in the middle, lower-case action: reaches every declared role in pay-stg.
                    {"Effect": "Allow", "Action": ["sts:assume*"], "Resource": "arn:aws:iam::333333333333:role/role-*"},
                    // A literal ARN in an account the file does not know.
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::999999999999:role/break-glass"},
                    // An unconditional deny wins.
                    {"Effect": "Deny", "Action": "sts:*", "Resource": "arn:aws:iam::333333333333:role/role-admin"},
                    // Not about AssumeRole.
                    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
                ]})
                .into(),
            )]
            .into(),
            ..LiveGroup::default()
        };
        live.groups.insert("contractors".into(), hand_made);
        add_user(&mut live, "eve", ["contractors", "no-such-group"]);
        let report = from_live_only(&state, &live);
        let eve: Vec<String> = rows(&report)
            .into_iter()
            .filter(|r| r.starts_with("eve"))
            .collect();
        assert_eq!(
            eve,
            [
                "eve pay-stg developer contractors",
                "eve pay-stg operator contractors",
                "eve 999999999999 break-glass contractors",
            ]
        );
        assert_eq!(report.accounts.last().unwrap().id, "999999999999");
    }

    #[test]
    fn the_mfa_deny_does_not_hide_access() {
        let state = state();
        let mut live = applied(&state);
        live.groups
            .get_mut("group-admin")
            .unwrap()
            .inline_policies
            .insert("mfa".into(), crate::policy::mfa_policy());
        assert_eq!(
            from_live_only(&state, &live).entries.len(),
            from_desired(&state).entries.len()
        );
    }

    #[test]
    fn globs_match_like_iam() {
        assert!(glob(
            "arn:aws:iam::*:role/role-admin",
            "arn:aws:iam::1:role/role-admin"
        ));
        assert!(!glob(
            "arn:aws:iam::*:role/role-admin",
            "arn:aws:iam::1:role/role-admin2"
        ));
        assert!(glob("*", ""));
        assert!(glob("a?c*", "abcdef"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*b*b", "abab"));
    }

    #[test]
    fn csv_is_long_form_and_quoted() {
        let mut report = from_desired(&state());
        report.entries.truncate(1);
        report.entries[0].grant.user = "a,\"b\"".into();
        assert_eq!(
            render_csv(&report),
            "user,account,account_id,role,role_arn,group\n\
             \"a,\"\"b\"\"\",jump,111111111111,admin,arn:aws:iam::111111111111:role/role-admin,group-admin\n"
        );
    }

    #[test]
    fn the_grid_pivots_users_by_accounts() {
        let text = render_text(&from_desired(&state()));
        insta::assert_snapshot!(text);
        let markdown = render_markdown(&from_desired(&state()));
        insta::assert_snapshot!(markdown);
    }

    #[test]
    fn json_carries_the_long_form() {
        let state = state();
        let json: Value =
            serde_json::from_str(&render_json(&compare(&state, &applied(&state)))).unwrap();
        assert_eq!(json["format_version"], 1);
        assert_eq!(json["grants"][0]["user"], "alice");
        assert_eq!(json["grants"][0]["status"], "both");
        assert_eq!(json["summary"]["live_only"], 0);
        let plain: Value = serde_json::from_str(&render_json(&from_desired(&state))).unwrap();
        assert!(plain["grants"][0].get("status").is_none());
        assert!(plain.get("summary").is_none());
    }
}
