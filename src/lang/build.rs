//! From parsed KDL documents to the validated desired state. The first pass
//! reads each node on its own; the second (`checks`) checks what spans files
//! (uniqueness, references, limits). Every problem is collected.

mod checks;

use std::collections::BTreeMap;

use kdl::{KdlDocument, KdlNode};
use time::Date;

use super::diagnostic::{Location, Problem};
use super::reader::{NodeReader, Spanned};
use super::source::Sources;
use super::suggest::did_you_mean;
use crate::hygiene::Thresholds;
use crate::model::desired::{
    Access, Account, DesiredState, JumpAccount, Organization, PasswordPolicy, RoleDef, Until, User,
};
use crate::model::expiry::parse_date;
use crate::model::names::{
    AccountId, AccountName, Color, Email, NameError, PolicyArn, ProjectName, Region, RoleKey,
    RoleName, UserName, shown,
};

const TOP_LEVEL: &[&str] = &[
    "jump-account",
    "organization",
    "role",
    "project",
    "account",
    "user",
];
const DEFAULT_JUMP_NAME: &str = "jump";
const DEFAULT_ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

#[derive(Default)]
struct Collected {
    /// Every `jump-account` node, valid or not.
    jump_nodes: Vec<Location>,
    /// The first valid one.
    jump: Option<JumpAccount>,
    /// Where the first valid one's `id` is, and its `name` if written.
    jump_id_at: Option<Location>,
    jump_name_at: Option<Location>,
    organizations: Vec<Location>,
    organization: Option<Organization>,
    /// Complete role declarations.
    roles: Vec<RoleDef>,
    /// Every role name declared, even on a node with other problems, so
    /// that `access` lines are checked against what the file says.
    role_keys: Vec<(RoleKey, Location)>,
    /// Whether any `role` node was written: without one, the defaults apply.
    any_role_node: bool,
    projects: Vec<(ProjectName, Location)>,
    accounts: Vec<AccountDecl>,
    users: Vec<UserDecl>,
}

struct AccountDecl {
    account: Account,
    at: Location,
    id_at: Option<Location>,
    /// Whether an `id` or `email` was written at all, even if invalid
    /// (already reported), so that no second problem says it is missing.
    wrote_id_or_email: bool,
}

struct UserDecl {
    /// The name as written, for messages; `user` is built only when it is valid.
    written_name: String,
    user: Option<User>,
    access: Vec<Access>,
    at: Location,
    /// Where each access line is, parallel to `user.access`.
    access_at: Vec<AccessDecl>,
}

struct AccessDecl {
    role_at: Location,
    project_at: Option<Location>,
}

/// Reads every node; `complete` says whether `documents` are all the files
/// (no syntax error), without which checks across files would mislead.
pub fn build(
    sources: &Sources,
    documents: &[(usize, KdlDocument)],
    complete: bool,
) -> (Option<DesiredState>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut collected = Collected::default();
    for (file, document) in documents {
        for node in document.nodes() {
            read_top_level(node, *file, &mut collected, &mut problems);
        }
    }
    if !complete {
        return (None, problems);
    }
    let state = checks::check(sources, collected, &mut problems);
    if problems.is_empty() {
        (state, problems)
    } else {
        (None, problems)
    }
}

fn unknown_node(node: &KdlNode, file: usize, parent: Option<&str>, allowed: &[&str]) -> Problem {
    let name = shown(node.name().value());
    let place = parent.map_or("at the top level".to_owned(), |p| format!("inside `{p}`"));
    let help = match did_you_mean(node.name().value(), allowed) {
        Some(close) => format!("did you mean `{close}`?"),
        None if allowed.is_empty() => "this node takes no child nodes".to_owned(),
        None => format!("expected one of: {}", allowed.join(", ")),
    };
    Problem::new(
        "unknown-node",
        Location::new(file, node.name().span()),
        format!("unknown node `{name}` {place}"),
        "unknown node",
    )
    .with_help(help)
}

/// Turns a rule violation from a newtype constructor into a problem.
fn typed<T>(
    value: Option<Spanned<String>>,
    make: impl Fn(&str) -> Result<T, NameError>,
    problems: &mut Vec<Problem>,
) -> Option<Spanned<T>> {
    let value = value?;
    match make(&value.value) {
        Ok(v) => Some(Spanned {
            value: v,
            at: value.at,
        }),
        Err(err) => {
            problems.push(Problem::new(
                "invalid-value",
                value.at,
                err.0,
                "invalid value",
            ));
            None
        }
    }
}

fn read_top_level(node: &KdlNode, file: usize, out: &mut Collected, problems: &mut Vec<Problem>) {
    match node.name().value() {
        "jump-account" => read_jump(node, file, out, problems),
        "organization" => {
            let mut r = NodeReader::new(node, file, problems, &[], &["access-role"]);
            r.no_children();
            let at = r.at();
            let role = r.string("access-role");
            let access_role = match role {
                Some(role) => typed(Some(role), RoleName::new, problems).map(|s| s.value),
                None => Some(RoleName::new(DEFAULT_ACCESS_ROLE).expect("valid default")),
            };
            out.organizations.push(at);
            if let Some(access_role) = access_role {
                out.organization.get_or_insert(Organization { access_role });
            }
        }
        "role" => {
            let mut r = NodeReader::new(
                node,
                file,
                problems,
                &["role name"],
                &["policy", "session-hours"],
            );
            r.no_children();
            let at = r.at();
            let key = r.string_argument(0, "role name");
            let policy = r.string("policy");
            let hours = r.integer("session-hours", 1, 12);
            if policy.is_none() && node.entry("policy").is_none() {
                problems.push(
                    Problem::new(
                        "missing-property",
                        at,
                        "a role needs a `policy`",
                        "no policy",
                    )
                    .with_help("e.g. policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\""),
                );
            }
            let key = typed(key, RoleKey::new, problems);
            let policy = typed(policy, PolicyArn::new, problems);
            out.any_role_node = true;
            if let Some(key) = &key {
                out.role_keys.push((key.value.clone(), key.at));
            }
            if let (Some(key), Some(policy)) = (key, policy) {
                let session_hours = hours.map_or(RoleDef::DEFAULT_SESSION_HOURS, |h| h.value as u8);
                out.roles.push(RoleDef {
                    key: key.value,
                    policy: policy.value,
                    session_hours,
                });
            }
        }
        "project" => read_project(node, file, out, problems),
        "account" => read_account(node, file, None, out, problems),
        "user" => read_user(node, file, out, problems),
        _ => problems.push(unknown_node(node, file, None, TOP_LEVEL)),
    }
}

fn read_jump(node: &KdlNode, file: usize, out: &mut Collected, problems: &mut Vec<Problem>) {
    let mut r = NodeReader::new(
        node,
        file,
        problems,
        &[],
        &["id", "region", "name", "target"],
    );
    let at = r.at();
    let id = r.string("id");
    let region = r.string("region");
    let name = r.string("name");
    let is_target = r.bool("target").is_none_or(|t| t.value);
    for (key, value) in [("id", &id), ("region", &region)] {
        if value.is_none() && node.entry(key).is_none() {
            problems.push(Problem::new(
                "missing-property",
                at,
                format!("`jump-account` needs `{key}`"),
                format!("no {key}"),
            ));
        }
    }
    let id = typed(id, AccountId::new, problems);
    let region = typed(region, Region::new, problems);
    let name_at = name.as_ref().map(|n| n.at);
    let name = match name {
        Some(name) => typed(Some(name), AccountName::new, problems).map(|n| n.value),
        None => Some(AccountName::new(DEFAULT_JUMP_NAME).expect("valid default")),
    };
    let mut password_policy = None;
    let mut hygiene = Thresholds::default();
    if let Some(children) = node.children() {
        for child in children.nodes() {
            match child.name().value() {
                "password-policy" => password_policy = read_password_policy(child, file, problems),
                "hygiene" => hygiene = read_hygiene(child, file, problems),
                _ => problems.push(unknown_node(
                    child,
                    file,
                    Some("jump-account"),
                    &["password-policy", "hygiene"],
                )),
            }
        }
    }
    out.jump_nodes.push(at);
    if let (Some(id), Some(region), Some(name)) = (id, region, name) {
        if out.jump.is_none() {
            out.jump_id_at = Some(id.at);
            out.jump_name_at = name_at;
        }
        out.jump.get_or_insert(JumpAccount {
            name,
            id: id.value,
            region: region.value,
            is_target,
            password_policy,
            hygiene,
        });
    }
}

fn read_password_policy(
    node: &KdlNode,
    file: usize,
    problems: &mut Vec<Problem>,
) -> Option<PasswordPolicy> {
    let flags = [
        "require-symbols",
        "require-numbers",
        "require-uppercase",
        "require-lowercase",
        "allow-users-to-change",
        "hard-expiry",
    ];
    let mut allowed = vec!["min-length", "max-age-days", "reuse-prevention"];
    allowed.extend(flags);
    let mut r = NodeReader::new(node, file, problems, &[], &allowed);
    r.no_children();
    let defaults = PasswordPolicy::default();
    let mut flag = |key: &str, default: bool| r.bool(key).map_or(default, |b| b.value);
    let require_symbols = flag("require-symbols", defaults.require_symbols);
    let require_numbers = flag("require-numbers", defaults.require_numbers);
    let require_uppercase = flag("require-uppercase", defaults.require_uppercase);
    let require_lowercase = flag("require-lowercase", defaults.require_lowercase);
    let allow_users_to_change = flag("allow-users-to-change", defaults.allow_users_to_change);
    let hard_expiry = flag("hard-expiry", defaults.hard_expiry);
    // IAM's own bounds for each setting.
    Some(PasswordPolicy {
        min_length: r
            .integer("min-length", 6, 128)
            .map_or(defaults.min_length, |v| v.value as u8),
        max_age_days: r.integer("max-age-days", 1, 1095).map(|v| v.value as u16),
        reuse_prevention: r.integer("reuse-prevention", 1, 24).map(|v| v.value as u8),
        require_symbols,
        require_numbers,
        require_uppercase,
        require_lowercase,
        allow_users_to_change,
        hard_expiry,
    })
}

/// `hygiene never-signed-in-days=14 ...`: when `drift` reports a credential.
fn read_hygiene(node: &KdlNode, file: usize, problems: &mut Vec<Problem>) -> Thresholds {
    let mut r = NodeReader::new(node, file, problems, &[], &Thresholds::SETTINGS);
    r.no_children();
    let mut thresholds = Thresholds::default();
    for setting in Thresholds::SETTINGS {
        if let Some(days) = r.integer(setting, 1, i128::from(Thresholds::MAX_DAYS)) {
            thresholds.set(setting, days.value as u32);
        }
    }
    thresholds
}

/// An `until` date, reported where it is written when it is not one.
fn until(value: Option<Spanned<String>>, problems: &mut Vec<Problem>) -> Option<Date> {
    let value = value?;
    match parse_date(&value.value) {
        Ok(date) => Some(date),
        Err(err) => {
            problems.push(
                Problem::new("invalid-value", value.at, err, "not a date")
                    .with_help("write the last valid day, e.g. until=\"2027-01-31\""),
            );
            None
        }
    }
}

fn read_project(node: &KdlNode, file: usize, out: &mut Collected, problems: &mut Vec<Problem>) {
    let mut r = NodeReader::new(node, file, problems, &["project name"], &[]);
    let name = r.string_argument(0, "project name");
    let name = typed(name, ProjectName::new, problems);
    if let Some(children) = node.children() {
        for child in children.nodes() {
            if child.name().value() == "account" {
                read_account(child, file, name.as_ref().map(|n| &n.value), out, problems);
            } else {
                problems.push(unknown_node(child, file, Some("project"), &["account"]));
            }
        }
    }
    if let Some(name) = name {
        out.projects.push((name.value, name.at));
    }
}

fn read_account(
    node: &KdlNode,
    file: usize,
    project: Option<&ProjectName>,
    out: &mut Collected,
    problems: &mut Vec<Problem>,
) {
    let mut r = NodeReader::new(
        node,
        file,
        problems,
        &["account name"],
        &["id", "email", "env", "color"],
    );
    r.no_children();
    let name = r.string_argument(0, "account name");
    let id = r.string("id");
    let email = r.string("email");
    let env = r.string("env");
    let color = r.string("color");
    let name = typed(name, AccountName::new, problems);
    let id = typed(id, AccountId::new, problems);
    let email = typed(email, Email::new, problems);
    let color = typed(color, Color::new, problems);
    if let Some(name) = name {
        out.accounts.push(AccountDecl {
            id_at: id.as_ref().map(|i| i.at),
            wrote_id_or_email: node.entry("id").is_some() || node.entry("email").is_some(),
            account: Account {
                name: name.value,
                id: id.map(|i| i.value),
                email: email.map(|e| e.value),
                project: project.cloned(),
                env: env.map(|e| e.value),
                color: color.map(|c| c.value),
            },
            at: name.at,
        });
    }
}

fn read_user(node: &KdlNode, file: usize, out: &mut Collected, problems: &mut Vec<Problem>) {
    let mut r = NodeReader::new(
        node,
        file,
        problems,
        &["user name"],
        &["console", "age-recipient", "access-keys", "until"],
    );
    let name = r.string_argument(0, "user name");
    let console = r.bool("console").is_none_or(|c| c.value);
    let access_keys = r.bool("access-keys").is_none_or(|k| k.value);
    let user_until = r.string("until");
    let recipient = r.string("age-recipient");
    let written_name = name.as_ref().map(|n| n.value.clone());
    let user_until = until(user_until, problems);
    let name = typed(name, UserName::new, problems);
    let age_recipient = recipient.and_then(|rec| {
        match rec.value.parse::<age::x25519::Recipient>() {
            Ok(_) => Some(rec.value),
            Err(err) => {
                problems.push(
                    Problem::new(
                        "invalid-value",
                        rec.at,
                        format!("`age-recipient` is not an age public key: {err}"),
                        "invalid recipient",
                    )
                    .with_help("an age X25519 recipient starts with `age1`; `age-keygen -y key.txt` prints it"),
                );
                None
            }
        }
    });
    let mut access = Vec::new();
    let mut access_at = Vec::new();
    let mut grants_until = BTreeMap::new();
    if let Some(children) = node.children() {
        for child in children.nodes() {
            if child.name().value() != "access" {
                problems.push(unknown_node(child, file, Some("user"), &["access"]));
                continue;
            }
            let mut r =
                NodeReader::new(child, file, problems, &["role name"], &["project", "until"]);
            r.no_children();
            let role = r.string_argument(0, "role name");
            let project = r.string("project");
            let grant_until = r.string("until");
            let project_at = project.as_ref().map(|p| p.at);
            let grant_until = until(grant_until, problems);
            let role = typed(role, RoleKey::new, problems);
            let project = typed(project, ProjectName::new, problems);
            if let Some(role) = role {
                let grant = Access {
                    role: role.value,
                    project: project.map(|p| p.value),
                };
                if let Some(date) = grant_until {
                    grants_until.insert(grant.clone(), date);
                }
                access.push(grant);
                access_at.push(AccessDecl {
                    role_at: role.at,
                    project_at,
                });
            }
        }
    }
    let Some(written_name) = written_name else {
        return;
    };
    out.users.push(UserDecl {
        written_name,
        at: name
            .as_ref()
            .map_or(Location::new(file, node.name().span()), |n| n.at),
        user: name.map(|name| User {
            name: name.value,
            console,
            age_recipient,
            access: access.clone(),
            access_keys,
            until: Until {
                user: user_until,
                grants: grants_until,
            },
        }),
        access,
        access_at,
    });
}
