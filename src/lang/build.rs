//! From parsed KDL documents to the validated desired state. The first pass
//! reads each node on its own; the second checks what spans files
//! (uniqueness, references, limits). Every problem is collected.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kdl::{KdlDocument, KdlNode};
use time::Date;

use super::diagnostic::{Location, Problem};
use super::reader::{NodeReader, Spanned};
use super::source::Sources;
use super::suggest::did_you_mean;
use crate::hygiene::Thresholds;
use crate::model::derive::{
    GroupSpec, MAX_GROUPS_PER_ACCOUNT, MAX_GROUPS_PER_USER, MAX_USERS_PER_ACCOUNT, group_name,
    managed_groups, role_logical_id, role_name,
};
use crate::model::desired::{
    Access, Account, DesiredState, JumpAccount, Organization, PasswordPolicy, Project, RoleDef,
    Until, User,
};
use crate::model::expiry::parse_date;
use crate::model::names::{
    AccountId, AccountName, Color, Email, GroupName, NameError, PolicyArn, ProjectName, Region,
    RoleKey, RoleName, UserName, shown,
};
use crate::policy::{GROUP_INLINE_POLICY_MAX, group_policy, policy_size, role_arn};

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
    let state = check(sources, collected, &mut problems);
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

/// Reports every later occurrence of a key already seen, compared without
/// case (as IAM and e-mail do), pointing at the first one in the hint;
/// `note` explains why the two clash.
fn report_duplicates(
    sources: &Sources,
    items: impl IntoIterator<Item = (String, Location)>,
    what: &str,
    note: &str,
    problems: &mut Vec<Problem>,
) {
    let mut first: HashMap<String, Location> = HashMap::new();
    for (key, at) in items {
        match first.get(&key.to_lowercase()) {
            Some(earlier) => {
                problems.push(
                    Problem::new(
                        "duplicate",
                        at,
                        format!("{what} `{}` is declared twice", shown(&key)),
                        "declared again here",
                    )
                    .with_help(format!(
                        "first declared at {}{note}",
                        place(sources, earlier)
                    )),
                );
            }
            None => {
                first.insert(key.to_lowercase(), at);
            }
        }
    }
}

/// `file:line:column` of a location, for hints that point elsewhere.
fn place(sources: &Sources, at: &Location) -> String {
    let (line, col) = sources.line_col(at.file, at.span.offset());
    format!("{}:{line}:{col}", sources.files[at.file].name)
}

/// One name jumpgate derives from the file, and the nodes it comes from.
struct Derived {
    /// What kind of name: "group", "CloudFormation logical id".
    kind: &'static str,
    name: String,
    /// The nodes that make it, as messages name them.
    from: String,
    /// Where the clash is reported: the later of the nodes that make it.
    at: Location,
}

fn later(a: Location, b: Location) -> Location {
    if (b.file, b.span.offset()) > (a.file, a.span.offset()) {
        b
    } else {
        a
    }
}

/// Every group name and CloudFormation logical id jumpgate derives from
/// roles and projects, in the order of the nodes that complete them, and,
/// when the groups exceed the account's quota, their number and the node
/// where the quota is crossed (then the groups are not listed: a file may
/// declare thousands of roles and projects, and the quota is the problem).
/// `role_at` is where each role is declared (none for the default roles).
fn derived_names(
    roles: &BTreeMap<RoleKey, RoleDef>,
    role_at: &HashMap<&RoleKey, Location>,
    projects: &[(ProjectName, Location)],
    fallback: Location,
) -> (Vec<Derived>, Option<(usize, Location)>) {
    let order = |at: &Location| (at.file, at.span.offset());
    // Names declared twice ignoring case are reported as duplicates already.
    let mut seen = BTreeSet::new();
    let projects: Vec<&(ProjectName, Location)> = projects
        .iter()
        .filter(|(p, _)| seen.insert(p.as_str().to_lowercase()))
        .collect();
    let mut seen = BTreeSet::new();
    let roles: Vec<(&RoleKey, Option<Location>)> = roles
        .keys()
        .filter(|r| seen.insert(r.as_str().to_lowercase()))
        .map(|r| (r, role_at.get(r).copied()))
        .collect();
    let mut derived: Vec<Derived> = roles
        .iter()
        .map(|(role, at)| Derived {
            kind: "CloudFormation logical id",
            name: role_logical_id(role),
            from: format!("role `{role}`"),
            at: at.unwrap_or(fallback),
        })
        .collect();
    let groups = roles.len() * (1 + projects.len());
    let mut over = None;
    if groups > MAX_GROUPS_PER_ACCOUNT {
        // Each role node brings a group per project declared before it,
        // each project node one per role declared before it.
        let mut nodes: Vec<(Location, bool)> = roles
            .iter()
            .map(|(_, at)| (at.unwrap_or(fallback), true))
            .chain(projects.iter().map(|(_, at)| (*at, false)))
            .collect();
        nodes.sort_by_key(|(at, _)| order(at));
        let (mut roles_seen, mut projects_seen, mut count) = (0, 0, 0);
        for (at, is_role) in nodes {
            if is_role {
                roles_seen += 1;
                count += 1 + projects_seen;
            } else {
                projects_seen += 1;
                count += roles_seen;
            }
            if count > MAX_GROUPS_PER_ACCOUNT {
                over = Some((groups, at));
                break;
            }
        }
    } else {
        for (role, at) in &roles {
            let global = Access {
                role: (*role).clone(),
                project: None,
            };
            derived.push(Derived {
                kind: "group",
                name: group_name(&global).to_string(),
                from: format!("role `{role}`"),
                at: at.unwrap_or(fallback),
            });
            for (project, project_at) in &projects {
                let access = Access {
                    role: (*role).clone(),
                    project: Some(project.clone()),
                };
                derived.push(Derived {
                    kind: "group",
                    name: group_name(&access).to_string(),
                    from: format!("role `{role}` with project `{project}`"),
                    at: at.map_or(*project_at, |r| later(r, *project_at)),
                });
            }
        }
    }
    derived.sort_by_key(|d| order(&d.at));
    (derived, over)
}

/// Derived names must be unique ignoring case: IAM names are ("IAM
/// identifiers", reference_identifiers.html: names are not distinguished by
/// case), and two roles with one logical id would be one template resource.
/// Also the account's group quota, reported where it is crossed.
fn check_derived_names(
    sources: &Sources,
    (derived, over): (Vec<Derived>, Option<(usize, Location)>),
    problems: &mut Vec<Problem>,
) {
    let mut first: HashMap<(&str, String), &Derived> = HashMap::new();
    for d in &derived {
        match first.get(&(d.kind, d.name.to_lowercase())) {
            Some(earlier) => {
                let why = if d.kind == "group" {
                    "IAM names are unique ignoring case"
                } else {
                    "logical ids keep only the letters and digits of a role name"
                };
                problems.push(
                    Problem::new(
                        "derived-name-clash",
                        d.at,
                        format!(
                            "{} makes {} `{}`, which {} also makes",
                            d.from, d.kind, d.name, earlier.from
                        ),
                        "same derived name",
                    )
                    .with_help(format!(
                        "{} makes it at {}; {why}: rename one of them",
                        earlier.from,
                        place(sources, &earlier.at)
                    )),
                );
            }
            None => {
                first.insert((d.kind, d.name.to_lowercase()), d);
            }
        }
    }
    if let Some((groups, at)) = over {
        problems.push(
            Problem::new(
                "quota",
                at,
                format!(
                    "the roles and projects make {groups} groups; IAM allows {MAX_GROUPS_PER_ACCOUNT} groups in an account"
                ),
                format!("group {} of {MAX_GROUPS_PER_ACCOUNT}", MAX_GROUPS_PER_ACCOUNT + 1),
            )
            .with_help(
                "every role gets a group per project (IAM object quotas, reference_iam-quotas.html); \
                 merge projects or roles",
            ),
        );
    }
}

fn check(sources: &Sources, c: Collected, problems: &mut Vec<Problem>) -> Option<DesiredState> {
    let jump = match c.jump_nodes.as_slice() {
        [] => {
            problems.push(
                Problem::new(
                    "missing-jump-account",
                    Location::new(0, (0, 0).into()),
                    "no `jump-account` is declared",
                    "expected somewhere in these files",
                )
                .with_help("add: jump-account id=\"111111111111\" region=\"ap-northeast-1\""),
            );
            None
        }
        [_, extra @ ..] => {
            for at in extra {
                problems.push(
                    Problem::new(
                        "duplicate",
                        *at,
                        "a second `jump-account` is declared",
                        "only one is allowed",
                    )
                    .with_help("the jump account is the one account that holds the IAM users"),
                );
            }
            c.jump.clone()
        }
    };
    let jump_at = c.jump_nodes.first().copied();
    for at in c.organizations.iter().skip(1) {
        problems.push(Problem::new(
            "duplicate",
            *at,
            "a second `organization` is declared",
            "only one is allowed",
        ));
    }
    let organization = c.organization;

    const IAM_NOTE: &str = "; IAM names are case-insensitive";
    report_duplicates(
        sources,
        c.role_keys.iter().map(|(k, at)| (k.to_string(), *at)),
        "role",
        IAM_NOTE,
        problems,
    );
    let roles: BTreeMap<RoleKey, RoleDef> = if c.any_role_node {
        c.roles.iter().map(|r| (r.key.clone(), r.clone())).collect()
    } else {
        RoleDef::defaults()
    };
    // What `access` lines may name: every role declared, complete or not.
    let role_names: Vec<String> = if c.any_role_node {
        let mut keys: Vec<String> = c.role_keys.iter().map(|(k, _)| k.to_string()).collect();
        keys.sort();
        keys.dedup();
        keys
    } else {
        roles.keys().map(|k| k.to_string()).collect()
    };

    report_duplicates(
        sources,
        c.projects.iter().map(|(p, at)| (p.to_string(), *at)),
        "project",
        IAM_NOTE,
        problems,
    );
    let jump_name_note = if c.jump_name_at.is_none() {
        "; the jump account is named `jump` unless `jump-account` sets `name`"
    } else {
        ""
    };
    report_duplicates(
        sources,
        jump.iter()
            .zip(c.jump_name_at.or(jump_at))
            .map(|(j, at)| (j.name.to_string(), at))
            .chain(
                c.accounts
                    .iter()
                    .map(|a| (a.account.name.to_string(), a.at)),
            ),
        "account",
        if jump_name_note.is_empty() {
            "; account names are compared without case"
        } else {
            jump_name_note
        },
        problems,
    );
    report_duplicates(
        sources,
        jump.iter()
            .zip(c.jump_id_at.or(jump_at))
            .map(|(j, at)| (j.id.to_string(), at))
            .chain(
                c.accounts
                    .iter()
                    .filter_map(|a| Some((a.account.id.as_ref()?.to_string(), a.id_at?))),
            ),
        "account id",
        "; an AWS account is declared once",
        problems,
    );
    report_duplicates(
        sources,
        c.accounts
            .iter()
            .filter_map(|a| Some((a.account.email.as_ref()?.to_string(), a.at))),
        "account e-mail",
        "; every AWS account needs its own e-mail address",
        problems,
    );
    for decl in &c.accounts {
        let account = &decl.account;
        if account.id.is_none() && (decl.wrote_id_or_email && account.email.is_none()) {
            continue;
        }
        if account.id.is_none() {
            let problem = match (&account.email, &organization) {
                (None, _) => Problem::new(
                    "account-without-id",
                    decl.at,
                    format!("account `{}` has no `id`", account.name),
                    "no id",
                )
                .with_help(if organization.is_some() {
                    "give its 12-digit id, or an `email` to have Organizations create it"
                } else {
                    "give its 12-digit id (or declare `organization` to create accounts from an `email`)"
                }),
                (Some(_), None) => Problem::new(
                    "account-without-id",
                    decl.at,
                    format!("account `{}` has an `email` but no `id`, and there is no `organization`", account.name),
                    "cannot be created",
                )
                .with_help("creating accounts from an e-mail needs Organizations mode: add `organization`"),
                (Some(_), Some(_)) => continue,
            };
            problems.push(problem);
        }
    }

    report_duplicates(
        sources,
        c.users.iter().map(|u| (u.written_name.clone(), u.at)),
        "user",
        IAM_NOTE,
        problems,
    );
    if let Some(over) = c.users.get(MAX_USERS_PER_ACCOUNT) {
        problems.push(
            Problem::new(
                "quota",
                over.at,
                format!(
                    "{} users are declared; IAM allows {MAX_USERS_PER_ACCOUNT} users in an account",
                    c.users.len()
                ),
                format!("user {} of {MAX_USERS_PER_ACCOUNT}", MAX_USERS_PER_ACCOUNT + 1),
            )
            .with_help("IAM object quotas (reference_iam-quotas.html); AWS recommends identity federation for larger workforces"),
        );
    }
    let mut role_at: HashMap<&RoleKey, Location> = HashMap::new();
    for (key, at) in &c.role_keys {
        role_at.entry(key).or_insert(*at);
    }
    if let Some(fallback) = jump_at {
        check_derived_names(
            sources,
            derived_names(&roles, &role_at, &c.projects, fallback),
            problems,
        );
    }
    let project_names: Vec<String> = c.projects.iter().map(|(p, _)| p.to_string()).collect();
    for decl in &c.users {
        let mut seen = Vec::new();
        let user_name = shown(&decl.written_name);
        for (access, at) in decl.access.iter().zip(&decl.access_at) {
            if !role_names.iter().any(|r| r == access.role.as_str()) {
                let mut problem = Problem::new(
                    "unknown-role",
                    at.role_at,
                    format!("user `{user_name}` is given unknown role `{}`", access.role),
                    "no such role",
                );
                problem.help = Some(match did_you_mean(access.role.as_str(), &role_names) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if role_names.is_empty() => "no role is declared".to_owned(),
                    None if c.any_role_node => {
                        format!("declared roles: {}", role_names.join(", "))
                    }
                    None => format!(
                        "without `role` nodes the roles are {}",
                        role_names.join(", ")
                    ),
                });
                problems.push(problem);
            }
            if let (Some(project), Some(project_at)) = (&access.project, at.project_at)
                && !c.projects.iter().any(|(p, _)| p == project)
            {
                let mut problem = Problem::new(
                    "unknown-project",
                    project_at,
                    format!("user `{user_name}` is given access to unknown project `{project}`"),
                    "no such project",
                );
                problem.help = Some(match did_you_mean(project.as_str(), &project_names) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if project_names.is_empty() => {
                        "no project is declared; declare it with `project \"name\" { account ... }`"
                            .to_owned()
                    }
                    None => format!("declared projects: {}", project_names.join(", ")),
                });
                problems.push(problem);
            }
            if seen.contains(&access) {
                problems.push(Problem::new(
                    "duplicate",
                    at.role_at,
                    format!("user `{user_name}` is given the same access twice"),
                    "repeated access",
                ));
            }
            seen.push(access);
        }
        let groups: BTreeSet<GroupName> = decl.access.iter().map(group_name).collect();
        if groups.len() > MAX_GROUPS_PER_USER {
            problems.push(
                Problem::new(
                    "too-many-groups",
                    decl.at,
                    format!(
                        "user `{user_name}` would be in {} groups; AWS allows at most {MAX_GROUPS_PER_USER}",
                        groups.len()
                    ),
                    "too many groups",
                )
                .with_help("grant a global role instead of the same role in many projects"),
            );
        }
    }

    let jump = jump?;
    let state = DesiredState {
        jump,
        organization,
        roles,
        projects: c
            .projects
            .iter()
            .map(|(name, _)| {
                let accounts = c
                    .accounts
                    .iter()
                    .filter(|a| a.account.project.as_ref() == Some(name))
                    .map(|a| a.account.name.clone())
                    .collect();
                (
                    name.clone(),
                    Project {
                        name: name.clone(),
                        accounts,
                    },
                )
            })
            .collect(),
        accounts: c.accounts.into_iter().map(|a| a.account).collect(),
        users: c
            .users
            .into_iter()
            .filter_map(|u| u.user)
            .map(|u| (u.name.clone(), u))
            .collect(),
        expiry: Default::default(),
    };
    // One problem per project, about its largest group policy (the one of
    // the role with the longest name).
    let mut largest: BTreeMap<&ProjectName, (usize, &GroupSpec)> = BTreeMap::new();
    let groups = managed_groups(&state);
    for group in groups.values() {
        let (Some(project), Some(document)) = (&group.project, group_policy(group)) else {
            continue;
        };
        let size = policy_size(&document);
        if size > GROUP_INLINE_POLICY_MAX && largest.get(project).is_none_or(|(s, _)| size > *s) {
            largest.insert(project, (size, group));
        }
    }
    for (project, (size, group)) in largest {
        let Some(at) = c
            .projects
            .iter()
            .find(|(p, _)| p == project)
            .map(|(_, at)| *at)
        else {
            continue;
        };
        // Each account adds its quoted role ARN and a comma.
        let per_account = role_arn(&group.accounts[0], role_name(&group.role).as_str()).len() + 3;
        let count = group.accounts.len();
        let fits = (GROUP_INLINE_POLICY_MAX - (size - count * per_account)) / per_account;
        problems.push(
            Problem::new(
                "policy-too-large",
                at,
                format!(
                    "the inline policy of `{}` would be {size} characters; AWS allows {GROUP_INLINE_POLICY_MAX} for a group's inline policy",
                    group.name
                ),
                format!("{count} accounts"),
            )
            .with_help(format!(
                "split `{project}` into projects of at most {fits} accounts"
            )),
        );
    }
    Some(state)
}
