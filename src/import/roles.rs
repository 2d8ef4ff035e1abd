//! Roles, from the template of StackSet `iam-roles`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::live::LiveState;
use crate::model::desired::RoleDef;
use crate::model::names::{PolicyArn, RoleKey};
use crate::policy::one_or_many;

const SECONDS_PER_HOUR: u64 = 3600;

/// The roles of the StackSet template, or the defaults (and `false`) when
/// there is no StackSet or its template declares none.
pub(super) fn from_stack_set(
    live: &LiveState,
    notes: &mut Vec<String>,
) -> (BTreeMap<RoleKey, RoleDef>, bool) {
    let Some(set) = live.live_stack_set() else {
        return (RoleDef::defaults(), false);
    };
    let mut roles = BTreeMap::new();
    let resources = set.template["Resources"].as_object();
    for (logical_id, resource) in resources.into_iter().flatten() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        let props = &resource["Properties"];
        let Some(key) = props["RoleName"]
            .as_str()
            .and_then(|n| n.strip_prefix("role-"))
            .and_then(|k| RoleKey::new(k).ok())
        else {
            notes.push(format!(
                "StackSet resource {logical_id} is not a role named role-<name>; not imported (the plan removes it from the template)"
            ));
            continue;
        };
        let arns: Vec<&str> = one_or_many(props.get("ManagedPolicyArns"))
            .into_iter()
            .filter_map(Value::as_str)
            .collect();
        let Some(policy) = arns.first().and_then(|a| PolicyArn::new(a).ok()) else {
            notes.push(format!(
                "role role-{key} in the StackSet has no managed policy ARN jumpgate can read; not imported"
            ));
            continue;
        };
        if arns.len() > 1 {
            notes.push(format!(
                "role role-{key} has {} managed policies; a role has one in the file, so it is imported with {policy} and the plan changes the template",
                arns.len()
            ));
        }
        let seconds = props["MaxSessionDuration"]
            .as_u64()
            .unwrap_or(SECONDS_PER_HOUR);
        let hours = (seconds / SECONDS_PER_HOUR).clamp(1, 12);
        if seconds != hours * SECONDS_PER_HOUR {
            notes.push(format!(
                "role role-{key} allows sessions of {seconds} seconds; the file counts whole hours from 1 to 12, so it is imported with {hours} and the plan changes the template"
            ));
        }
        roles.insert(
            key.clone(),
            RoleDef {
                key,
                policy,
                session_hours: hours as u8,
            },
        );
    }
    if roles.is_empty() {
        notes.push(
            "the template of StackSet iam-roles declares no role jumpgate can read; the default roles are imported".into(),
        );
        return (RoleDef::defaults(), false);
    }
    (roles, true)
}
