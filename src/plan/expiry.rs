//! What `until` dates do to a plan: the changes that remove expired users
//! and grants say so, and what ends within a week is listed.

use super::{Change, Operation, Plan, Reason, user_of};
use crate::model::desired::DesiredState;
use crate::model::expiry::{End, SOON_DAYS};

pub(super) fn label(mut plan: Plan, desired: &DesiredState) -> Plan {
    for change in &mut plan.changes {
        if desired
            .expiry
            .expired
            .iter()
            .any(|end| removes(change, end))
        {
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

#[cfg(test)]
mod tests {
    use crate::live::LiveState;
    use crate::model::expiry::{parse_date, resolve};
    use crate::plan::tests::{converge, state};
    use crate::plan::{Action, Reason, build};

    const FILE: &str = r#"
jump-account id="111111111111" region="ap-northeast-1"
user "alice" {
    access "admin"
}
user "kato" until="2027-03-31" {
    access "operator"
    access "developer" until="2027-01-31"
}
"#;

    /// The plan on `day` after everything was applied on 2027-01-01.
    fn plan_on(day: &str) -> crate::plan::Plan {
        let on = |day: &str| resolve(state(FILE), parse_date(day).unwrap());
        let live = converge(&on("2027-01-01"), LiveState::default());
        build(&on(day), &live)
    }

    #[test]
    fn an_end_is_announced_a_week_ahead_and_valid_through_its_day() {
        assert!(plan_on("2027-01-23").warnings.is_empty());
        let plan = plan_on("2027-01-24");
        assert!(plan.is_empty());
        assert_eq!(plan.expiring.len(), 1);
        assert_eq!(plan.expiring[0].days_left, 7);
        assert!(plan_on("2027-01-31").is_empty());
    }

    #[test]
    fn past_its_day_a_grant_is_removed_and_the_change_says_why() {
        let plan = plan_on("2027-02-01");
        let removals: Vec<(String, Option<Reason>)> = plan
            .changes
            .iter()
            .map(|c| (c.address.to_string(), c.reason))
            .collect();
        assert_eq!(
            removals,
            [(
                "membership.kato/group-developer".to_owned(),
                Some(Reason::Expired)
            )]
        );
        assert!(
            plan_on("2027-04-01")
                .changes
                .iter()
                .all(|c| { c.reason == Some(Reason::Expired) && c.action == Action::Delete })
        );
    }
}
