//! Access that expires: `until=` on a user or on one `access` grant names
//! the last day it is valid. `resolve` takes today's date (the caller's
//! clock, so tests choose it) and leaves out what is past its day, which the
//! plan then removes; it also lists what ends within `SOON_DAYS`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use super::derive::group_name;
use super::desired::{Access, DesiredState};

/// How far ahead `plan` and `drift` warn of ends.
pub const SOON_DAYS: i64 = 7;

/// The `until` dates of one user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Until {
    /// The user's own last day: after it, the user is offboarded.
    pub user: Option<Date>,
    /// The last day of some of the user's grants.
    pub grants: BTreeMap<Access, Date>,
}

/// One user's or one grant's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub user: String,
    /// The grant's role and project; `None` when the whole user ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The last valid day, `YYYY-MM-DD`.
    pub until: String,
    /// Days from today to `until` (negative once past).
    pub days_left: i64,
    /// The group the grant is a membership of.
    #[serde(skip)]
    pub group: Option<String>,
}

impl End {
    fn new(user: &str, access: Option<&Access>, until: Date, today: Date) -> End {
        End {
            user: user.to_owned(),
            role: access.map(|a| a.role.to_string()),
            project: access.and_then(|a| a.project.as_ref().map(|p| p.to_string())),
            until: show(until),
            days_left: (until - today).whole_days(),
            group: access.map(|a| group_name(a).to_string()),
        }
    }

    /// What ends, for people: `user X` or `X's admin access (project P)`.
    pub fn what(&self) -> String {
        match (&self.role, &self.project) {
            (None, _) => format!("user {}", self.user),
            (Some(role), None) => format!("{}'s {role} access", self.user),
            (Some(role), Some(project)) => {
                format!("{}'s {role} access in project {project}", self.user)
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expiry {
    /// Past their day and left out of the state.
    pub expired: Vec<End>,
    /// Still valid, ending within `SOON_DAYS`.
    pub soon: Vec<End>,
}

/// The state as of `today`: users and grants past their `until` day are
/// left out (a grant that ends on a day is valid through that day).
pub fn resolve(mut desired: DesiredState, today: Date) -> DesiredState {
    let mut expiry = Expiry::default();
    let soon = |until: Date| (until - today).whole_days() <= SOON_DAYS;
    desired.users.retain(|name, user| {
        if let Some(until) = user.until.user {
            if until < today {
                expiry
                    .expired
                    .push(End::new(name.as_str(), None, until, today));
                return false;
            }
            if soon(until) {
                expiry
                    .soon
                    .push(End::new(name.as_str(), None, until, today));
            }
        }
        let ends = user.until.grants.clone();
        user.access.retain(|access| match ends.get(access) {
            Some(&until) if until < today => {
                expiry
                    .expired
                    .push(End::new(name.as_str(), Some(access), until, today));
                false
            }
            Some(&until) => {
                if soon(until) {
                    expiry
                        .soon
                        .push(End::new(name.as_str(), Some(access), until, today));
                }
                true
            }
            None => true,
        });
        user.until
            .grants
            .retain(|access, _| user.access.contains(access));
        true
    });
    desired.expiry = expiry;
    desired
}

/// `YYYY-MM-DD`.
pub fn show(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// An ISO 8601 calendar date, `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let invalid = |why: &str| format!("`{text}` is not an ISO 8601 date (YYYY-MM-DD): {why}");
    let parts: Vec<&str> = text.split('-').collect();
    let digits = |part: &str, len: usize| {
        (part.len() == len && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u16>().ok())
            .flatten()
    };
    let [year, month, day] = parts[..] else {
        return Err(invalid("expected year-month-day"));
    };
    let (Some(year), Some(month), Some(day)) = (digits(year, 4), digits(month, 2), digits(day, 2))
    else {
        return Err(invalid("expected four, two and two digits"));
    };
    let month = time::Month::try_from(month as u8).map_err(|_| invalid("no such month"))?;
    Date::from_calendar_date(i32::from(year), month, day as u8)
        .map_err(|_| invalid("no such day in that month"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_iso_8601_calendar_dates() {
        assert_eq!(show(parse_date("2027-01-31").unwrap()), "2027-01-31");
        for bad in [
            "2027-02-30",
            "2027-13-01",
            "27-01-31",
            "2027/01/31",
            "2027-1-31",
            "tomorrow",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
