//! The planner: a pure function from desired and live state to a `Plan`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Value, json};

use super::accounts::{plan_accounts, resolve_account_ids};
use super::{
    Action, Address, Change, Kind, Operation, Plan, Reason, SecretDelivery, Stage, Summary,
    lockouts,
};
use crate::live::simulate::Jump;
use crate::live::{
    LiveStack, LiveState, LiveUser, OWNED_PATH, OWNER_TAG_KEY, OWNER_TAG_VALUE,
    StackInstanceStatus, StackStatus,
};
use crate::model::derive::{managed_groups, targets, user_groups};
use crate::model::desired::{DesiredState, User};
use crate::model::names::{AccountId, Partition, PolicyArn};
use crate::policy::{GROUP_POLICY_NAME, MFA_POLICY_NAME, PolicyDocument, group_policy, mfa_policy};
use crate::templates::{
    ADMIN_ROLE_STACK, ADMINISTRATION_ROLE_NAME, EXECUTION_ROLE_NAME, EXECUTION_ROLE_STACK,
    ROLES_STACK_SET, admin_role, execution_role, execution_role_parameters, iam_roles,
};

/// IAM keeps at most five versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

pub fn build(desired: &DesiredState, live: &LiveState) -> Plan {
    let resolved = resolve_account_ids(desired, live);
    let desired = &resolved;
    let accounts = plan_accounts(desired, live);
    let mut planner = Planner {
        desired,
        live,
        jump: desired.jump.id.clone(),
        changes: accounts.changes,
        warnings: accounts.warnings,
    };
    planner.password_policy();
    planner.stacks();
    planner.stack_set();
    planner.mfa_policy();
    planner.groups();
    planner.users();
    let Planner {
        mut changes,
        warnings,
        ..
    } = planner;
    // Stable: within a stage, changes keep the order they were planned in.
    changes.sort_by_key(|c| c.stage);
    let declared = declared_users(desired);
    let unmanaged_users = live
        .users
        .values()
        .filter(|u| !u.is_owned() && !declared.contains(&u.name.to_lowercase()))
        .map(|u| u.name.clone())
        .collect();
    let access_changes = crate::access::impact(desired, live, &changes);
    let jump = Jump {
        account: &desired.jump.id,
        partition: Partition::of(desired.jump.region.as_str()),
    };
    let blockers = super::feasible::blockers(live, &changes, jump);
    Plan {
        blockers,
        access_changes,
        account_names: targets(desired)
            .into_iter()
            .map(|t| (t.id, t.name.to_string()))
            .collect(),
        jump_account: desired.jump.id.clone(),
        region: desired.jump.region.clone(),
        fingerprint: live.fingerprint(),
        jumpgate_version: super::JUMPGATE_VERSION.to_owned(),
        inputs_digest: String::new(),
        summary: Summary::of(&changes),
        changes,
        unmanaged_users,
        lockouts: lockouts(desired, live),
        expiring: Vec::new(),
        warnings,
        bootstrap_needed: accounts.bootstrap_needed,
    }
}

/// The declared user names in lower case, for lookups by the names IAM
/// returns (IAM names ignore case: "IAM identifiers", reference_identifiers.html);
/// a scan of `desired.users` per live user would make planning quadratic.
fn declared_users(desired: &DesiredState) -> HashSet<String> {
    desired
        .users
        .keys()
        .map(|u| u.as_str().to_lowercase())
        .collect()
}

/// Live objects by lower-case name, to find the one IAM takes for a name.
fn by_lower_case<T>(live: &BTreeMap<String, T>) -> HashMap<String, &T> {
    live.iter().map(|(k, v)| (k.to_lowercase(), v)).collect()
}

/// What a stack needs to become `template` with `parameters`, given the
/// live one: the decision `plan` and `bootstrap` share.
#[derive(Debug, Clone, PartialEq)]
pub enum StackNeed {
    UpToDate,
    /// A failed operation left it in a state only a person can fix.
    Stuck(StackStatus),
    Change {
        action: Action,
        operations: Vec<Operation>,
    },
}

pub fn stack_need(
    name: &str,
    live: Option<&LiveStack>,
    template: &Value,
    parameters: &BTreeMap<String, String>,
) -> StackNeed {
    let create = || Operation::CreateStack {
        stack: name.into(),
        template: template.clone(),
        parameters: parameters.clone(),
    };
    match live {
        None => StackNeed::Change {
            action: Action::Create,
            operations: vec![create()],
        },
        // A stack whose creation failed can be neither used nor updated:
        // CloudFormation only lets it be deleted and created again.
        Some(live) if live.status == StackStatus::RollbackComplete => StackNeed::Change {
            action: Action::Update,
            operations: vec![Operation::DeleteStack { stack: name.into() }, create()],
        },
        Some(live) if live.status.is_failed() => StackNeed::Stuck(live.status.clone()),
        Some(live) if live.template != *template || live.parameters != *parameters => {
            StackNeed::Change {
                action: Action::Update,
                operations: vec![Operation::UpdateStack {
                    stack: name.into(),
                    template: template.clone(),
                    parameters: parameters.clone(),
                }],
            }
        }
        Some(_) => StackNeed::UpToDate,
    }
}

struct Planner<'a> {
    desired: &'a DesiredState,
    live: &'a LiveState,
    jump: AccountId,
    changes: Vec<Change>,
    warnings: Vec<String>,
}

fn owner_tags() -> BTreeMap<String, String> {
    [(OWNER_TAG_KEY.to_owned(), OWNER_TAG_VALUE.to_owned())].into()
}

impl Planner<'_> {
    /// A change to an object in the jump account (`in_account` moves it).
    fn push(
        &mut self,
        action: Action,
        address: Address,
        stage: Stage,
        before: Option<Value>,
        after: Option<Value>,
        operations: Vec<Operation>,
    ) {
        self.changes.push(Change {
            action,
            address,
            account: self.jump.clone(),
            stage,
            before,
            after,
            operations,
            reason: None,
        });
    }

    /// A new object: nothing before it, `after` once made.
    fn create(&mut self, address: Address, stage: Stage, after: Value, operations: Vec<Operation>) {
        self.push(
            Action::Create,
            address,
            stage,
            None,
            Some(after),
            operations,
        );
    }

    /// An object removed: `before`, and nothing after.
    fn delete(
        &mut self,
        address: Address,
        stage: Stage,
        before: Value,
        operations: Vec<Operation>,
    ) {
        self.push(
            Action::Delete,
            address,
            stage,
            Some(before),
            None,
            operations,
        );
    }

    /// Takes over an object made outside jumpgate: always an explicit update.
    fn adopt(
        &mut self,
        address: Address,
        stage: Stage,
        before: Value,
        after: Value,
        operation: Operation,
    ) {
        self.push(
            Action::Update,
            address,
            stage,
            Some(before),
            Some(after),
            vec![operation],
        );
        self.because(Reason::Adopt);
    }

    /// Moves the change just pushed to `account` (a stack instance's).
    fn in_account(&mut self, account: AccountId) {
        if let Some(change) = self.changes.last_mut() {
            change.account = account;
        }
    }

    /// Says why the change just pushed was chosen.
    fn because(&mut self, reason: Reason) {
        if let Some(change) = self.changes.last_mut() {
            change.reason = Some(reason);
        }
    }

    fn password_policy(&mut self) {
        let Some(wanted) = &self.desired.jump.password_policy else {
            return;
        };
        if self.live.password_policy.as_ref() == Some(wanted) {
            return;
        }
        let action = if self.live.password_policy.is_some() {
            Action::Update
        } else {
            Action::Create
        };
        self.push(
            action,
            Address::account_wide(Kind::PasswordPolicy),
            Stage::PasswordPolicy,
            self.live.password_policy.as_ref().map(|p| json!(p)),
            Some(json!(wanted)),
            vec![Operation::UpdateAccountPasswordPolicy {
                policy: wanted.clone(),
            }],
        );
    }

    fn stack(
        &mut self,
        name: &str,
        role: &str,
        stage: Stage,
        template: Value,
        parameters: BTreeMap<String, String>,
    ) {
        if self.live.foreign_stack_set_roles.contains(role) {
            self.foreign_role(name, role, stage);
            return;
        }
        let live = self.live.stacks.get(name);
        let template = keep_live_identity(template, live.map(|s| &s.template));
        match stack_need(name, live, &template, &parameters) {
            StackNeed::UpToDate => {}
            StackNeed::Stuck(status) => self.warnings.push(format!(
                "stack {name} is {status}; fix it in the CloudFormation console (jumpgate cannot update it in that state)"
            )),
            StackNeed::Change { action, operations } => {
                // A stack being replaced shows the status that calls for it.
                let before = live.map(|live| match live.status {
                    StackStatus::RollbackComplete => json!({"status": live.status, "template": live.template, "parameters": live.parameters}),
                    _ => json!({"template": live.template, "parameters": live.parameters}),
                });
                let after = json!({"template": template, "parameters": parameters});
                self.push(
                    action,
                    Address::new(Kind::Stack, name),
                    stage,
                    before,
                    Some(after),
                    operations,
                );
                if live.is_some_and(|live| live.status == StackStatus::RollbackComplete) {
                    self.because(Reason::Replace);
                }
            }
        }
    }

    /// The role exists although jumpgate's stack for it does not: made by
    /// hand or by AWS's sample StackSet templates, which use the same name.
    /// A stack would fail on the name (and, failed, be replaced on every
    /// apply), so the role is used as it is; a stack that already failed on
    /// it is removed.
    fn foreign_role(&mut self, stack: &str, role: &str, stage: Stage) {
        let needs = if role == ADMINISTRATION_ROLE_NAME {
            "trust cloudformation.amazonaws.com and may assume AWSCloudFormationStackSetExecutionRole in the target accounts"
        } else {
            "trust the jump account's AWSCloudFormationStackSetAdministrationRole and may manage the role-* roles"
        };
        self.warnings.push(format!(
            "role {role} already exists in the jump account, made outside jumpgate; jumpgate uses it as it is instead of deploying stack {stack} (it must {needs}). To let jumpgate manage it, delete the role, or the stack that made it, and apply again"
        ));
        if let Some(live) = self.live.stacks.get(stack) {
            self.delete(
                Address::new(Kind::Stack, stack),
                stage,
                json!({"status": live.status, "reason": format!("failed on the existing role {role}")}),
                vec![Operation::DeleteStack {
                    stack: stack.into(),
                }],
            );
        }
    }

    fn stacks(&mut self) {
        self.stack(
            ADMIN_ROLE_STACK,
            ADMINISTRATION_ROLE_NAME,
            Stage::AdminRoleStack,
            admin_role(),
            BTreeMap::new(),
        );
        if self.desired.jump.is_target {
            let parameters = execution_role_parameters(&self.jump);
            self.stack(
                EXECUTION_ROLE_STACK,
                EXECUTION_ROLE_NAME,
                Stage::ExecutionRoleStack,
                execution_role(),
                parameters,
            );
        }
    }

    fn stack_set(&mut self) {
        let live_template = self.live.stack_set.as_ref().map(|s| &s.template);
        let template = keep_live_identity(iam_roles(self.desired.roles.values()), live_template);
        let parameters: BTreeMap<String, String> =
            [("AdminAccountId".to_owned(), self.jump.to_string())].into();
        let after = json!({"template": template, "parameters": parameters});
        let address = Address::new(Kind::StackSet, ROLES_STACK_SET);
        let live_set = self.live.live_stack_set();
        match live_set {
            None => self.create(
                address,
                Stage::StackSet,
                after,
                vec![Operation::CreateStackSet {
                    stack_set: ROLES_STACK_SET.into(),
                    template,
                    parameters,
                }],
            ),
            Some(live) if live.template != template || live.parameters != parameters => {
                let before = json!({"template": live.template, "parameters": live.parameters});
                self.push(
                    Action::Update,
                    address,
                    Stage::StackSet,
                    Some(before),
                    Some(after),
                    vec![Operation::UpdateStackSet {
                        stack_set: ROLES_STACK_SET.into(),
                        template,
                        parameters,
                    }],
                );
            }
            Some(_) => {}
        }
        let update_planned = self
            .changes
            .iter()
            .any(|c| c.kind() == Kind::StackSet && c.action == Action::Update);
        self.stack_instances(live_set.is_some(), update_planned);
    }

    fn stack_instances(&mut self, stack_set_exists: bool, stack_set_update_planned: bool) {
        let region = self.desired.jump.region.to_string();
        let live: BTreeSet<(String, String)> = if stack_set_exists {
            self.live
                .stack_instances
                .iter()
                .map(|i| (i.account.to_string(), i.region.clone()))
                .collect()
        } else {
            BTreeSet::new()
        };
        let wanted = targets(self.desired);
        let wanted_ids: HashSet<&str> = wanted.iter().map(|t| t.id.as_str()).collect();
        for target in &wanted {
            let key = (target.id.to_string(), region.clone());
            if live.contains(&key) {
                continue;
            }
            self.create(
                Address::of_part(
                    Kind::StackInstance,
                    ROLES_STACK_SET,
                    format!("{}/{region}", target.id),
                ),
                Stage::StackInstances,
                json!({"account": target.id, "name": target.name, "region": region}),
                vec![Operation::CreateStackInstances {
                    stack_set: ROLES_STACK_SET.into(),
                    accounts: vec![target.id.clone()],
                    regions: vec![region.clone()],
                }],
            );
            self.in_account(target.id.clone());
        }
        for instance in self
            .live
            .stack_instances
            .iter()
            .filter(|_| stack_set_exists)
        {
            let wanted_here =
                instance.region == region && wanted_ids.contains(instance.account.as_str());
            if !wanted_here {
                self.delete(
                    Address::of_part(Kind::StackInstance, ROLES_STACK_SET, format!("{}/{}", instance.account, instance.region)),
                    Stage::DeleteStackInstances,
                    json!({"account": instance.account, "region": instance.region, "status": instance.status}),
                    vec![Operation::DeleteStackInstances {
                        stack_set: ROLES_STACK_SET.into(),
                        accounts: vec![instance.account.clone()],
                        regions: vec![instance.region.clone()],
                    }],
                );
                self.in_account(instance.account.clone());
            } else if instance.status == StackInstanceStatus::Inoperable {
                // API_StackInstanceSummary: AWS leaves such an instance out of
                // every update; only DeleteStackInstances with RetainStacks
                // clears it, and the stack left behind is the owner's to judge.
                self.warnings.push(format!(
                    "stack instance of {ROLES_STACK_SET} in {} ({}) is INOPERABLE: {}. Remove it with `aws cloudformation delete-stack-instances --stack-set-name {ROLES_STACK_SET} --accounts {} --regions {} --retain-stacks`, delete its stack in that account, then apply again",
                    instance.account,
                    instance.region,
                    instance.status_reason.as_deref().unwrap_or("no reason given"),
                    instance.account,
                    instance.region
                ));
            } else if instance.status != StackInstanceStatus::Current && stack_set_update_planned {
                self.warnings.push(format!(
                    "stack instance of {ROLES_STACK_SET} in {} ({}) is {}: {}; the StackSet update deploys to it again",
                    instance.account,
                    instance.region,
                    instance.status,
                    instance.status_reason.as_deref().unwrap_or("no reason given")
                ));
            } else if instance.status != StackInstanceStatus::Current {
                // OUTDATED: an operation failed or was cancelled there. An
                // UpdateStackSet planned above deploys to every instance anyway.
                let before = json!({
                    "account": instance.account,
                    "region": instance.region,
                    "status": instance.status,
                    "reason": instance.status_reason,
                });
                self.push(
                    Action::Update,
                    Address::of_part(Kind::StackInstance, ROLES_STACK_SET, format!("{}/{}", instance.account, instance.region)),
                    Stage::StackInstances,
                    Some(before),
                    Some(json!({"account": instance.account, "region": instance.region, "status": StackInstanceStatus::Current})),
                    vec![Operation::UpdateStackInstances {
                        stack_set: ROLES_STACK_SET.into(),
                        accounts: vec![instance.account.clone()],
                        regions: vec![instance.region.clone()],
                    }],
                );
                self.in_account(instance.account.clone());
                self.because(Reason::Repair);
            }
        }
    }

    /// The MFA policy groups get: the live one of that name wherever it is
    /// (a hand-built estate's `/policy-enforce-mfa` is adopted: IAM policy
    /// names are unique in an account whatever the path, so jumpgate's could
    /// not be created beside it), else the one this plan creates.
    fn mfa_policy_arn(&self) -> String {
        match self.live.policies.get(MFA_POLICY_NAME) {
            Some(live) => live.arn.clone(),
            None => PolicyArn::customer(
                Partition::of(self.desired.jump.region.as_str()),
                &self.jump,
                OWNED_PATH,
                MFA_POLICY_NAME,
            )
            .into(),
        }
    }

    fn mfa_policy(&mut self) {
        let document = mfa_policy();
        let address = Address::new(Kind::ManagedPolicy, MFA_POLICY_NAME);
        match self.live.policies.get(MFA_POLICY_NAME) {
            None => self.create(
                address,
                Stage::MfaPolicy,
                document.as_json().clone(),
                vec![Operation::CreatePolicy {
                    name: MFA_POLICY_NAME.into(),
                    path: OWNED_PATH.into(),
                    document,
                }],
            ),
            Some(live) if !live.document.equivalent(&document) => {
                // Free a slot first when IAM's five versions are used up.
                let delete_version = (live.versions.len() >= MAX_POLICY_VERSIONS)
                    .then(|| {
                        live.versions
                            .iter()
                            .filter(|v| **v != live.default_version)
                            .min_by_key(|v| v.trim_start_matches('v').parse::<u32>().unwrap_or(0))
                            .cloned()
                    })
                    .flatten();
                self.push(
                    Action::Update,
                    address,
                    Stage::MfaPolicy,
                    Some(live.document.as_json().clone()),
                    Some(document.as_json().clone()),
                    vec![Operation::CreatePolicyVersion {
                        policy_arn: live.arn.clone(),
                        document,
                        delete_version,
                    }],
                );
            }
            Some(_) => {}
        }
    }

    fn groups(&mut self) {
        let wanted = managed_groups(self.desired);
        let mfa_arn = self.mfa_policy_arn();
        let live_groups = by_lower_case(&self.live.groups);
        for (group_name, spec) in &wanted {
            let name = group_name.as_str();
            let live = live_groups.get(&name.to_lowercase()).copied();
            // The same group to IAM, spelt otherwise: renamed, never created twice.
            if let Some(group) = live.filter(|g| g.name != name) {
                self.push(
                    Action::Update,
                    Address::new(Kind::Group, name),
                    Stage::Groups,
                    Some(json!({"name": group.name, "path": group.path})),
                    Some(json!({"name": name, "path": group.path, "renamed_from": group.name})),
                    vec![Operation::UpdateGroupName {
                        group: group.name.clone(),
                        new_group_name: group_name.clone(),
                    }],
                );
                self.because(Reason::Rename);
            }
            match live {
                None => self.create(
                    Address::new(Kind::Group, name),
                    Stage::Groups,
                    json!({"name": name, "path": OWNED_PATH}),
                    vec![Operation::CreateGroup {
                        group: group_name.clone(),
                        path: OWNED_PATH.into(),
                    }],
                ),
                Some(group) if !group.is_owned() => self.adopt(
                    Address::new(Kind::Group, name),
                    Stage::Groups,
                    json!({"name": name, "path": group.path}),
                    json!({"name": name, "path": OWNED_PATH}),
                    Operation::UpdateGroupPath {
                        group: group_name.clone(),
                        path: OWNED_PATH.into(),
                    },
                ),
                Some(_) => {}
            }
            let live_policies = live.map(|g| &g.inline_policies);
            let live_policy = live_policies.and_then(|p| p.get(GROUP_POLICY_NAME));
            let policy_address = Address::of_part(Kind::GroupPolicy, name, GROUP_POLICY_NAME);
            match (group_policy(spec), live_policy) {
                // PutGroupPolicy both creates the policy and replaces it.
                (Some(document), current)
                    if current.is_none_or(|current| !document.equivalent(current)) =>
                {
                    let action = if current.is_some() {
                        Action::Update
                    } else {
                        Action::Create
                    };
                    self.push(
                        action,
                        policy_address,
                        Stage::GroupPolicies,
                        current.map(|c| c.as_json().clone()),
                        Some(document.as_json().clone()),
                        vec![Operation::PutGroupPolicy {
                            group: group_name.clone(),
                            policy_name: GROUP_POLICY_NAME.into(),
                            document,
                        }],
                    );
                }
                (None, Some(current)) => self.delete_group_policy(name, GROUP_POLICY_NAME, current),
                _ => {}
            }
            // On a group it owns, jumpgate's policies are the only ones.
            if let Some(group) = live {
                for (policy_name, document) in &group.inline_policies {
                    if policy_name != GROUP_POLICY_NAME {
                        self.delete_group_policy(name, policy_name, document);
                    }
                }
                for arn in &group.attached_policies {
                    if *arn != mfa_arn {
                        self.detach_group_policy(name, arn);
                    }
                }
            }
            if !live.is_some_and(|g| g.attached_policies.contains(&mfa_arn)) {
                self.create(
                    Address::of_part(Kind::GroupPolicyAttachment, name, MFA_POLICY_NAME),
                    Stage::GroupPolicies,
                    json!({"group": name, "policy_arn": mfa_arn}),
                    vec![Operation::AttachGroupPolicy {
                        group: group_name.clone(),
                        policy_arn: mfa_arn.clone(),
                    }],
                );
            }
        }
        let declared = declared_users(self.desired);
        let wanted_names: HashSet<String> =
            wanted.keys().map(|w| w.as_str().to_lowercase()).collect();
        let obsolete: Vec<_> = self
            .live
            .groups
            .values()
            .filter(|g| g.is_owned() && !wanted_names.contains(&g.name.to_lowercase()))
            .collect();
        for group in obsolete {
            // Members jumpgate owns leave through their own membership
            // changes; others must still leave before DeleteGroup.
            let mut operations: Vec<Operation> = self
                .live
                .users
                .values()
                .filter(|u| {
                    u.groups.contains(&group.name)
                        && !u.is_owned()
                        && !declared.contains(&u.name.to_lowercase())
                })
                .map(|u| Operation::RemoveUserFromGroup {
                    user: u.name.clone(),
                    group: group.name.clone(),
                })
                .collect();
            operations.extend(
                group
                    .inline_policies
                    .keys()
                    .map(|p| Operation::DeleteGroupPolicy {
                        group: group.name.clone(),
                        policy_name: p.clone(),
                    }),
            );
            operations.extend(group.attached_policies.iter().map(|arn| {
                Operation::DetachGroupPolicy {
                    group: group.name.clone(),
                    policy_arn: arn.clone(),
                }
            }));
            operations.push(Operation::DeleteGroup {
                group: group.name.clone(),
            });
            self.delete(
                Address::new(Kind::Group, &group.name),
                Stage::DeleteGroups,
                json!({
                    "name": group.name,
                    "inline_policies": group.inline_policies.keys().collect::<Vec<_>>(),
                    "attached_policies": group.attached_policies,
                }),
                operations,
            );
        }
    }

    fn delete_group_policy(&mut self, group: &str, policy_name: &str, document: &PolicyDocument) {
        self.delete(
            Address::of_part(Kind::GroupPolicy, group, policy_name),
            Stage::RemoveGroupPolicies,
            document.as_json().clone(),
            vec![Operation::DeleteGroupPolicy {
                group: group.into(),
                policy_name: policy_name.into(),
            }],
        );
    }

    fn detach_group_policy(&mut self, group: &str, arn: &str) {
        self.delete(
            Address::of_part(Kind::GroupPolicyAttachment, group, policy_name_of(arn)),
            Stage::RemoveGroupPolicies,
            json!({"group": group, "policy_arn": arn}),
            vec![Operation::DetachGroupPolicy {
                group: group.into(),
                policy_arn: arn.into(),
            }],
        );
    }

    fn users(&mut self) {
        // The groups jumpgate owns once `groups` has run: those on its path,
        // and the managed ones it adopts in this plan.
        let managed = managed_groups(self.desired);
        let owned_groups: BTreeSet<String> = self
            .live
            .groups
            .values()
            .filter(|g| g.is_owned())
            .map(|g| g.name.to_lowercase())
            .chain(managed.keys().map(|g| g.as_str().to_lowercase()))
            .collect();
        let desired = self.desired;
        let live_users = by_lower_case(&self.live.users);
        for user in desired.users.values() {
            let live = live_users.get(&user.name.as_str().to_lowercase()).copied();
            self.user(user, live, &owned_groups);
        }
        let live = self.live;
        let declared = declared_users(desired);
        for user in live.users.values() {
            if user.is_owned() && !declared.contains(&user.name.to_lowercase()) {
                self.offboard(user);
            }
        }
    }

    fn user(&mut self, user: &User, live: Option<&LiveUser>, owned_groups: &BTreeSet<String>) {
        let name = user.name.as_str();
        match live {
            // The same user to IAM, spelt otherwise: an explicit rename (and
            // adoption when not owned), never a create plus a delete.
            Some(existing) if existing.name != name => {
                let mut tags = existing.tags.clone();
                let mut operations = vec![Operation::UpdateUser {
                    user: existing.name.clone(),
                    new_user_name: user.name.clone(),
                }];
                if !existing.is_owned() {
                    tags.extend(owner_tags());
                    operations.push(Operation::TagUser {
                        user: user.name.clone(),
                        tags: owner_tags(),
                    });
                }
                self.push(
                    Action::Update,
                    Address::new(Kind::User, name),
                    Stage::Users,
                    Some(json!({"name": existing.name, "tags": existing.tags})),
                    Some(json!({
                        "name": name,
                        "tags": tags,
                        "renamed_from": existing.name,
                    })),
                    operations,
                );
                // Taking a user over says more than its new spelling.
                self.because(if existing.is_owned() {
                    Reason::Rename
                } else {
                    Reason::Adopt
                });
            }
            None => self.create(
                Address::new(Kind::User, name),
                Stage::Users,
                json!({"name": name, "tags": owner_tags(), "console": user.console}),
                vec![Operation::CreateUser {
                    user: user.name.clone(),
                    tags: owner_tags(),
                }],
            ),
            Some(existing) if !existing.is_owned() => self.adopt(
                Address::new(Kind::User, name),
                Stage::Users,
                json!({"name": name, "tags": existing.tags}),
                // TagUser adds the marker and keeps the user's other tags.
                json!({
                    "name": name,
                    "tags": existing.tags.clone().into_iter().chain(owner_tags()).collect::<BTreeMap<_, _>>(),
                }),
                Operation::TagUser {
                    user: user.name.clone(),
                    tags: owner_tags(),
                },
            ),
            Some(_) => {}
        }
        let wanted = user_groups(user);
        let wanted_lower: HashSet<String> =
            wanted.iter().map(|g| g.as_str().to_lowercase()).collect();
        let current = live.map(|l| l.groups.clone()).unwrap_or_default();
        let current_lower: HashSet<String> = current.iter().map(|g| g.to_lowercase()).collect();
        for group in &wanted {
            if !current_lower.contains(&group.as_str().to_lowercase()) {
                let group_name = group.as_str();
                self.create(
                    Address::of_part(Kind::Membership, name, group_name),
                    Stage::Memberships,
                    json!({"user": name, "group": group_name}),
                    vec![Operation::AddUserToGroup {
                        user: user.name.clone(),
                        group: group.clone(),
                    }],
                );
            }
        }
        for group in &current {
            let lower = group.to_lowercase();
            if owned_groups.contains(&lower) && !wanted_lower.contains(&lower) {
                self.remove_held(name, Held::Membership(group), Stage::RemoveMemberships);
            }
        }
        if let Some(existing) = live {
            for policy_name in &existing.inline_policies {
                self.remove_held(
                    name,
                    Held::InlinePolicy(policy_name),
                    Stage::RemoveMemberships,
                );
            }
            for arn in &existing.attached_policies {
                self.remove_held(name, Held::AttachedPolicy(arn), Stage::RemoveMemberships);
            }
        }
        let has_profile = live.and_then(|l| l.login_profile).unwrap_or(false);
        if user.console && !has_profile {
            let delivery = match &user.age_recipient {
                Some(recipient) => SecretDelivery::Age {
                    recipient: recipient.clone(),
                },
                None => SecretDelivery::File,
            };
            self.create(
                Address::new(Kind::LoginProfile, name),
                Stage::LoginProfiles,
                json!({"user": name, "password_reset_required": true, "password": delivery}),
                vec![Operation::CreateLoginProfile {
                    user: user.name.clone(),
                    delivery,
                    password_length: password_length(
                        self.desired.jump.password_policy.as_ref(),
                        self.live.password_policy.as_ref(),
                    ),
                }],
            );
        } else if !user.console && has_profile {
            self.delete_login_profile(name, Stage::RemoveLoginProfiles);
        }
    }

    fn delete_login_profile(&mut self, user: &str, stage: Stage) {
        self.delete(
            Address::new(Kind::LoginProfile, user),
            stage,
            json!({"user": user}),
            vec![Operation::DeleteLoginProfile { user: user.into() }],
        );
    }

    /// Removes something `user` holds: a membership, or a policy of its own.
    fn remove_held(&mut self, user: &str, held: Held<'_>, stage: Stage) {
        let (kind, part, field, value, operation) = match held {
            Held::Membership(group) => (
                Kind::Membership,
                group,
                "group",
                group,
                Operation::RemoveUserFromGroup {
                    user: user.into(),
                    group: group.into(),
                },
            ),
            Held::InlinePolicy(policy_name) => (
                Kind::UserPolicy,
                policy_name,
                "policy_name",
                policy_name,
                Operation::DeleteUserPolicy {
                    user: user.into(),
                    policy_name: policy_name.into(),
                },
            ),
            Held::AttachedPolicy(arn) => (
                Kind::UserPolicyAttachment,
                policy_name_of(arn),
                "policy_arn",
                arn,
                Operation::DetachUserPolicy {
                    user: user.into(),
                    policy_arn: arn.into(),
                },
            ),
        };
        self.delete(
            Address::of_part(kind, user, part),
            stage,
            json!({"user": user, field: value}),
            vec![operation],
        );
    }

    /// Everything AWS requires gone before DeleteUser, then DeleteUser.
    fn offboard(&mut self, user: &LiveUser) {
        let name = user.name.as_str();
        let stage = Stage::UserDependents;
        if user.login_profile == Some(true) {
            self.delete_login_profile(name, stage);
        }
        let dependents = user.dependents.clone().unwrap_or_default();
        for reason in &dependents.unreadable {
            self.warnings.push(format!(
                "could not list everything user {name} holds ({reason}); DeleteUser fails if any remain"
            ));
        }
        let mut dependent = |kind: Kind, id: &str, operations: Vec<Operation>| {
            self.delete(
                Address::of_part(kind, name, id),
                stage,
                json!({"user": name, "id": id}),
                operations,
            );
        };
        // Each kind of credential with the call that deletes one.
        let credentials: [(Kind, &Vec<String>, DeleteCredential); 4] = [
            (Kind::AccessKey, &dependents.access_keys, |user, id| {
                Operation::DeleteAccessKey {
                    user,
                    access_key_id: id,
                }
            }),
            (
                Kind::SigningCertificate,
                &dependents.signing_certificates,
                |user, id| Operation::DeleteSigningCertificate {
                    user,
                    certificate_id: id,
                },
            ),
            (
                Kind::SshPublicKey,
                &dependents.ssh_public_keys,
                |user, id| Operation::DeleteSshPublicKey {
                    user,
                    ssh_public_key_id: id,
                },
            ),
            (
                Kind::ServiceSpecificCredential,
                &dependents.service_specific_credentials,
                |user, id| Operation::DeleteServiceSpecificCredential {
                    user,
                    credential_id: id,
                },
            ),
        ];
        for (kind, ids, delete) in credentials {
            for id in ids {
                dependent(kind, id, vec![delete(name.to_owned(), id.clone())]);
            }
        }
        for serial in &dependents.mfa_devices {
            let mut operations = vec![Operation::DeactivateMfaDevice {
                user: name.into(),
                serial_number: serial.clone(),
            }];
            // Virtual devices have an ARN and are deleted; hardware ones are only detached.
            if serial.starts_with("arn:") {
                operations.push(Operation::DeleteVirtualMfaDevice {
                    serial_number: serial.clone(),
                });
            }
            dependent(
                Kind::MfaDevice,
                serial.rsplit('/').next().unwrap_or(serial),
                operations,
            );
        }
        for policy_name in &user.inline_policies {
            self.remove_held(name, Held::InlinePolicy(policy_name), stage);
        }
        for arn in &user.attached_policies {
            self.remove_held(name, Held::AttachedPolicy(arn), stage);
        }
        for group in &user.groups {
            self.remove_held(name, Held::Membership(group), stage);
        }
        self.delete(
            Address::new(Kind::User, name),
            Stage::DeleteUsers,
            json!({"name": name, "path": user.path, "tags": user.tags}),
            vec![Operation::DeleteUser { user: name.into() }],
        );
    }
}

/// What a user holds that comes off it alone: `remove_held` takes it off.
enum Held<'a> {
    Membership(&'a str),
    InlinePolicy(&'a str),
    AttachedPolicy(&'a str),
}

/// Builds the call that deletes one credential: (user, credential id).
type DeleteCredential = fn(String, String) -> Operation;

/// Generated passwords are at least this long, and longer when a policy asks.
const MIN_PASSWORD_LENGTH: u8 = 20;

/// A length that meets the stricter of the file's policy (applied first, in
/// its own stage) and the account's live one: CreateLoginProfile must satisfy
/// the account's policy or fail with PasswordPolicyViolation
/// (API_CreateLoginProfile). The generated password has every character
/// class, so only the length depends on the policies.
fn password_length(
    file: Option<&crate::model::desired::PasswordPolicy>,
    live: Option<&crate::model::desired::PasswordPolicy>,
) -> u8 {
    [file, live]
        .into_iter()
        .flatten()
        .map(|p| p.min_length)
        .fold(MIN_PASSWORD_LENGTH, u8::max)
}

/// The template to put in place of a live one, made to keep what the live
/// resources are. CloudFormation replaces a resource whose logical id
/// changes, creating the new one first ("Update behaviors of stack
/// resources"), which fails for a role whose name the old one still holds:
/// so a role keeps the logical id it has live (a hand-built template's
/// `AdminRole` stays `AdminRole`), and the tags put on it by hand.
fn keep_live_identity(mut template: Value, live: Option<&Value>) -> Value {
    let Some(live) = live
        .and_then(|l| l.get("Resources"))
        .and_then(Value::as_object)
    else {
        return template;
    };
    let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return template;
    };
    let role_name = |r: &Value| {
        r.pointer("/Properties/RoleName")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let mut renames: BTreeMap<String, String> = BTreeMap::new();
    let kept: serde_json::Map<String, Value> = std::mem::take(resources)
        .into_iter()
        .map(|(id, mut resource)| {
            let name = role_name(&resource);
            let twin = live.iter().find(|(_, old)| {
                name.is_some() && old.get("Type") == resource.get("Type") && role_name(old) == name
            });
            let Some((live_id, old)) = twin else {
                return (id, resource);
            };
            if *live_id != id {
                renames.insert(id, live_id.clone());
            }
            let ours: Vec<Value> = resource
                .pointer("/Properties/Tags")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let theirs = old
                .pointer("/Properties/Tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|t| !ours.iter().any(|o| o.get("Key") == t.get("Key")));
            let tags: Vec<Value> = ours.iter().cloned().chain(theirs.cloned()).collect();
            if !tags.is_empty() {
                resource["Properties"]["Tags"] = Value::Array(tags);
            }
            (live_id.clone(), resource)
        })
        .collect();
    *resources = kept;
    if !renames.is_empty() {
        rename_references(&mut template, &renames);
    }
    template
}

/// Points `Ref`, `Fn::GetAtt`, `Fn::Sub` placeholders and `DependsOn` at
/// the renamed logical ids.
fn rename_references(value: &mut Value, renames: &BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                match (key.as_str(), &mut *inner) {
                    ("Ref" | "DependsOn", Value::String(id)) => {
                        if let Some(new) = renames.get(id.as_str()) {
                            *id = new.clone();
                        }
                    }
                    ("Fn::GetAtt" | "DependsOn", Value::Array(items)) => {
                        for item in
                            items
                                .iter_mut()
                                .take(if key == "Fn::GetAtt" { 1 } else { usize::MAX })
                        {
                            if let Some(new) = item.as_str().and_then(|id| renames.get(id)) {
                                *item = Value::String(new.clone());
                            }
                        }
                    }
                    ("Fn::Sub", Value::String(text)) => {
                        for (old, new) in renames {
                            *text = text
                                .replace(&format!("${{{old}}}"), &format!("${{{new}}}"))
                                .replace(&format!("${{{old}."), &format!("${{{new}."));
                        }
                    }
                    _ => rename_references(inner, renames),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rename_references(item, renames);
            }
        }
        _ => {}
    }
}

fn policy_name_of(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn live(status: &str, template: Value) -> LiveStack {
        LiveStack {
            name: "s".into(),
            status: status.into(),
            template,
            parameters: BTreeMap::new(),
        }
    }

    /// The decision `plan` and `bootstrap` share, status by status.
    #[test]
    fn a_stack_is_created_replaced_updated_left_or_reported_by_its_status() {
        let wanted = json!({"Resources": {}});
        let need = |stack: Option<LiveStack>| {
            let calls = match stack_need("s", stack.as_ref(), &wanted, &BTreeMap::new()) {
                StackNeed::UpToDate => vec!["up to date".to_owned()],
                StackNeed::Stuck(status) => vec![format!("stuck in {status}")],
                StackNeed::Change { action, operations } => std::iter::once(format!("{action:?}"))
                    .chain(operations.iter().map(|o| o.name().to_owned()))
                    .collect(),
            };
            calls.join(" ")
        };
        assert_eq!(need(None), "Create CreateStack");
        assert_eq!(
            need(Some(live("ROLLBACK_COMPLETE", json!({})))),
            "Update DeleteStack CreateStack"
        );
        assert_eq!(
            need(Some(live("UPDATE_ROLLBACK_FAILED", json!({})))),
            "stuck in UPDATE_ROLLBACK_FAILED"
        );
        assert_eq!(
            need(Some(live("UPDATE_ROLLBACK_COMPLETE", json!({})))),
            "Update UpdateStack"
        );
        assert_eq!(
            need(Some(live("CREATE_COMPLETE", wanted.clone()))),
            "up to date"
        );
    }
}
