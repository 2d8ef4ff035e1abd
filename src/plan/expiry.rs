//! What `until` dates do to a plan: the changes that remove expired users
//! and grants say so, and what ends within a week is listed.

use super::{Change, Operation, Plan, Reason, user_of};
use crate::model::desired::DesiredState;
use crate::model::expiry::{End, SOON_DAYS};

pub(super) fn label(mut plan: Plan, desired: &DesiredState) -> Plan {
    for change in &mut plan.changes {
        if desired.expiry.expired.iter().any(|end| removes(change, end)) {
            change.reason = Some(Reason::Expired);
        }
    }
    for end in &desired.expiry.soon {
        plan.warnings.push(ending_soon(end));
    }
    plan.expiring = desired.expiry.soon.clone();
    plan
}

/// Whether `change` is the removal that `end` calls for: anything about an
/// expired user; the group membership of an expired grant.
fn removes(change: &Change, end: &End) -> bool {
    if user_of(change) != Some(end.user.as_str()) {
        return false;
    }
    match &end.group {
        None => true,
        Some(wanted) => change.operations.iter().any(
            |op| matches!(op, Operation::RemoveUserFromGroup { group, .. } if group == wanted),
        ),
    }
}

/// The warning for something that ends within `SOON_DAYS`.
pub fn ending_soon(end: &End) -> String {
    let when = match end.days_left {
        0 => "today".to_owned(),
        1 => "tomorrow".to_owned(),
        n => format!("in {n} days"),
    };
    format!(
        "{} ends {when} (until {}); within {SOON_DAYS} days, the first plan after that day removes it",
        end.what(),
        end.until
    )
}
