//! `import`'s KDL writer: the file that declares an [`ImportedEstate`],
//! laid out as a person would write it (aligned columns, a comment on
//! everything the first plan changes).

use std::fmt::Write;

use crate::import::{ImportedEstate, ImportedUser, ManagedUser};
use crate::model::derive::MAX_GROUPS_PER_USER;
use crate::model::desired::PasswordPolicy;
use crate::model::names::{AccountId, AccountName};

pub fn write(estate: &ImportedEstate) -> String {
    let mut text = String::new();
    header(&mut text, estate);
    jump_account(&mut text, estate);
    roles(&mut text, estate);
    accounts(&mut text, estate);
    users(&mut text, &estate.users);
    text
}

fn header(text: &mut String, estate: &ImportedEstate) {
    let _ = writeln!(
        text,
        "// Imported by `jumpgate import` from jump account {} ({}) at {}.",
        estate.jump, estate.region, estate.imported_at
    );
    text.push_str(
        "// Review it, then run `jumpgate plan`: it shows no changes where the live objects\n\
         // carry jumpgate's marker, and an explicit adoption (`update`) where they do not.\n",
    );
    if estate.estate_notes {
        text.push_str(
            "// See the notes `jumpgate import` printed for what the plan would change.\n",
        );
    }
    text.push('\n');
}

fn jump_account(text: &mut String, estate: &ImportedEstate) {
    let target = if estate.jump_is_target {
        ""
    } else {
        " target=#false"
    };
    let _ = write!(
        text,
        "jump-account id={} region={}{target}",
        quote(estate.jump.as_str()),
        quote(estate.region.as_str())
    );
    match estate.password_policy {
        Some(policy) => {
            text.push_str(" {\n");
            text.push_str(&password_policy_line(policy));
            text.push_str("}\n");
        }
        None => text.push('\n'),
    }
    if !estate.jump_is_target {
        text.push_str(
            "// The StackSet has no instance in the jump account, so it receives no roles.\n",
        );
    }
    if estate.organization {
        text.push_str(
            "\n// The jump account manages an AWS organization: accounts can be created from\n\
             // the file, and bootstrapped through the organization's access role.\n\
             organization\n",
        );
    }
}

fn roles(text: &mut String, estate: &ImportedEstate) {
    text.push('\n');
    let Some(roles) = &estate.roles else {
        text.push_str(
            "// No StackSet iam-roles was found: the three default roles apply\n\
             // (admin, developer, operator). Declare `role` nodes to change them.\n",
        );
        return;
    };
    text.push_str("// Roles, from the template of StackSet iam-roles.\n");
    let key_width = widest(roles.values().map(|r| r.key.as_str()));
    let policy_width = widest(roles.values().map(|r| r.policy.as_str()));
    for role in roles.values() {
        let _ = writeln!(
            text,
            "role {:<key_width$} policy={:<policy_width$} session-hours={}",
            quote(role.key.as_str()),
            quote(role.policy.as_str()),
            role.session_hours
        );
    }
}

/// Projects with their accounts, then the accounts in no project.
fn accounts(text: &mut String, estate: &ImportedEstate) {
    if !estate.projects.is_empty() {
        text.push_str("\n// Projects, from the assume-role policies of the project groups.\n");
    }
    for (project, accounts) in &estate.projects {
        if accounts.is_empty() {
            let _ = writeln!(text, "project {}", quote(project.as_str()));
            continue;
        }
        let _ = writeln!(text, "project {} {{", quote(project.as_str()));
        account_lines(text, "    ", accounts);
        text.push_str("}\n");
    }
    if !estate.loose_accounts.is_empty() {
        text.push_str("\n// Accounts that receive the roles, in no project.\n");
        account_lines(text, "", &estate.loose_accounts);
    }
}

fn account_lines(text: &mut String, indent: &str, accounts: &[(AccountName, AccountId)]) {
    let width = widest(accounts.iter().map(|(name, _)| name.as_str()));
    for (name, id) in accounts {
        let _ = writeln!(
            text,
            "{indent}account {:<width$} id={}",
            quote(name.as_str()),
            quote(id.as_str())
        );
    }
}

fn users(text: &mut String, users: &[ImportedUser]) {
    if users.is_empty() {
        return;
    }
    text.push_str("\n// Users, with their access from their group memberships.\n");
    for user in users {
        match user {
            ImportedUser::Unmanaged {
                name,
                reasons,
                console,
            } => {
                let _ = writeln!(
                    text,
                    "\n// Not adopted: {} {}. jumpgate leaves it alone.\n\
                     // To adopt it, uncomment the line below and add its `access` lines; the plan then\n\
                     // tags it, and removes its policies of its own (access comes from groups only).\n\
                     // user {}{}",
                    name,
                    reasons.join(", "),
                    quote(name.as_str()),
                    console_flag(*console)
                );
            }
            ImportedUser::Managed(user) => managed_user(text, user),
        }
    }
}

fn managed_user(text: &mut String, user: &ManagedUser) {
    // A user with remarks stands apart; the others follow one another.
    if user.adopted || !user.foreign_groups.is_empty() || !user.own_policies.is_empty() {
        text.push('\n');
    }
    if user.adopted {
        text.push_str("// Not tagged managed-by=jumpgate: the first apply adopts this user.\n");
    }
    if !user.foreign_groups.is_empty() {
        let _ = writeln!(
            text,
            "// Also in {}, which jumpgate does not manage{}.",
            user.foreign_groups.join(", "),
            if user.foreign_on_owned_path {
                " (on jumpgate's path: the plan removes such groups)"
            } else {
                " (left alone)"
            }
        );
    }
    if !user.own_policies.is_empty() {
        let _ = writeln!(
            text,
            "// Has policies of its own ({}): jumpgate grants access through groups only,\n\
             // so the plan removes them. Delete this block to leave the user alone instead.",
            user.own_policies.join(", ")
        );
    }
    let _ = write!(
        text,
        "user {}{}",
        quote(user.name.as_str()),
        console_flag(user.console)
    );
    if user.access.is_empty() {
        text.push('\n');
        return;
    }
    text.push_str(" {\n");
    for (index, access) in user.access.iter().enumerate() {
        let comment = if index >= MAX_GROUPS_PER_USER {
            "// over AWS's limit of 10 groups: "
        } else {
            ""
        };
        let _ = write!(text, "    {comment}access {}", quote(access.role.as_str()));
        if let Some(project) = &access.project {
            let _ = write!(text, " project={}", quote(project.as_str()));
        }
        text.push('\n');
    }
    text.push_str("}\n");
}

fn console_flag(console: bool) -> &'static str {
    if console { "" } else { " console=#false" }
}

/// The width of the widest of these values, quoted.
fn widest<'a>(values: impl Iterator<Item = &'a str>) -> usize {
    values.map(|v| quote(v).len()).max().unwrap_or(0)
}

fn password_policy_line(policy: &PasswordPolicy) -> String {
    let flag = |on: bool| if on { "#true" } else { "#false" };
    let mut properties = vec![
        format!("min-length={}", policy.min_length),
        format!("require-symbols={}", flag(policy.require_symbols)),
        format!("require-numbers={}", flag(policy.require_numbers)),
        format!("require-uppercase={}", flag(policy.require_uppercase)),
        format!("require-lowercase={}", flag(policy.require_lowercase)),
    ];
    if !policy.allow_users_to_change {
        properties.push("allow-users-to-change=#false".into());
    }
    if let Some(days) = policy.max_age_days {
        properties.push(format!("max-age-days={days}"));
    }
    if let Some(count) = policy.reuse_prevention {
        properties.push(format!("reuse-prevention={count}"));
    }
    if policy.hard_expiry {
        properties.push("hard-expiry=#true".into());
    }
    // Wrapped the way a person would, with KDL's line continuation.
    let mut out = String::from("    password-policy");
    let mut line_length = out.len();
    for property in properties {
        if line_length + 1 + property.len() > 96 {
            out.push_str(" \\\n       ");
            line_length = 7;
        }
        out.push(' ');
        out.push_str(&property);
        line_length += 1 + property.len();
    }
    out.push('\n');
    out
}

/// A KDL string.
fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
