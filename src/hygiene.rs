//! Credential hygiene (pure): what IAM's credential report says about the
//! passwords, MFA devices and access keys of the users the file declares.
//! `drift` reports it; nothing here changes anything.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::credential_report::{CredentialReport, ReportRow};
use crate::model::desired::DesiredState;

/// When a credential is old or idle enough to report, in days. Set by the
/// `hygiene` node of `jump-account` and on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thresholds {
    /// A console user who has not signed in this long after their password
    /// was issued.
    pub never_signed_in_days: u32,
    /// An active access key older than this.
    pub key_max_age_days: u32,
    /// An active access key not used for this long (or never, this long
    /// after it was made).
    pub key_unused_days: u32,
    /// A console password not used for this long.
    pub password_unused_days: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            never_signed_in_days: 14,
            key_max_age_days: 90,
            key_unused_days: 90,
            password_unused_days: 90,
        }
    }
}

impl Thresholds {
    /// The property names of the `hygiene` node and the command line,
    /// with the field each sets.
    pub const SETTINGS: [&'static str; 4] = [
        "never-signed-in-days",
        "key-max-age-days",
        "key-unused-days",
        "password-unused-days",
    ];
    /// The largest threshold accepted: ten years.
    pub const MAX_DAYS: u32 = 3650;

    pub fn set(&mut self, setting: &str, days: u32) {
        match setting {
            "never-signed-in-days" => self.never_signed_in_days = days,
            "key-max-age-days" => self.key_max_age_days = days,
            "key-unused-days" => self.key_unused_days = days,
            "password-unused-days" => self.password_unused_days = days,
            other => unreachable!("unknown hygiene setting {other}"),
        }
    }
}

/// One thing to look at about one user's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
pub enum Finding {
    /// A console password issued `days` ago and never used: the user has
    /// not signed in, so the initial password is still the one issued.
    NeverSignedIn { days: i64 },
    /// No active MFA device: every role requires MFA, so the user can
    /// switch into none.
    NoMfa,
    /// An active access key made or last rotated `days` ago.
    OldAccessKey { key: u8, days: i64 },
    /// An active access key not used for `days` (or never, `days` after
    /// it was made).
    UnusedAccessKey {
        key: u8,
        days: i64,
        never_used: bool,
    },
    /// An active access key on a user the file declares console-only
    /// (`access-keys=#false`).
    KeyOnConsoleOnlyUser { key: u8 },
    /// A console password last used `days` ago.
    PasswordUnused { days: i64 },
}

impl Finding {
    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Finding::NeverSignedIn { days } => format!(
                "never signed in, {days} days after their password was issued (the initial password is unchanged)"
            ),
            Finding::NoMfa => {
                "no active MFA device: every role requires MFA, so they can switch into none"
                    .to_owned()
            }
            Finding::OldAccessKey { key, days } => {
                format!("access key {key} is active and {days} days old")
            }
            Finding::UnusedAccessKey {
                key,
                days,
                never_used: true,
            } => format!("access key {key} is active and was never used in {days} days"),
            Finding::UnusedAccessKey { key, days, .. } => {
                format!("access key {key} is active and unused for {days} days")
            }
            Finding::KeyOnConsoleOnlyUser { key } => {
                format!("access key {key} is active, but the file declares the user console-only")
            }
            Finding::PasswordUnused { days } => {
                format!("console password unused for {days} days")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFindings {
    pub user: String,
    pub findings: Vec<Finding>,
}

/// The findings of one credential report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hygiene {
    /// When IAM generated the report (RFC 3339): ages are counted to then.
    pub report_generated: String,
    pub thresholds: Thresholds,
    /// Declared users with findings, by name.
    pub users: Vec<UserFindings>,
    /// Declared users that exist but have no row in the report yet (made
    /// after it was generated): not checked.
    pub not_in_report: Vec<String>,
}

impl Hygiene {
    pub fn is_clean(&self) -> bool {
        self.users.is_empty()
    }
}

/// Judges the report's rows of the users `desired` declares; `exists` says
/// whether a user is live (a declared user not yet created is no finding).
pub fn check(
    desired: &DesiredState,
    report: &CredentialReport,
    thresholds: Thresholds,
    exists: impl Fn(&str) -> bool,
) -> Hygiene {
    let mut users = Vec::new();
    let mut not_in_report = Vec::new();
    for user in desired.users.values() {
        let name = user.name.as_str();
        match report.rows.get(name) {
            Some(row) => {
                let findings = judge(row, report.generated, &thresholds, user.access_keys);
                if !findings.is_empty() {
                    users.push(UserFindings {
                        user: name.to_owned(),
                        findings,
                    });
                }
            }
            None if exists(name) => not_in_report.push(name.to_owned()),
            None => {}
        }
    }
    Hygiene {
        report_generated: report
            .generated
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        thresholds,
        users,
        not_in_report,
    }
}

fn judge(
    row: &ReportRow,
    now: OffsetDateTime,
    thresholds: &Thresholds,
    keys_allowed: bool,
) -> Vec<Finding> {
    let days = |since: OffsetDateTime| (now - since).whole_days();
    let over = |since: OffsetDateTime, limit: u32| days(since) >= i64::from(limit);
    let mut findings = Vec::new();
    if row.password_enabled {
        match (row.password_last_used, row.password_last_changed) {
            (None, Some(issued)) if over(issued, thresholds.never_signed_in_days) => {
                findings.push(Finding::NeverSignedIn { days: days(issued) });
            }
            (Some(used), _) if over(used, thresholds.password_unused_days) => {
                findings.push(Finding::PasswordUnused { days: days(used) });
            }
            _ => {}
        }
    }
    if !row.mfa_active {
        findings.push(Finding::NoMfa);
    }
    for key in row.access_keys.iter().filter(|k| k.active) {
        if !keys_allowed {
            findings.push(Finding::KeyOnConsoleOnlyUser { key: key.slot });
        }
        if let Some(rotated) = key.last_rotated
            && over(rotated, thresholds.key_max_age_days)
        {
            findings.push(Finding::OldAccessKey {
                key: key.slot,
                days: days(rotated),
            });
        }
        match (key.last_used, key.last_rotated) {
            (Some(used), _) if over(used, thresholds.key_unused_days) => {
                findings.push(Finding::UnusedAccessKey {
                    key: key.slot,
                    days: days(used),
                    never_used: false,
                });
            }
            (None, Some(made)) if over(made, thresholds.key_unused_days) => {
                findings.push(Finding::UnusedAccessKey {
                    key: key.slot,
                    days: days(made),
                    never_used: true,
                });
            }
            _ => {}
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential_report::KeyRow;
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn days_ago(days: i64) -> Option<OffsetDateTime> {
        Some(now() - Duration::days(days))
    }

    fn row() -> ReportRow {
        ReportRow {
            user: "alice".into(),
            created: days_ago(400),
            password_enabled: true,
            password_last_used: days_ago(1),
            password_last_changed: days_ago(300),
            mfa_active: true,
            access_keys: vec![],
        }
    }

    fn key(rotated: i64, used: Option<i64>) -> KeyRow {
        KeyRow {
            slot: 1,
            active: true,
            last_rotated: days_ago(rotated),
            last_used: used.and_then(days_ago),
        }
    }

    #[test]
    fn each_case_is_found_at_its_threshold_and_not_a_day_before() {
        let t = Thresholds::default();
        let cases: Vec<(&str, ReportRow, bool, Vec<Finding>)> = vec![
            ("healthy", row(), true, vec![]),
            (
                "never signed in, 14 days",
                ReportRow {
                    password_last_used: None,
                    password_last_changed: days_ago(14),
                    ..row()
                },
                true,
                vec![Finding::NeverSignedIn { days: 14 }],
            ),
            (
                "never signed in, 13 days",
                ReportRow {
                    password_last_used: None,
                    password_last_changed: days_ago(13),
                    ..row()
                },
                true,
                vec![],
            ),
            (
                "password unused",
                ReportRow {
                    password_last_used: days_ago(90),
                    ..row()
                },
                true,
                vec![Finding::PasswordUnused { days: 90 }],
            ),
            (
                "no console: no password findings",
                ReportRow {
                    password_enabled: false,
                    password_last_used: None,
                    ..row()
                },
                true,
                vec![],
            ),
            (
                "no MFA",
                ReportRow {
                    mfa_active: false,
                    ..row()
                },
                true,
                vec![Finding::NoMfa],
            ),
            (
                "old key in use",
                ReportRow {
                    access_keys: vec![key(90, Some(1))],
                    ..row()
                },
                true,
                vec![Finding::OldAccessKey { key: 1, days: 90 }],
            ),
            (
                "young key never used",
                ReportRow {
                    access_keys: vec![key(89, None)],
                    ..row()
                },
                true,
                vec![],
            ),
            (
                "old key never used",
                ReportRow {
                    access_keys: vec![key(100, None)],
                    ..row()
                },
                true,
                vec![
                    Finding::OldAccessKey { key: 1, days: 100 },
                    Finding::UnusedAccessKey {
                        key: 1,
                        days: 100,
                        never_used: true,
                    },
                ],
            ),
            (
                "key idle",
                ReportRow {
                    access_keys: vec![key(10, Some(95))],
                    ..row()
                },
                true,
                vec![Finding::UnusedAccessKey {
                    key: 1,
                    days: 95,
                    never_used: false,
                }],
            ),
            (
                "key on a console-only user",
                ReportRow {
                    access_keys: vec![key(1, Some(1))],
                    ..row()
                },
                false,
                vec![Finding::KeyOnConsoleOnlyUser { key: 1 }],
            ),
            (
                "inactive keys are not judged",
                ReportRow {
                    access_keys: vec![KeyRow {
                        active: false,
                        ..key(500, None)
                    }],
                    ..row()
                },
                false,
                vec![],
            ),
        ];
        for (name, row, keys_allowed, expected) in cases {
            assert_eq!(judge(&row, now(), &t, keys_allowed), expected, "{name}");
        }
    }

    #[test]
    fn thresholds_move_the_line() {
        let mut t = Thresholds::default();
        t.set("never-signed-in-days", 3);
        let row = ReportRow {
            password_last_used: None,
            password_last_changed: days_ago(3),
            ..row()
        };
        assert_eq!(
            judge(&row, now(), &t, true),
            vec![Finding::NeverSignedIn { days: 3 }]
        );
    }
}
