//! Client configuration for the people who switch roles, generated from the
//! desired state: `~/.aws/config` profiles, the AWS Extend Switch Roles
//! configuration, and console switch-role links. Pure: the functions take
//! the desired state (or an existing config's text) and return strings;
//! reading and writing files is left to the caller.
//!
//! A profile is one (account, role) a user reaches, named `<account>-<role>`.
//! `aws-config` is personal (its `mfa_serial` names one person's MFA device),
//! so it needs a user; the other formats without a user cover every
//! (account, role) that anyone in the file can reach.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::access;
use crate::model::desired::DesiredState;
use crate::model::names::{Partition, mfa_device_arn};

/// The first line of the block `--write` owns in a config file.
pub const BEGIN_MARKER: &str = "# >>> jumpgate";
/// The last line of that block.
pub const END_MARKER: &str = "# <<< jumpgate";
/// The console's switch-role page.
pub const SWITCH_ROLE_URL: &str = "https://signin.aws.amazon.com/switchrole";
/// The console cuts the display name at 64 characters.
pub const DISPLAY_NAME_MAX: usize = 64;

/// `profiles --format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A `~/.aws/config` fragment (needs --user).
    #[default]
    AwsConfig,
    /// The AWS Extend Switch Roles browser extension's configuration.
    SwitchRoles,
    /// Console switch-role URLs, one per line after the profile name.
    Links,
}

/// One (account, role) to switch into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// `<account>-<role>`.
    pub name: String,
    pub account: String,
    pub account_id: String,
    pub role: String,
    pub role_name: String,
    pub role_arn: String,
    /// Six hex digits, from the account's `color`.
    pub color: Option<String>,
    pub duration_seconds: u32,
    /// The groups that grant it, for the comment above the profile.
    pub groups: Vec<String>,
    /// The last day (`YYYY-MM-DD`) any of those grants lasts; `None` when
    /// one of them has no end.
    pub until: Option<String>,
}

/// Everything one rendering needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSet {
    /// The person the profiles are for; `None` for everyone's union.
    pub user: Option<String>,
    /// The source profile: named after the jump account.
    pub source_profile: String,
    pub jump_id: String,
    pub region: String,
    /// In account order (jump account first, then as declared), then role order.
    pub profiles: Vec<Profile>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfilesError {
    #[error("no user `{name}` in the desired state{}", hint(.suggestion))]
    UnknownUser {
        name: String,
        suggestion: Option<String>,
    },
    #[error(
        "the aws-config format needs --user NAME: each profile's mfa_serial is one person's MFA device"
    )]
    UserRequired,
    #[error(
        "two profiles would both be named `{0}`; rename an account so that `<account>-<role>` names differ"
    )]
    NameClash(String),
}

fn hint(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// The profiles of one user, or of everyone when `user` is `None`.
pub fn profiles(state: &DesiredState, user: Option<&str>) -> Result<ProfileSet, ProfilesError> {
    if let Some(name) = user
        && !state.users.keys().any(|u| u.as_str() == name)
    {
        let suggestion = state
            .users
            .keys()
            .map(|u| u.as_str())
            .filter(|u| strsim::jaro_winkler(u, name) > 0.8)
            .max_by(|a, b| strsim::jaro_winkler(a, name).total_cmp(&strsim::jaro_winkler(b, name)))
            .map(str::to_owned);
        return Err(ProfilesError::UnknownUser {
            name: name.to_owned(),
            suggestion,
        });
    }
    let report = access::from_desired(state);
    let mut result: Vec<Profile> = Vec::new();
    for grant in report.grants().filter(|g| user.is_none_or(|u| g.user == u)) {
        if let Some(existing) = result.iter_mut().find(|p| p.role_arn == grant.role_arn) {
            if !existing.groups.contains(&grant.group) {
                existing.groups.push(grant.group.clone());
            }
            // Reachable as long as one of the grants lasts.
            existing.until = existing
                .until
                .clone()
                .zip(grant.until.clone())
                .map(|(a, b)| a.max(b));
            continue;
        }
        let role = state
            .roles
            .iter()
            .find(|(key, _)| key.as_str() == grant.role)
            .map(|(_, def)| def);
        let color = state
            .accounts
            .iter()
            .find(|a| {
                a.id.as_ref()
                    .is_some_and(|id| id.as_str() == grant.account_id)
            })
            .and_then(|a| a.color.as_ref())
            .map(|c| c.to_string());
        result.push(Profile {
            name: format!("{}-{}", grant.account, grant.role),
            account: grant.account.clone(),
            account_id: grant.account_id.clone(),
            role: grant.role.clone(),
            role_name: grant
                .role_arn
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            role_arn: grant.role_arn.clone(),
            color,
            duration_seconds: role.map_or(3600, |r| u32::from(r.session_hours) * 3600),
            groups: vec![grant.group.clone()],
            until: grant.until.clone(),
        });
    }
    // Grants come sorted by user first; order the union by account, then role.
    let account_rank = |id: &str| report.accounts.iter().position(|a| a.id == id);
    let role_rank = |role: &str| report.roles.iter().position(|r| r == role);
    result.sort_by_key(|p| (account_rank(&p.account_id), role_rank(&p.role)));
    for profile in &mut result {
        profile.groups.sort();
    }
    let source_profile = state.jump.name.to_string();
    let mut names = BTreeSet::from([source_profile.clone()]);
    for profile in &result {
        if !names.insert(profile.name.clone()) {
            return Err(ProfilesError::NameClash(profile.name.clone()));
        }
    }
    Ok(ProfileSet {
        user: user.map(str::to_owned),
        source_profile,
        jump_id: state.jump.id.to_string(),
        region: state.jump.region.to_string(),
        profiles: result,
    })
}

/// The `~/.aws/config` fragment, between the markers `--write` looks for.
/// `with_source_profile: false` leaves out the source profile's section (for
/// a config that already has one of its own).
pub fn render_aws_config(
    set: &ProfileSet,
    with_source_profile: bool,
) -> Result<String, ProfilesError> {
    let user = set.user.as_deref().ok_or(ProfilesError::UserRequired)?;
    let mfa_serial = mfa_device_arn(Partition::of(&set.region), &set.jump_id, user);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{BEGIN_MARKER} profiles for {user}, generated by `jumpgate profiles`; \
         `jumpgate profiles --write` replaces this block, so edits inside it are lost"
    );
    if with_source_profile {
        let _ = writeln!(
            out,
            "# Your own user in the jump account ({}): its access key goes in ~/.aws/credentials.",
            set.jump_id
        );
        let _ = writeln!(out, "[profile {}]", set.source_profile);
        let _ = writeln!(out, "region = {}", set.region);
        out.push('\n');
    }
    for profile in &set.profiles {
        let until = profile
            .until
            .as_ref()
            .map(|day| format!(", until {day}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "# {} ({}) as {}, through {}{until}",
            profile.account,
            profile.account_id,
            profile.role_name,
            profile.groups.join(", ")
        );
        let _ = writeln!(out, "[profile {}]", profile.name);
        let _ = writeln!(out, "role_arn = {}", profile.role_arn);
        let _ = writeln!(out, "source_profile = {}", set.source_profile);
        let _ = writeln!(out, "mfa_serial = {mfa_serial}");
        let _ = writeln!(out, "role_session_name = {user}");
        let _ = writeln!(out, "duration_seconds = {}", profile.duration_seconds);
        let _ = writeln!(out, "region = {}", set.region);
        out.push('\n');
    }
    if set.profiles.is_empty() {
        let _ = writeln!(out, "# {user} cannot switch into any role yet.");
    }
    let _ = writeln!(out, "{END_MARKER}");
    Ok(out)
}

/// The AWS Extend Switch Roles configuration: one target role per profile,
/// as `aws_account_id` + `role_name`, with the account's colour. No base
/// account is declared: the extension wants the jump account's alias there
/// when it has one, which the file does not know.
pub fn render_switch_roles(set: &ProfileSet) -> String {
    let mut out = String::new();
    let whose = set.user.as_deref().map_or_else(
        || "every role anyone in the file can reach".to_owned(),
        |u| format!("the roles {u} can reach"),
    );
    let _ = writeln!(
        out,
        "; AWS Extend Switch Roles configuration: {whose}. Generated by `jumpgate profiles`."
    );
    let _ = writeln!(
        out,
        "; Sign in to the jump account ({}) first, then pick a role from the extension.",
        set.jump_id
    );
    for profile in &set.profiles {
        out.push('\n');
        if let Some(day) = &profile.until {
            let _ = writeln!(out, "; until {day}");
        }
        let _ = writeln!(out, "[profile {}]", profile.name);
        let _ = writeln!(out, "aws_account_id = {}", profile.account_id);
        let _ = writeln!(out, "role_name = {}", profile.role_name);
        if let Some(color) = &profile.color {
            let _ = writeln!(out, "color = {color}");
        }
    }
    out
}

/// What the console's query string must escape: everything but unreserved characters.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The console link that opens the switch-role page filled in for a profile.
pub fn switch_role_link(profile: &Profile) -> String {
    let display: String = profile.name.chars().take(DISPLAY_NAME_MAX).collect();
    let encode = |value: &str| utf8_percent_encode(value, QUERY_VALUE).to_string();
    let mut url = format!(
        "{SWITCH_ROLE_URL}?roleName={}&account={}&displayName={}",
        encode(&profile.role_name),
        encode(&profile.account_id),
        encode(&display)
    );
    if let Some(color) = &profile.color {
        let _ = write!(url, "&color={}", encode(color));
    }
    url
}

/// One line per profile: its name, then its link.
pub fn render_links(set: &ProfileSet) -> String {
    let width = set.profiles.iter().map(|p| p.name.len()).max().unwrap_or(0);
    set.profiles
        .iter()
        .map(|p| format!("{:<width$}  {}\n", p.name, switch_role_link(p)))
        .collect()
}

/// Renders the chosen format.
pub fn render(set: &ProfileSet, format: Format) -> Result<String, ProfilesError> {
    match format {
        Format::AwsConfig => render_aws_config(set, true),
        Format::SwitchRoles => Ok(render_switch_roles(set)),
        Format::Links => Ok(render_links(set)),
    }
}

// ---------------------------------------------------------------------------
// Merging the fragment into an existing config.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error(
        "line {0} starts a jumpgate block (`{BEGIN_MARKER}`) that never ends (`{END_MARKER}`); \
         fix the file by hand, nothing was written"
    )]
    Unterminated(usize),
    #[error(
        "line {0} ends a jumpgate block (`{END_MARKER}`) that never started; fix the file by hand, nothing was written"
    )]
    Unopened(usize),
    #[error(
        "the file has more than one jumpgate block (lines {0} and {1}); keep one, nothing was written"
    )]
    SeveralBlocks(usize, usize),
    #[error(
        "the file already defines {} outside jumpgate's block; remove or rename {}, nothing was written",
        .0.iter().map(|(line, name)| format!("[{name}] (line {line})")).collect::<Vec<_>>().join(", "),
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Clash(Vec<(usize, String)>),
    #[error(transparent)]
    Profiles(#[from] ProfilesError),
}

/// The outcome of a merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub text: String,
    /// Whether an earlier block was replaced (rather than one appended).
    pub replaced: bool,
    /// Whether the config's own source profile section was kept (and the
    /// block left without one).
    pub kept_source_profile: bool,
}

/// A section header's name as botocore reads it: `[profile  a]` is `profile a`.
fn section_name(line: &str) -> Option<String> {
    let inner = line.trim().strip_prefix('[')?.strip_suffix(']')?;
    Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Puts the fragment for `set` into `existing`: the text between the markers
/// is replaced, or the block appended; every other byte stays as it was. A
/// source profile the config already defines outside the block is kept (its
/// credentials setup is the user's own) and left out of the block; any other
/// profile defined twice is refused, since AWS's config parsers reject
/// duplicate sections.
pub fn merge(existing: &str, set: &ProfileSet) -> Result<Merged, MergeError> {
    let lines: Vec<&str> = existing.split_inclusive('\n').collect();
    let mut begin: Option<usize> = None;
    let mut block: Option<(usize, usize)> = None;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with(BEGIN_MARKER) {
            if let Some((b, _)) = block {
                return Err(MergeError::SeveralBlocks(b + 1, i + 1));
            }
            if let Some(b) = begin {
                return Err(MergeError::Unterminated(b + 1));
            }
            begin = Some(i);
        } else if trimmed.starts_with(END_MARKER) {
            match begin.take() {
                Some(b) => block = Some((b, i)),
                None => return Err(MergeError::Unopened(i + 1)),
            }
        }
    }
    if let Some(b) = begin {
        return Err(MergeError::Unterminated(b + 1));
    }
    let outside = |i: usize| block.is_none_or(|(b, e)| i < b || i > e);
    let defined: Vec<(usize, String)> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| outside(*i))
        .filter_map(|(i, line)| section_name(line).map(|name| (i + 1, name)))
        .collect();
    let source = format!("profile {}", set.source_profile);
    let kept_source_profile = defined.iter().any(|(_, name)| *name == source);
    let ours: BTreeSet<String> = set
        .profiles
        .iter()
        .map(|p| format!("profile {}", p.name))
        .collect();
    let clashes: Vec<(usize, String)> = defined
        .into_iter()
        .filter(|(_, name)| ours.contains(name))
        .collect();
    if !clashes.is_empty() {
        return Err(MergeError::Clash(clashes));
    }
    let fragment = render_aws_config(set, !kept_source_profile)?;
    let text = match block {
        Some((b, e)) => {
            let mut text: String = lines[..b].concat();
            text.push_str(&fragment);
            text.push_str(&lines[e + 1..].concat());
            text
        }
        None => {
            let mut text = existing.to_owned();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&fragment);
            text
        }
    };
    Ok(Merged {
        text,
        replaced: block.is_some(),
        kept_source_profile,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = r#"
jump-account id="111111111111" region="ap-northeast-1"
role "admin" policy="arn:aws:iam::aws:policy/AdministratorAccess"
role "developer" policy="arn:aws:iam::aws:policy/PowerUserAccess" session-hours=4
project "pay" {
    account "pay-prod" id="222222222222" color="D13212"
    account "pay-stg"  id="333333333333"
}
account "shared" id="444444444444" color="0073bb"
user "alice" {
    access "admin"
}
user "bob+ops" {
    access "developer" project="pay"
}
user "carol"
"#;

    fn state() -> DesiredState {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.kdl");
        std::fs::write(&path, STATE).unwrap();
        crate::lang::load(&path).expect("the test state is valid")
    }

    fn names(set: &ProfileSet) -> Vec<&str> {
        set.profiles.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn a_user_gets_a_profile_per_reachable_account_and_role() {
        let state = state();
        let alice = profiles(&state, Some("alice")).unwrap();
        assert_eq!(
            names(&alice),
            [
                "jump-admin",
                "pay-prod-admin",
                "pay-stg-admin",
                "shared-admin"
            ]
        );
        let bob = profiles(&state, Some("bob+ops")).unwrap();
        assert_eq!(names(&bob), ["pay-prod-developer", "pay-stg-developer"]);
        assert_eq!(bob.profiles[0].duration_seconds, 4 * 3600);
        assert_eq!(bob.profiles[0].color.as_deref(), Some("d13212"));
        assert!(profiles(&state, Some("carol")).unwrap().profiles.is_empty());
    }

    #[test]
    fn without_a_user_the_union_in_account_then_role_order() {
        let set = profiles(&state(), None).unwrap();
        assert_eq!(
            names(&set),
            [
                "jump-admin",
                "pay-prod-admin",
                "pay-prod-developer",
                "pay-stg-admin",
                "pay-stg-developer",
                "shared-admin"
            ]
        );
        assert_eq!(
            render(&set, Format::AwsConfig),
            Err(ProfilesError::UserRequired)
        );
    }

    #[test]
    fn an_unknown_user_is_an_error_with_a_hint() {
        let err = profiles(&state(), Some("alcie")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no user `alcie` in the desired state; did you mean `alice`?"
        );
        let err = profiles(&state(), Some("zz")).unwrap_err();
        assert_eq!(err.to_string(), "no user `zz` in the desired state");
    }

    #[test]
    fn the_aws_config_fragment() {
        let set = profiles(&state(), Some("bob+ops")).unwrap();
        insta::assert_snapshot!(render_aws_config(&set, true).unwrap());
    }

    #[test]
    fn the_switch_roles_configuration() {
        let set = profiles(&state(), None).unwrap();
        insta::assert_snapshot!(render_switch_roles(&set));
    }

    #[test]
    fn links_carry_display_name_and_colour() {
        let set = profiles(&state(), Some("bob+ops")).unwrap();
        assert_eq!(
            render_links(&set),
            "pay-prod-developer  https://signin.aws.amazon.com/switchrole?roleName=role-developer&account=222222222222&displayName=pay-prod-developer&color=d13212\n\
             pay-stg-developer   https://signin.aws.amazon.com/switchrole?roleName=role-developer&account=333333333333&displayName=pay-stg-developer\n"
        );
        let mut odd = set.profiles[0].clone();
        odd.name = "a b&c=d/é".into();
        assert!(
            switch_role_link(&odd).contains("displayName=a%20b%26c%3Dd%2F%C3%A9&"),
            "{}",
            switch_role_link(&odd)
        );
        odd.name = "x".repeat(80);
        assert!(switch_role_link(&odd).contains(&format!("displayName={}&", "x".repeat(64))));
    }

    #[test]
    fn merging_appends_then_replaces_only_the_block() {
        let set = profiles(&state(), Some("alice")).unwrap();
        let mine = "[default]\nregion = eu-west-1\n\n[profile personal]\nregion = us-east-1";
        let first = merge(mine, &set).unwrap();
        assert!(!first.replaced);
        assert!(first.text.starts_with(&format!("{mine}\n\n{BEGIN_MARKER}")));
        // The user edits around the block; alice loses her admin access.
        let edited = format!("# my notes\n{}[profile after]\noutput = json\n", first.text);
        let mut fewer = set.clone();
        fewer.profiles.truncate(1);
        let second = merge(&edited, &fewer).unwrap();
        assert!(second.replaced);
        let expected = format!(
            "# my notes\n{mine}\n\n{}[profile after]\noutput = json\n",
            render_aws_config(&fewer, true).unwrap()
        );
        assert_eq!(second.text, expected);
        assert_eq!(merge(&second.text, &fewer).unwrap().text, second.text);
    }

    #[test]
    fn an_existing_source_profile_is_kept_and_other_clashes_refused() {
        let set = profiles(&state(), Some("alice")).unwrap();
        let mine = "[profile   jump]\nregion = us-west-2\n";
        let merged = merge(mine, &set).unwrap();
        assert!(merged.kept_source_profile);
        assert_eq!(merged.text.matches("[profile jump]").count(), 0);
        assert!(merged.text.starts_with(mine));
        let clash = "[profile pay-prod-admin]\nregion = x\n";
        let err = merge(clash, &set).unwrap_err();
        assert_eq!(
            err,
            MergeError::Clash(vec![(1, "profile pay-prod-admin".into())])
        );
        assert!(
            err.to_string()
                .contains("[profile pay-prod-admin] (line 1)"),
            "{err}"
        );
    }

    #[test]
    fn broken_blocks_are_refused() {
        let set = profiles(&state(), Some("alice")).unwrap();
        let open = format!("[default]\n{BEGIN_MARKER}\n[profile x]\n");
        assert_eq!(merge(&open, &set), Err(MergeError::Unterminated(2)));
        let close = format!("{END_MARKER}\n");
        assert_eq!(merge(&close, &set), Err(MergeError::Unopened(1)));
        let two = format!("{BEGIN_MARKER}\n{END_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n");
        assert_eq!(merge(&two, &set), Err(MergeError::SeveralBlocks(1, 3)));
        let union = profiles(&state(), None).unwrap();
        assert_eq!(
            merge("", &union),
            Err(MergeError::Profiles(ProfilesError::UserRequired))
        );
    }
}
