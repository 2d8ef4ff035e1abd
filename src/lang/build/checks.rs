//! The second pass: what spans nodes and files, one named check after
//! another, each adding its problems in the order users have always seen
//! them (the jump account, duplicates, accounts' ids, quotas, derived
//! names, references, policy sizes).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{AccountDecl, Collected, UserDecl};
use crate::lang::diagnostic::{Location, Problem};
use crate::lang::source::Sources;
use crate::lang::suggest::did_you_mean;
use crate::model::derive::{
    GroupSpec, MAX_GROUPS_PER_ACCOUNT, MAX_GROUPS_PER_USER, MAX_USERS_PER_ACCOUNT, group_name,
    managed_groups, role_logical_id, role_name,
};
use crate::model::desired::{Access, DesiredState, JumpAccount, Project, RoleDef};
use crate::model::names::{GroupName, ProjectName, RoleKey, shown};
use crate::policy::{GROUP_INLINE_POLICY_MAX, group_policy, role_arn};

const IAM_NOTE: &str = "; IAM names are case-insensitive";

/// Checks what was read across files; the desired state when there is a
/// valid jump account (the caller drops it if any problem was found).
pub(super) fn check(
    sources: &Sources,
    c: Collected,
    problems: &mut Vec<Problem>,
) -> Option<DesiredState> {
    let jump = one_jump_account(&c, problems);
    one_organization(&c, problems);
    let roles = declared_roles(sources, &c, problems);
    report_duplicates(
        sources,
        c.projects.iter().map(|(p, at)| (p.to_string(), *at)),
        "project",
        IAM_NOTE,
        problems,
    );
    unique_accounts(sources, &c, jump.as_ref(), problems);
    accounts_have_ids(&c.accounts, c.organization.is_some(), problems);
    report_duplicates(
        sources,
        c.users.iter().map(|u| (u.written_name.clone(), u.at)),
        "user",
        IAM_NOTE,
        problems,
    );
    users_within_quota(&c.users, problems);
    if let Some(fallback) = c.jump_nodes.first().copied() {
        let mut role_at: HashMap<&RoleKey, Location> = HashMap::new();
        for (key, at) in &c.role_keys {
            role_at.entry(key).or_insert(*at);
        }
        check_derived_names(
            sources,
            derived_names(&roles, &role_at, &c.projects, fallback),
            problems,
        );
    }
    let role_names = accessible_roles(&c, &roles);
    for user in &c.users {
        access_references(user, &role_names, &c, problems);
        user_groups_within_quota(user, problems);
    }
    let project_at = c.projects.clone();
    let state = assemble(jump?, roles, c);
    project_policies_within_limit(&state, &project_at, problems);
    Some(state)
}

/// Exactly one `jump-account`; the first valid one is the jump account.
fn one_jump_account(c: &Collected, problems: &mut Vec<Problem>) -> Option<JumpAccount> {
    match c.jump_nodes.as_slice() {
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
    }
}

/// At most one `organization`.
fn one_organization(c: &Collected, problems: &mut Vec<Problem>) {
    for at in c.organizations.iter().skip(1) {
        problems.push(Problem::new(
            "duplicate",
            *at,
            "a second `organization` is declared",
            "only one is allowed",
        ));
    }
}

/// The roles, reporting duplicates: the complete declarations, or the
/// defaults when no `role` node is written.
fn declared_roles(
    sources: &Sources,
    c: &Collected,
    problems: &mut Vec<Problem>,
) -> BTreeMap<RoleKey, RoleDef> {
    report_duplicates(
        sources,
        c.role_keys.iter().map(|(k, at)| (k.to_string(), *at)),
        "role",
        IAM_NOTE,
        problems,
    );
    if c.any_role_node {
        c.roles.iter().map(|r| (r.key.clone(), r.clone())).collect()
    } else {
        RoleDef::defaults()
    }
}

/// What `access` lines may name: every role declared, complete or not.
fn accessible_roles(c: &Collected, roles: &BTreeMap<RoleKey, RoleDef>) -> Vec<String> {
    if c.any_role_node {
        let mut keys: Vec<String> = c.role_keys.iter().map(|(k, _)| k.to_string()).collect();
        keys.sort();
        keys.dedup();
        keys
    } else {
        roles.keys().map(|k| k.to_string()).collect()
    }
}

/// Account names, ids and e-mails are each declared once, the jump
/// account's included.
fn unique_accounts(
    sources: &Sources,
    c: &Collected,
    jump: Option<&JumpAccount>,
    problems: &mut Vec<Problem>,
) {
    let jump_at = c.jump_nodes.first().copied();
    let jump_name_note = if c.jump_name_at.is_none() {
        "; the jump account is named `jump` unless `jump-account` sets `name`"
    } else {
        ""
    };
    // The jump account's name or id, where the file writes it, else at its
    // node (both may be left to their defaults).
    let jump_value = |value: fn(&JumpAccount) -> String, written_at: Option<Location>| {
        jump.map(value).zip(written_at.or(jump_at))
    };
    report_duplicates(
        sources,
        jump_value(|j| j.name.to_string(), c.jump_name_at)
            .into_iter()
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
        jump_value(|j| j.id.to_string(), c.jump_id_at)
            .into_iter()
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
}

/// Every account has an id, or an e-mail for Organizations to create it.
fn accounts_have_ids(accounts: &[AccountDecl], organization: bool, problems: &mut Vec<Problem>) {
    for decl in accounts {
        let account = &decl.account;
        if account.id.is_none() && (decl.wrote_id_or_email && account.email.is_none()) {
            continue;
        }
        if account.id.is_none() {
            let problem = match (&account.email, organization) {
                (None, _) => Problem::new(
                    "account-without-id",
                    decl.at,
                    format!("account `{}` has no `id`", account.name),
                    "no id",
                )
                .with_help(if organization {
                    "give its 12-digit id, or an `email` to have Organizations create it"
                } else {
                    "give its 12-digit id (or declare `organization` to create accounts from an `email`)"
                }),
                (Some(_), false) => Problem::new(
                    "account-without-id",
                    decl.at,
                    format!("account `{}` has an `email` but no `id`, and there is no `organization`", account.name),
                    "cannot be created",
                )
                .with_help("creating accounts from an e-mail needs Organizations mode: add `organization`"),
                (Some(_), true) => continue,
            };
            problems.push(problem);
        }
    }
}

/// IAM's quota of users per account, reported at the first user over it.
fn users_within_quota(users: &[UserDecl], problems: &mut Vec<Problem>) {
    if let Some(over) = users.get(MAX_USERS_PER_ACCOUNT) {
        problems.push(
            Problem::new(
                "quota",
                over.at,
                format!(
                    "{} users are declared; IAM allows {MAX_USERS_PER_ACCOUNT} users in an account",
                    users.len()
                ),
                format!("user {} of {MAX_USERS_PER_ACCOUNT}", MAX_USERS_PER_ACCOUNT + 1),
            )
            .with_help("IAM object quotas (reference_iam-quotas.html); AWS recommends identity federation for larger workforces"),
        );
    }
}

/// A user's `access` lines name declared roles and projects, each once.
fn access_references(
    decl: &UserDecl,
    role_names: &[String],
    c: &Collected,
    problems: &mut Vec<Problem>,
) {
    let project_names: Vec<String> = c.projects.iter().map(|(p, _)| p.to_string()).collect();
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
            problem.help = Some(match did_you_mean(access.role.as_str(), role_names) {
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
}

/// AWS's quota of groups per user.
fn user_groups_within_quota(decl: &UserDecl, problems: &mut Vec<Problem>) {
    let groups: BTreeSet<GroupName> = decl.access.iter().map(group_name).collect();
    if groups.len() > MAX_GROUPS_PER_USER {
        problems.push(
            Problem::new(
                "too-many-groups",
                decl.at,
                format!(
                    "user `{}` would be in {} groups; AWS allows at most {MAX_GROUPS_PER_USER}",
                    shown(&decl.written_name),
                    groups.len()
                ),
                "too many groups",
            )
            .with_help("grant a global role instead of the same role in many projects"),
        );
    }
}

/// The desired state from what was read.
fn assemble(jump: JumpAccount, roles: BTreeMap<RoleKey, RoleDef>, c: Collected) -> DesiredState {
    DesiredState {
        jump,
        organization: c.organization,
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
    }
}

/// One problem per project whose group policy would exceed IAM's size
/// limit, about its largest (the one of the role with the longest name).
fn project_policies_within_limit(
    state: &DesiredState,
    projects: &[(ProjectName, Location)],
    problems: &mut Vec<Problem>,
) {
    let mut largest: BTreeMap<&ProjectName, (usize, &GroupSpec)> = BTreeMap::new();
    let groups = managed_groups(state);
    for group in groups.values() {
        let (Some(project), Some(document)) = (&group.project, group_policy(group)) else {
            continue;
        };
        let size = document.size();
        if size > GROUP_INLINE_POLICY_MAX && largest.get(project).is_none_or(|(s, _)| size > *s) {
            largest.insert(project, (size, group));
        }
    }
    for (project, (size, group)) in largest {
        let Some(at) = projects
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
