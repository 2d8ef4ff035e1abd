//! The access impact of a plan: who gains and who loses which role in which
//! account, and which groups gain or lose MFA enforcement. Pure.
//!
//! "Before" is read from the live policies (groups' inline and attached
//! policies, users' attached policies); "after" from the same reading of the
//! live state with the plan's operations played onto it. Playing them stage
//! by stage, each stage's removals before its additions (the worst order its
//! concurrent changes could finish in), also finds the moments during apply
//! when someone would be without a reach or a group without MFA enforcement
//! that both sides of the plan have.
//!
//! A role counts as reachable only where it exists: in an account with an
//! instance of the StackSet whose template declares it. Roles the StackSet
//! does not deliver (written out by hand in a policy) are taken to exist.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::rc::Rc;

use super::{
    Catalogue, Memo, SourceReach, SourceView, allows, combine, group_documents, parse_role_arn,
};
use crate::live::LiveState;
use crate::live::simulate::{self, Jump};
use crate::model::desired::DesiredState;
use crate::model::names::Partition;
use crate::plan::{Change, Operation, Stage};
use crate::policy::{PolicyDocument, one_or_many};

/// Whether something is gained or lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Loss,
    Gain,
}

/// One user's reach to one role in one account that the plan changes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AccessChange {
    pub change: Direction,
    pub user: String,
    /// The declared account name; the organization's name or the id otherwise.
    pub account: String,
    pub account_id: String,
    /// The role key for `role-<key>` roles jumpgate knows; the role name otherwise.
    pub role: String,
    pub role_arn: String,
    /// The groups (or `user policy <name>`) that grant it: before the plan
    /// for a loss, after it for a gain.
    pub via: Vec<String>,
}

/// A group that gains or loses the MFA enforcement policy's effect.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MfaChange {
    pub change: Direction,
    pub group: String,
}

/// Everything a reviewer needs to know about who can reach what.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChanges {
    /// Gains and losses, sorted by user, account, role; losses first.
    pub users: Vec<AccessChange>,
    /// Groups that exist before and after and gain or lose MFA enforcement.
    pub mfa_enforcement: Vec<MfaChange>,
    /// Reaches (and MFA enforcement) that both sides have but that apply
    /// would take away for a while, with the stage where it happens.
    /// jumpgate orders its changes so that this stays empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interruptions: Vec<String>,
}

impl AccessChanges {
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.mfa_enforcement.is_empty() && self.interruptions.is_empty()
    }
}

/// `(user, role ARN)` → what grants it.
type Reaches = BTreeMap<(String, String), BTreeSet<String>>;

/// One state of the jump account, read for access: its sources, where the
/// roles exist, and which groups enforce MFA.
struct View {
    sources: SourceView,
    delivered: Delivered,
    enforced: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl View {
    fn of(live: &LiveState, memo: &mut Memo) -> View {
        let by_arn: BTreeMap<&str, &PolicyDocument> = live
            .policies
            .values()
            .map(|p| (p.arn.as_str(), &p.document))
            .collect();
        View {
            sources: SourceView::of(live, memo),
            delivered: Delivered::of(live),
            enforced: live
                .groups
                .values()
                .filter(|g| {
                    group_documents(g, &by_arn)
                        .into_iter()
                        .flat_map(PolicyDocument::statements)
                        .any(enforces_mfa)
                })
                .map(|g| g.name.clone())
                .collect(),
            groups: live.groups.keys().cloned().collect(),
        }
    }

    fn reach(&self, sources: &[(String, Rc<SourceReach>)]) -> BTreeMap<String, BTreeSet<String>> {
        let mut reach = combine(sources);
        reach.retain(|arn, _| self.delivered.exists(arn));
        reach
    }
}

/// What is lost and what is gained from one state to the next. Users whose
/// sources are the very same on both sides are looked at only for the roles
/// whose existence changed: a plan touches few users of a large estate.
fn differences(
    (old_live, old): (&LiveState, &View),
    (new_live, new): (&LiveState, &View),
    candidates: &[String],
) -> (Reaches, Reaches) {
    let moved: Vec<&String> = candidates
        .iter()
        .filter(|arn| old.delivered.exists(arn) != new.delivered.exists(arn))
        .collect();
    let (mut lost, mut gained) = (Reaches::new(), Reaches::new());
    let names: BTreeSet<&String> = old_live.users.keys().chain(new_live.users.keys()).collect();
    for name in names {
        let (old_user, new_user) = (old_live.users.get(name), new_live.users.get(name));
        let same = match (old_user, new_user) {
            (Some(a), Some(b)) => {
                a.groups == b.groups
                    && a.attached_policies == b.attached_policies
                    && a.groups
                        .iter()
                        .all(|g| same_reach(old.sources.groups.get(g), new.sources.groups.get(g)))
                    && a.attached_policies.iter().all(|p| {
                        same_reach(old.sources.policies.get(p), new.sources.policies.get(p))
                    })
            }
            _ => false,
        };
        if same && moved.is_empty() {
            continue;
        }
        let before = old_user.map(|u| old.sources.sources(u)).unwrap_or_default();
        let (was, is): (
            BTreeMap<String, BTreeSet<String>>,
            BTreeMap<String, BTreeSet<String>>,
        ) = if same {
            let pick = |view: &View| {
                moved
                    .iter()
                    .filter(|arn| view.delivered.exists(arn))
                    .filter_map(|arn| Some(((*arn).clone(), allows(&before, arn)?)))
                    .collect()
            };
            (pick(old), pick(new))
        } else {
            let after = new_user.map(|u| new.sources.sources(u)).unwrap_or_default();
            (old.reach(&before), new.reach(&after))
        };
        for (arn, via) in &was {
            if !is.contains_key(arn) {
                lost.insert((name.clone(), arn.clone()), via.clone());
            }
        }
        for (arn, via) in is {
            if !was.contains_key(&arn) {
                gained.insert((name.clone(), arn), via);
            }
        }
    }
    (lost, gained)
}

/// Whether a source reads the same on both sides (the memo shares equal ones).
fn same_reach(a: Option<&Rc<SourceReach>>, b: Option<&Rc<SourceReach>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Rc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// The access changes of `changes` (a plan's, in order) on `live`.
pub fn impact(state: &DesiredState, live: &LiveState, changes: &[Change]) -> AccessChanges {
    let mut catalogue = Catalogue::of(state);
    catalogue.add_live_targets(live);
    let candidates: Vec<String> = catalogue
        .declared_arns()
        .into_iter()
        .map(|(arn, _, _)| arn)
        .collect();
    let jump = Jump {
        account: &state.jump.id,
        partition: Partition::of(state.jump.region.as_str()),
    };
    let mut memo = Memo::new(&candidates);
    let before = View::of(live, &mut memo);
    let mut current = live.clone();
    // After each stage's removals: what was lost then, and in which stage.
    let mut midway: Vec<(Stage, Reaches, BTreeSet<String>)> = Vec::new();
    let mut stages: Vec<Stage> = changes.iter().map(|c| c.stage).collect();
    stages.dedup();
    for stage in stages {
        let operations = changes
            .iter()
            .filter(|c| c.stage == stage)
            .flat_map(|c| &c.operations);
        let (removals, additions): (Vec<&Operation>, Vec<&Operation>) =
            operations.partition(|op| takes_away(op));
        if !removals.is_empty() {
            simulate::apply_all(&mut current, removals.iter().copied(), jump);
            let middle = View::of(&current, &mut memo);
            let (lost, _) = differences((live, &before), (&current, &middle), &candidates);
            let unenforced = before
                .enforced
                .iter()
                .filter(|g| middle.groups.contains(*g) && !middle.enforced.contains(*g))
                .cloned()
                .collect();
            midway.push((stage, lost, unenforced));
        }
        simulate::apply_all(&mut current, additions, jump);
    }
    let after = View::of(&current, &mut memo);
    let (lost, gained) = differences((live, &before), (&current, &after), &candidates);

    let mut users: Vec<AccessChange> = lost
        .iter()
        .filter_map(|(key, via)| change(&catalogue, Direction::Loss, key, via))
        .chain(
            gained
                .iter()
                .filter_map(|(key, via)| change(&catalogue, Direction::Gain, key, via)),
        )
        .collect();
    users.sort_by(|a, b| {
        let rank = |c: &AccessChange| {
            (
                c.user.clone(),
                catalogue.account_index(&c.account_id),
                c.account_id.clone(),
                catalogue.role_index(&c.role),
                c.role.clone(),
                c.change,
            )
        };
        rank(a).cmp(&rank(b))
    });
    let mut mfa_enforcement = Vec::new();
    for group in before.groups.intersection(&after.groups) {
        let change = match (
            before.enforced.contains(group),
            after.enforced.contains(group),
        ) {
            (true, false) => Direction::Loss,
            (false, true) => Direction::Gain,
            _ => continue,
        };
        mfa_enforcement.push(MfaChange {
            change,
            group: group.clone(),
        });
    }
    let mut interruptions = Vec::new();
    let mut reported = BTreeSet::new();
    for (stage, lost_then, unenforced) in &midway {
        for key in lost_then.keys() {
            if !lost.contains_key(key)
                && reported.insert(key.clone())
                && let Some(c) = change(&catalogue, Direction::Loss, key, &BTreeSet::new())
            {
                interruptions.push(format!(
                    "{} cannot reach {} in {} ({}) while stage {} runs",
                    c.user,
                    c.role,
                    c.account,
                    c.account_id,
                    stage_name(*stage)
                ));
            }
        }
        for group in unenforced {
            if after.enforced.contains(group) && reported.insert((group.clone(), String::new())) {
                interruptions.push(format!(
                    "group {group} is without MFA enforcement while stage {} runs",
                    stage_name(*stage)
                ));
            }
        }
    }
    AccessChanges {
        users,
        mfa_enforcement,
        interruptions,
    }
}

fn stage_name(stage: Stage) -> String {
    serde_json::to_value(stage)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn change(
    catalogue: &Catalogue,
    direction: Direction,
    (user, arn): &(String, String),
    via: &BTreeSet<String>,
) -> Option<AccessChange> {
    let grant = catalogue.grant(user, arn, "")?;
    Some(AccessChange {
        change: direction,
        user: grant.user,
        account: grant.account,
        account_id: grant.account_id,
        role: grant.role,
        role_arn: grant.role_arn,
        via: via.iter().cloned().collect(),
    })
}

/// A `Deny` that applies when `aws:MultiFactorAuthPresent` is false or
/// absent: the shape of the MFA enforcement policy AWS documents
/// ("IAM: Allows IAM users to self-manage an MFA device").
fn enforces_mfa(statement: &Value) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Deny") {
        return false;
    }
    let Some(conditions) = statement.get("Condition").and_then(Value::as_object) else {
        return false;
    };
    conditions.iter().any(|(operator, block)| {
        let operator = operator.to_ascii_lowercase();
        (operator == "bool" || operator == "boolifexists")
            && block.as_object().is_some_and(|keys| {
                keys.iter().any(|(key, value)| {
                    key.eq_ignore_ascii_case("aws:MultiFactorAuthPresent")
                        && one_or_many(Some(value))
                            .iter()
                            .any(|v| v.as_str() == Some("false") || v.as_bool() == Some(false))
                })
            })
    })
}

/// Which roles the StackSet delivers, and where.
struct Delivered {
    /// `None` without a StackSet (or with an unreadable template): no telling.
    roles: Option<BTreeSet<String>>,
    accounts: BTreeSet<String>,
}

impl Delivered {
    fn of(live: &LiveState) -> Delivered {
        let set = live.live_stack_set();
        Delivered {
            roles: set.and_then(|s| role_names(&s.template)),
            accounts: live
                .stack_instances
                .iter()
                .map(|i| i.account.to_string())
                .collect(),
        }
    }

    fn exists(&self, arn: &str) -> bool {
        let Some(arn) = parse_role_arn(arn) else {
            return false;
        };
        match &self.roles {
            Some(roles) if roles.contains(arn.name()) => {
                self.accounts.contains(arn.account.as_str())
            }
            _ => true,
        }
    }
}

/// The `RoleName`s of a template's `AWS::IAM::Role` resources.
pub fn role_names(template: &Value) -> Option<BTreeSet<String>> {
    let resources = template.get("Resources")?.as_object()?;
    Some(
        resources
            .values()
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::IAM::Role"))
            .filter_map(|r| r.pointer("/Properties/RoleName")?.as_str())
            .map(str::to_owned)
            .collect(),
    )
}

/// Whether an operation can only take access or enforcement away.
fn takes_away(op: &Operation) -> bool {
    matches!(
        op,
        Operation::DeleteStack { .. }
            | Operation::DeleteStackInstances { .. }
            | Operation::DeleteGroupPolicy { .. }
            | Operation::DetachGroupPolicy { .. }
            | Operation::DeleteGroup { .. }
            | Operation::RemoveUserFromGroup { .. }
            | Operation::DeleteUserPolicy { .. }
            | Operation::DetachUserPolicy { .. }
            | Operation::DeleteUser { .. }
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::live::{LiveGroup, LivePolicy};
    use crate::plan::tests::{converge, state};
    use crate::plan::{Action, Address, Kind, build};
    use crate::policy::mfa_policy;

    const ESTATE: &str = r#"
jump-account id="111111111111" region="ap-northeast-1"
project "pay" {
    account "pay-prod" id="222222222222"
    account "pay-stg"  id="333333333333"
}
account "shared" id="444444444444"
user "alice" { access "admin"; }
user "bob" {
    access "operator" project="pay"
    access "developer" project="pay"
}
"#;

    /// `- bob operator pay-stg` / `+ …` lines, in the plan's order.
    fn lines(changes: &AccessChanges) -> Vec<String> {
        changes
            .users
            .iter()
            .map(|c| {
                let sign = if c.change == Direction::Gain {
                    '+'
                } else {
                    '-'
                };
                format!(
                    "{sign} {} {} {} via {}",
                    c.user,
                    c.role,
                    c.account,
                    c.via.join(",")
                )
            })
            .collect()
    }

    #[test]
    fn a_converged_estate_changes_nobodys_access() {
        let desired = state(ESTATE);
        let live = converge(&desired, LiveState::default());
        assert!(build(&desired, &live).access_changes.is_empty());
    }

    #[test]
    fn removing_a_projects_account_shows_each_users_loss() {
        let live = converge(&state(ESTATE), LiveState::default());
        let smaller = state(&ESTATE.replace(r#"account "pay-stg"  id="333333333333""#, ""));
        let plan = build(&smaller, &live);
        assert_eq!(
            lines(&plan.access_changes),
            [
                // The global group's wildcard stops reaching it too: the
                // stack instance, and with it the role, is gone.
                "- alice admin 333333333333 via group-admin",
                "- bob developer 333333333333 via group-developer-pay",
                "- bob operator 333333333333 via group-operator-pay",
            ]
        );
        assert!(plan.access_changes.interruptions.is_empty());
    }

    #[test]
    fn a_new_user_and_a_new_grant_are_gains() {
        let live = converge(&state(ESTATE), LiveState::default());
        let more = state(&format!(
            "{ESTATE}\nuser \"carol\" {{ access \"operator\" project=\"pay\"; }}"
        ));
        let plan = build(&more, &live);
        assert_eq!(
            lines(&plan.access_changes),
            [
                "+ carol operator pay-prod via group-operator-pay",
                "+ carol operator pay-stg via group-operator-pay",
            ]
        );
    }

    #[test]
    fn hand_made_wildcards_and_managed_policies_count() {
        let desired = state(ESTATE);
        let mut live = converge(&desired, LiveState::default());
        // A hand-made group with a managed policy reaching role-admin everywhere.
        let arn = "arn:aws:iam::111111111111:policy/policy-assume-role-admin";
        live.policies.insert(
            "policy-assume-role-admin".into(),
            LivePolicy {
                name: "policy-assume-role-admin".into(),
                arn: arn.into(),
                path: "/".into(),
                default_version: "v1".into(),
                versions: vec!["v1".into()],
                document: json!({"Statement": {"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Resource": "arn:aws:iam::*:role/role-admin"}})
                .into(),
            },
        );
        live.groups.insert(
            "admins".into(),
            LiveGroup {
                name: "admins".into(),
                path: "/".into(),
                attached_policies: [arn.to_owned()].into(),
                ..LiveGroup::default()
            },
        );
        live.users
            .get_mut("bob")
            .unwrap()
            .groups
            .insert("admins".into());
        // The plan leaves the hand-made group alone; taking bob out of pay
        // loses nothing the wildcard still grants in pay's accounts.
        let without_pay = state(&ESTATE.replace(
            "    access \"operator\" project=\"pay\"\n    access \"developer\" project=\"pay\"\n",
            "    access \"operator\" project=\"pay\"\n",
        ));
        let plan = build(&without_pay, &live);
        assert_eq!(
            lines(&plan.access_changes),
            [
                "- bob developer pay-prod via group-developer-pay",
                "- bob developer pay-stg via group-developer-pay",
            ]
        );
        // Before the plan, the wildcard reached every account with the role.
        let candidates: Vec<String> = Catalogue::of(&desired)
            .declared_arns()
            .into_iter()
            .map(|(a, _, _)| a)
            .collect();
        let view = View::of(&live, &mut Memo::new(&candidates));
        let bob = view.reach(&view.sources.sources(&live.users["bob"]));
        let admin: Vec<&String> = bob
            .keys()
            .filter(|a| a.ends_with("role/role-admin"))
            .collect();
        assert_eq!(admin.len(), 4, "{admin:?}");
    }

    fn detach_mfa(group: &str, stage: Stage, arn: &str) -> Change {
        Change {
            action: Action::Delete,
            address: Address::of_part(Kind::GroupPolicyAttachment, group, "mfa"),
            account: crate::model::names::AccountId::new("111111111111").unwrap(),
            stage,
            before: None,
            after: None,
            reason: None,
            operations: vec![Operation::DetachGroupPolicy {
                group: group.into(),
                policy_arn: arn.into(),
            }],
        }
    }

    #[test]
    fn mfa_enforcement_lost_and_gained_by_groups() {
        let desired = state(ESTATE);
        let live = converge(&desired, LiveState::default());
        let arn = &live.policies.values().next().unwrap().arn.clone();
        assert_eq!(
            live.policies.values().next().unwrap().document,
            mfa_policy()
        );
        let mut attach = detach_mfa("group-admin", Stage::GroupPolicies, arn);
        attach.operations = vec![Operation::AttachGroupPolicy {
            group: "group-admin".parse().unwrap(),
            policy_arn: arn.clone(),
        }];
        let mut without = live.clone();
        without
            .groups
            .get_mut("group-admin")
            .unwrap()
            .attached_policies
            .clear();
        let changes = impact(&desired, &without, &[attach]);
        assert_eq!(
            changes.mfa_enforcement,
            [MfaChange {
                change: Direction::Gain,
                group: "group-admin".into()
            }]
        );
        let changes = impact(
            &desired,
            &live,
            &[detach_mfa(
                "group-operator-pay",
                Stage::RemoveGroupPolicies,
                arn,
            )],
        );
        assert_eq!(
            changes.mfa_enforcement,
            [MfaChange {
                change: Direction::Loss,
                group: "group-operator-pay".into()
            }]
        );
        assert!(changes.users.is_empty());
    }

    #[test]
    fn a_removal_before_its_replacement_is_a_moment_without_access() {
        let desired = state(ESTATE);
        let live = converge(&desired, LiveState::default());
        let arn = live.policies.values().next().unwrap().arn.clone();
        let change = |stage, operation| Change {
            action: Action::Update,
            address: Address::of_part(Kind::Membership, "alice", "group-admin"),
            account: crate::model::names::AccountId::new("111111111111").unwrap(),
            stage,
            before: None,
            after: None,
            reason: None,
            operations: vec![operation],
        };
        let remove = Operation::RemoveUserFromGroup {
            user: "alice".into(),
            group: "group-admin".into(),
        };
        let add = Operation::AddUserToGroup {
            user: "alice".parse().unwrap(),
            group: "group-admin".parse().unwrap(),
        };
        // Removal first, then the same membership back: same ends, a gap between.
        let gap = impact(
            &desired,
            &live,
            &[
                change(Stage::Groups, remove.clone()),
                change(Stage::Memberships, add.clone()),
                detach_mfa("group-admin", Stage::GroupPolicies, &arn),
                change(
                    Stage::DeleteGroups,
                    Operation::AttachGroupPolicy {
                        group: "group-admin".parse().unwrap(),
                        policy_arn: arn.clone(),
                    },
                ),
            ],
        );
        assert!(gap.users.is_empty() && gap.mfa_enforcement.is_empty());
        assert_eq!(
            gap.interruptions,
            [
                "alice cannot reach admin in jump (111111111111) while stage groups runs",
                "alice cannot reach admin in pay-prod (222222222222) while stage groups runs",
                "alice cannot reach admin in pay-stg (333333333333) while stage groups runs",
                "alice cannot reach admin in shared (444444444444) while stage groups runs",
                "group group-admin is without MFA enforcement while stage group-policies runs",
            ]
        );
        // Within one stage the removal is assumed to finish first.
        let same_stage = impact(
            &desired,
            &live,
            &[
                change(Stage::Memberships, add),
                change(Stage::Memberships, remove),
            ],
        );
        assert_eq!(same_stage.interruptions.len(), 4, "{same_stage:?}");
    }
}
