use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::groups::{GroupRole, classify};
use super::*;
use crate::lang::{self, Sources};
use crate::live::{LiveGroup, LiveOrganization, OWNED_PATH, OrgAccount};
use crate::plan::tests::{converge, state};
use crate::plan::{self, Action, Kind, Reason};
use crate::policy::{GROUP_POLICY_NAME, PolicyDocument};

const TIME: &str = "2025-01-02T03:04:05Z";

fn parse(text: &str) -> crate::model::desired::DesiredState {
    let mut sources = Sources::default();
    sources.push("imported.kdl", text);
    match lang::validate(sources, Vec::new()) {
        Ok(state) => state,
        Err(invalid) => panic!(
            "the imported file is invalid:\n{}\n{text}",
            invalid.render(false)
        ),
    }
}

/// Some note of the import passes `says`.
fn assert_noted(imported: &Imported, says: impl Fn(&str) -> bool) {
    assert!(
        imported.notes.iter().any(|n| says(n)),
        "{:?}",
        imported.notes
    );
}

fn run(live: &LiveState) -> Imported {
    import(&ImportInput {
        jump_account: &AccountId::new("111111111111").unwrap(),
        region: &Region::new("ap-northeast-1").unwrap(),
        live,
        imported_at: TIME,
    })
}

const ESTATE: &str = r#"
jump-account id="111111111111" region="ap-northeast-1" {
password-policy min-length=14 require-symbols=#true max-age-days=90 reuse-prevention=24
}
role "admin" policy="arn:aws:iam::aws:policy/AdministratorAccess"
role "auditor" policy="arn:aws:iam::aws:policy/SecurityAudit" session-hours=4
role "auditor-x" policy="arn:aws:iam::aws:policy/ReadOnlyAccess"
project "pay" {
account "pay-prod" id="222222222222"
account "pay-stg" id="333333333333"
}
project "x-data" {
account "data" id="444444444444"
}
project "empty"
account "shared" id="555555555555"
user "alice" {
access "admin"
access "auditor" project="x-data"
}
user "bot" console=#false {
access "auditor-x" project="pay"
}
user "carol"
"#;

#[test]
fn an_import_of_a_converged_estate_plans_nothing() {
    let desired = state(ESTATE);
    let live = converge(&desired, LiveState::default());
    let imported = run(&live);
    let back = parse(&imported.text);
    let plan = plan::build(&back, &live);
    assert!(plan.is_empty(), "{}\n{:#?}", imported.text, plan.changes);
    assert_eq!(back.roles, desired.roles);
    assert_eq!(back.users.len(), 3);
    for (name, user) in &desired.users {
        let got = &back.users[name];
        assert_eq!(got.console, user.console, "{name}");
        let mut want = user.access.clone();
        want.sort();
        let mut have = got.access.clone();
        have.sort();
        assert_eq!(have, want, "{name}");
    }
    let ids = |s: &crate::model::desired::DesiredState, p: &str| -> Vec<String> {
        let mut ids: Vec<String> = s
            .accounts
            .iter()
            .filter(|a| a.project.as_ref().map(|p| p.as_str()) == Some(p))
            .map(|a| a.id.as_ref().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&back, "pay"), ids(&desired, "pay"));
    assert_eq!(ids(&back, "x-data"), ids(&desired, "x-data"));
    assert_eq!(back.jump.password_policy, desired.jump.password_policy);
    assert!(imported.notes.is_empty(), "{:?}", imported.notes);
    assert_eq!(imported.summary.to_adopt, 0);
}

#[test]
fn the_output_is_deterministic_and_readable() {
    let live = converge(&state(ESTATE), LiveState::default());
    let first = run(&live);
    assert_eq!(first, run(&live));
    let text = &first.text;
    assert!(text.starts_with("// Imported by `jumpgate import` from jump account 111111111111 (ap-northeast-1) at 2025-01-02T03:04:05Z."), "{text}");
    assert!(text.contains("role \"admin\"     policy=\"arn:aws:iam::aws:policy/AdministratorAccess\" session-hours=1\n"), "{text}");
    assert!(text.contains("role \"auditor\"   policy=\"arn:aws:iam::aws:policy/SecurityAudit\"       session-hours=4\n"), "{text}");
    assert!(
        text.contains("    account \"account-222222222222\" id=\"222222222222\"\n"),
        "{text}"
    );
    assert!(
        text.contains("\naccount \"account-555555555555\" id=\"555555555555\"\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "user \"bot\" console=#false {\n    access \"auditor-x\" project=\"pay\"\n}\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "user \"alice\" {\n    access \"admin\"\n    access \"auditor\" project=\"x-data\"\n}\n"
        ),
        "{text}"
    );
    assert!(text.contains("\nuser \"carol\"\n"), "{text}");
    assert!(
        text.contains("password-policy min-length=14 require-symbols=#true"),
        "{text}"
    );
}

#[test]
fn objects_without_the_marker_are_imported_and_adopted() {
    let desired = state(ESTATE);
    let mut live = converge(&desired, LiveState::default());
    live.users.get_mut("alice").unwrap().tags.clear();
    live.groups.get_mut("group-auditor-x-pay").unwrap().path = "/".into();
    let imported = run(&live);
    assert_eq!(imported.summary.to_adopt, 2);
    assert!(imported.text.contains("// Not tagged managed-by=jumpgate"));
    let plan = plan::build(&parse(&imported.text), &live);
    let adoptions: Vec<(Action, Kind, String, Option<Reason>)> = plan
        .changes
        .iter()
        .map(|c| (c.action, c.kind(), c.address.to_string(), c.reason))
        .collect();
    let adopt = |kind, address: &str| {
        (
            Action::Update,
            kind,
            address.to_owned(),
            Some(Reason::Adopt),
        )
    };
    assert_eq!(
        adoptions,
        [
            adopt(Kind::Group, "group.group-auditor-x-pay"),
            adopt(Kind::User, "user.alice"),
        ]
    );
}

#[test]
fn organization_names_the_accounts_and_turns_organizations_mode_on() {
    let desired = state(ESTATE);
    let mut live = converge(&desired, LiveState::default());
    let account = |id: &str, name: &str| OrgAccount {
        id: AccountId::new(id).unwrap(),
        name: name.into(),
        email: format!("{id}@example.com"),
        status: "ACTIVE".into(),
    };
    live.organization = Some(LiveOrganization {
        management_account: AccountId::new("111111111111").unwrap(),
        accounts: vec![
            account("111111111111", "Management"),
            account("222222222222", "Payments Prod"),
            account("333333333333", "payments-prod"),
            account("444444444444", "JUMP"),
            account("555555555555", "@@@"),
        ],
    });
    let text = run(&live).text;
    parse(&text);
    assert!(text.contains("\norganization\n"), "{text}");
    assert!(text.contains("account \"Payments-Prod\""), "{text}");
    assert!(text.contains("account \"account-333333333333\""), "{text}");
    assert!(text.contains("account \"account-444444444444\""), "{text}");
    assert!(text.contains("account \"account-555555555555\""), "{text}");
}

#[test]
fn without_a_stack_set_the_default_roles_apply() {
    let live = LiveState {
        users: [(
            "dave".to_owned(),
            crate::live::LiveUser {
                name: "dave".into(),
                path: "/".into(),
                tags: [(
                    crate::live::OWNER_TAG_KEY.to_owned(),
                    crate::live::OWNER_TAG_VALUE.to_owned(),
                )]
                .into(),
                login_profile: Some(true),
                inline_policies: ["mine".to_owned()].into(),
                groups: ["group-admin".to_owned(), "ops".to_owned()].into(),
                ..Default::default()
            },
        )]
        .into(),
        groups: [
            (
                "group-admin".to_owned(),
                LiveGroup {
                    name: "group-admin".into(),
                    path: "/".into(),
                    ..Default::default()
                },
            ),
            (
                "ops".to_owned(),
                LiveGroup {
                    name: "ops".into(),
                    path: "/".into(),
                    ..Default::default()
                },
            ),
        ]
        .into(),
        ..Default::default()
    };
    let imported = run(&live);
    let back = parse(&imported.text);
    assert_eq!(back.roles, RoleDef::defaults());
    assert!(back.jump.is_target);
    assert!(
        imported
            .text
            .contains("user \"dave\" {\n    access \"admin\"\n}"),
        "{}",
        imported.text
    );
    assert!(
        imported
            .text
            .contains("// Also in ops, which jumpgate does not manage (left alone).")
    );
    assert_noted(&imported, |n| {
        n.contains("user dave has policies of its own (mine)")
    });
    assert_noted(&imported, |n| n.contains("group ops (1 members)"));
}

#[test]
fn group_names_resolve_roles_and_projects() {
    let roles = state(ESTATE).roles;
    let classify = |group: &LiveGroup, roles: &BTreeMap<RoleKey, RoleDef>| {
        let documents: Vec<&PolicyDocument> = group.inline_policies.values().collect();
        classify(group, &documents, roles)
    };
    let group = |name: &str, policy: Option<Value>| LiveGroup {
        name: name.into(),
        path: OWNED_PATH.into(),
        inline_policies: policy
            .map(|p| (GROUP_POLICY_NAME.to_owned(), p.into()))
            .into_iter()
            .collect(),
        attached_policies: BTreeSet::new(),
    };
    let policy = |arns: &[&str]| serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arns}]});
    assert_eq!(
        classify(&group("group-auditor", None), &roles),
        Some(GroupRole::Global(RoleKey::new("auditor").unwrap()))
    );
    let project = |g: GroupRole| match g {
        GroupRole::Project {
            role,
            project,
            accounts,
        } => (role.to_string(), project.to_string(), accounts.len()),
        other => panic!("{other:?}"),
    };
    // The policy tells `auditor` + `x-pay` from `auditor-x` + `pay`.
    let by_policy = classify(
        &group(
            "group-auditor-x-pay",
            Some(policy(&["arn:aws:iam::222222222222:role/role-auditor"])),
        ),
        &roles,
    )
    .unwrap();
    assert_eq!(project(by_policy), ("auditor".into(), "x-pay".into(), 1));
    let longest = classify(&group("group-auditor-x-pay", None), &roles).unwrap();
    assert_eq!(project(longest), ("auditor-x".into(), "pay".into(), 0));
    assert_eq!(classify(&group("admins", None), &roles), None);
    assert_eq!(classify(&group("group-unknown", None), &roles), None);
}

#[test]
fn users_outside_the_pattern_are_listed_not_adopted() {
    let live = LiveState {
        users: [
            (
                "ci-deploy".to_owned(),
                crate::live::LiveUser {
                    name: "ci-deploy".into(),
                    path: "/".into(),
                    login_profile: Some(false),
                    attached_policies: ["arn:aws:iam::111111111111:policy/ci-deploy".to_owned()]
                        .into(),
                    dependents: Some(crate::live::UserDependents {
                        access_keys: vec!["AKIAEXAMPLE".into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
            (
                "lonely".to_owned(),
                crate::live::LiveUser {
                    name: "lonely".into(),
                    path: "/".into(),
                    login_profile: Some(true),
                    ..Default::default()
                },
            ),
        ]
        .into(),
        ..Default::default()
    };
    let imported = run(&live);
    let back = parse(&imported.text);
    assert!(back.users.is_empty(), "{}", imported.text);
    assert!(
        imported.text.contains(
            "// Not adopted: ci-deploy has policies of its own (ci-deploy), has 1 access key, \
             is in no group of the jump-account pattern. jumpgate leaves it alone.\n\
             // To adopt it, uncomment the line below and add its `access` lines; the plan then\n\
             // tags it, and removes its policies of its own (access comes from groups only).\n\
             // user \"ci-deploy\" console=#false\n"
        ),
        "{}",
        imported.text
    );
    assert!(
        imported.text.contains("// user \"lonely\"\n"),
        "{}",
        imported.text
    );
    assert_eq!(imported.summary.unmanaged, 2);
    assert_eq!(imported.summary.users, 0);
    assert_noted(&imported, |n| {
        n.starts_with("user lonely is left unmanaged: it is in no group")
    });
    // Uncommented, the block parses.
    let adopted = parse(
        &imported
            .text
            .replace("// user \"lonely\"", "user \"lonely\""),
    );
    assert_eq!(adopted.users.len(), 1);
}

#[test]
fn updates_of_hand_built_templates_keep_logical_ids_references_and_tags() {
    let desired = state(ESTATE);
    let mut live = converge(&desired, LiveState::default());
    // Hand-built: other logical ids, a tag of their own, a Ref to the role.
    let set = live.stack_set.as_mut().unwrap();
    let resources = set.template["Resources"].as_object_mut().unwrap();
    let admin = resources.shift_remove("RoleAdmin").unwrap();
    let mut admin = admin;
    admin["Properties"]["Tags"] = serde_json::json!([{"Key": "ManagedResource", "Value": "true"}]);
    resources.insert("AdminRole".into(), admin);
    let stack = live
        .stacks
        .get_mut(crate::templates::EXECUTION_ROLE_STACK)
        .unwrap();
    let resources = stack.template["Resources"].as_object_mut().unwrap();
    let role = resources.shift_remove("ExecutionRole").unwrap();
    resources.insert("StackSetExecutionRole".into(), role);
    let plan = plan::build(&desired, &live);
    let template_of = |address: &str| -> Value {
        let change = plan.changes.iter().find(|c| c.address == address).unwrap();
        change.after.as_ref().unwrap()["template"].clone()
    };
    let set = template_of("stack-set.iam-roles");
    let admin = &set["Resources"]["AdminRole"];
    assert_eq!(admin["Properties"]["RoleName"], "role-admin");
    assert_eq!(
        admin["Properties"]["Tags"],
        serde_json::json!([
            {"Key": "managed-by", "Value": "jumpgate"},
            {"Key": "ManagedResource", "Value": "true"}
        ])
    );
    assert!(set["Resources"].get("RoleAdmin").is_none());
    let stack = template_of("stack.stackset-execution-role");
    assert!(stack["Resources"].get("StackSetExecutionRole").is_some());
    assert_eq!(
        stack["Resources"]["ManageSwitchRoles"]["Properties"]["Roles"],
        serde_json::json!([{"Ref": "StackSetExecutionRole"}])
    );
    // Applied, the next plan is empty: the kept ids are stable.
    let live = converge(&desired, live);
    assert!(plan::build(&desired, &live).is_empty());
}

#[test]
fn a_hand_made_mfa_policy_is_adopted_where_it_is() {
    let desired = state(ESTATE);
    let mut live = converge(&desired, LiveState::default());
    // Built by hand: the MFA policy at `/`, attached to every group.
    let mut policy = live
        .policies
        .remove(crate::policy::MFA_POLICY_NAME)
        .unwrap();
    let old_arn = policy.arn.clone();
    policy.path = "/".into();
    policy.arn = "arn:aws:iam::111111111111:policy/policy-enforce-mfa".into();
    let new_arn = policy.arn.clone();
    live.policies.insert(policy.name.clone(), policy);
    for group in live.groups.values_mut() {
        if group.attached_policies.remove(&old_arn) {
            group.attached_policies.insert(new_arn.clone());
        }
    }
    let plan = plan::build(&desired, &live);
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
    // A group that lacks it gets the adopted one, not a second policy.
    live.groups
        .get_mut("group-admin")
        .unwrap()
        .attached_policies
        .clear();
    let plan = plan::build(&desired, &live);
    let calls: Vec<String> = plan
        .changes
        .iter()
        .flat_map(|c| &c.operations)
        .map(|op| serde_json::to_string(op).unwrap())
        .collect();
    assert_eq!(
        calls,
        [format!(
            r#"{{"call":"AttachGroupPolicy","group":"group-admin","policy_arn":"{new_arn}"}}"#
        )]
    );
    assert_eq!(
        plan.access_changes.mfa_enforcement,
        [crate::access::MfaChange {
            change: crate::access::Direction::Gain,
            group: "group-admin".into()
        }]
    );
}

#[test]
fn a_stackset_role_made_without_its_stack_is_used_as_it_is() {
    let desired = state(ESTATE);
    let mut live = converge(&desired, LiveState::default());
    live.stacks.clear();
    live.foreign_stack_set_roles
        .insert(crate::templates::ADMINISTRATION_ROLE_NAME.into());
    let plan = plan::build(&desired, &live);
    let addresses: Vec<String> = plan.changes.iter().map(|c| c.address.to_string()).collect();
    // Only the execution-role stack, whose role does not exist, is created.
    assert_eq!(addresses, ["stack.stackset-execution-role"]);
    assert!(
        plan.warnings.iter().any(|w| w.starts_with(
            "role AWSCloudFormationStackSetAdministrationRole already exists in the jump account, made outside jumpgate"
        )),
        "{:?}",
        plan.warnings
    );
}
