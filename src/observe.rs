//! Reading the live state the planner needs, with as few calls as stay
//! exact: one paginated GetAccountAuthorizationDetails for users, groups and
//! policies; a login-profile check per user jumpgate owns or is about to; the
//! dependents of users about to be deleted; the stacks and the StackSet.

use futures::{StreamExt, TryStreamExt};

use crate::aws::{AwsError, ReadEstate};
use crate::credential_report::CredentialReport;
use crate::live::{LiveState, LiveUser, Membership, StackStatus};
use crate::model::derive::targets;
use crate::model::desired::DesiredState;
use crate::model::names::AccountId;
use crate::plan::resolve_account_ids;
use crate::templates::{
    ADMIN_ROLE_STACK, ADMINISTRATION_ROLE_NAME, EXECUTION_ROLE_NAME, EXECUTION_ROLE_STACK,
    ROLES_STACK_SET,
};

/// Per-user reads started at once; the AWS layer bounds requests in flight.
const USER_READS_AT_ONCE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(
        "the credentials are for account {actual} ({arn}), but the file declares jump account {expected}; \
         use credentials for the jump account (--profile, AWS_PROFILE)"
    )]
    WrongAccount {
        expected: String,
        actual: String,
        arn: String,
    },
    #[error("the file declares `organization`, but account {account} is in no AWS organization")]
    NoOrganization { account: String },
    #[error(
        "Organizations mode needs the organization's management account ({management}), \
         but the credentials are for {account}; the jump account must be the management account"
    )]
    NotManagementAccount { account: String, management: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// How login profiles are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginReads {
    /// From IAM's credential report, confirmed with GetLoginProfile for
    /// every user the plan acts on and every row that cannot be trusted.
    #[default]
    Report,
    /// GetLoginProfile for every user jumpgate owns or declares.
    Exact,
}

pub async fn observe<A: ReadEstate>(
    aws: &A,
    desired: &DesiredState,
) -> Result<LiveState, ObserveError> {
    observe_with(aws, desired, LoginReads::Report).await
}

pub async fn observe_with<A: ReadEstate>(
    aws: &A,
    desired: &DesiredState,
    logins: LoginReads,
) -> Result<LiveState, ObserveError> {
    let caller = aws.caller().await?;
    if caller.account != desired.jump.id.as_str() {
        return Err(ObserveError::WrongAccount {
            expected: desired.jump.id.to_string(),
            actual: caller.account,
            arn: caller.arn,
        });
    }
    // The report is built while the rest is read: on AWS it may take seconds.
    let (live, report) = tokio::join!(
        read_jump_account(aws, &desired.jump.id),
        aws.credential_report()
    );
    let mut live = live?;
    read_foreign_stack_set_roles(aws, &mut live).await?;
    if let Some(organization) = &desired.organization {
        let org = aws
            .organization()
            .await?
            .ok_or_else(|| ObserveError::NoOrganization {
                account: desired.jump.id.to_string(),
            })?;
        if org.management_account != desired.jump.id {
            return Err(ObserveError::NotManagementAccount {
                account: desired.jump.id.to_string(),
                management: org.management_account.to_string(),
            });
        }
        live.organization = Some(org);
        read_execution_roles(aws, desired, &mut live, organization.access_role.as_str()).await?;
    }
    // A set, not a scan of the declared users per live user (quadratic);
    // lower case, as IAM compares names ("IAM identifiers").
    let declared_names: std::collections::HashSet<String> = desired
        .users
        .keys()
        .map(|u| u.as_str().to_lowercase())
        .collect();
    let declared = |name: &str| declared_names.contains(&name.to_lowercase());
    let profile_reads = users_where(&live, |u| u.is_owned() || declared(&u.name));
    let confirm = logins_from_report(desired, &mut live, report, profile_reads, logins);
    // Also the devices of console-less administrators: whether they can
    // meet the roles' MFA condition decides whether a plan locks out.
    let mfa_matters = crate::plan::users_whose_mfa_devices_matter(desired);
    let leaving = users_where(&live, |u| {
        (u.is_owned() && !declared(&u.name)) || mfa_matters.contains(&u.name)
    });
    read_users(aws, &mut live, confirm, leaving).await?;
    Ok(live)
}

/// Reads whether each of `profiles` has a console password, then the
/// credentials and devices of each of `dependents`.
async fn read_users<A: ReadEstate>(
    aws: &A,
    live: &mut LiveState,
    profiles: Vec<String>,
    dependents: Vec<String>,
) -> Result<(), AwsError> {
    let has_profile = async |name: &str| aws.has_login_profile(name).await;
    read_each_user(live, profiles, has_profile, |user, has| {
        user.login_profile = Some(has)
    })
    .await?;
    let dependents_of = async |name: &str| aws.user_dependents(name).await;
    read_each_user(live, dependents, dependents_of, |user, found| {
        user.dependents = Some(found)
    })
    .await
}

/// The names of the live users `which` picks.
fn users_where(live: &LiveState, which: impl Fn(&LiveUser) -> bool) -> Vec<String> {
    let picked = live.users.values().filter(|u| which(u));
    picked.map(|u| u.name.clone()).collect()
}

/// Reads something of each of `users`, a few at once, and sets it on the
/// live user.
async fn read_each_user<T>(
    live: &mut LiveState,
    users: Vec<String>,
    read: impl AsyncFn(&str) -> Result<T, AwsError>,
    set: impl Fn(&mut LiveUser, T),
) -> Result<(), AwsError> {
    let read = &read;
    let found: Vec<(String, T)> = futures::stream::iter(users)
        .map(|name| async move {
            let value = read(&name).await?;
            Ok::<_, AwsError>((name, value))
        })
        .buffer_unordered(USER_READS_AT_ONCE)
        .try_collect()
        .await?;
    for (name, value) in found {
        if let Some(user) = live.users.get_mut(&name) {
            set(user, value);
        }
    }
    Ok(())
}

/// Everything in the jump account, with no desired state to scope the reads:
/// what `import` starts from. Unlike `observe`, it reads the login profile of
/// every user, owned or not, and the credentials of those it does not own;
/// the organization's accounts when the caller may list them (their
/// names), else none.
pub async fn observe_all<A: ReadEstate>(aws: &A) -> Result<LiveState, ObserveError> {
    let caller = aws.caller().await?;
    let account = AccountId::new(&caller.account).map_err(|e| {
        AwsError::Unsupported(format!("GetCallerIdentity returned no account id: {e}"))
    })?;
    let (live, organization) = tokio::join!(read_jump_account(aws, &account), aws.organization());
    let mut live = live?;
    live.organization = match organization {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(
                "cannot read the organization ({err}); accounts get names from their ids"
            );
            None
        }
    };
    let everyone: Vec<String> = live.users.keys().cloned().collect();
    // Access keys mark a user as outside the pattern (not adopted by default).
    let unowned = users_where(&live, |u| !u.is_owned());
    read_users(aws, &mut live, everyone, unowned).await?;
    Ok(live)
}

/// Users, groups, the customer-managed policies, the password policy, the role stacks
/// and the StackSet of the jump account `account`.
async fn read_jump_account<A: ReadEstate>(
    aws: &A,
    account: &AccountId,
) -> Result<LiveState, AwsError> {
    let (snapshot, password_policy, admin_stack, execution_stack, stack_set) = tokio::try_join!(
        aws.iam_snapshot(),
        aws.password_policy(),
        aws.stack(ADMIN_ROLE_STACK),
        aws.stack(EXECUTION_ROLE_STACK),
        aws.stack_set(ROLES_STACK_SET),
    )?;
    let mut live = LiveState {
        caller_account: Some(account.clone()),
        password_policy,
        ..LiveState::default()
    };
    live.stacks.extend(
        [admin_stack, execution_stack]
            .into_iter()
            .flatten()
            .map(|s| (s.name.clone(), s)),
    );
    if let Some((set, instances)) = stack_set {
        live.stack_set = Some(set);
        live.stack_instances = instances;
    }
    live.groups = snapshot
        .groups
        .into_iter()
        .map(|g| (g.name.clone(), g))
        .collect();
    live.policies = snapshot
        .policies
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    live.users = snapshot
        .users
        .into_iter()
        .map(|u| (u.name.clone(), u))
        .collect();
    Ok(live)
}

/// Whether each of `users` has a console password, from the credential
/// report where a row is trusted; returns the users GetLoginProfile must
/// read: the rest and every user the plan would act on, so that no change
/// rests on a report up to four hours old. Without a report (no permission
/// for it), every user.
fn logins_from_report(
    desired: &DesiredState,
    live: &mut LiveState,
    report: Result<CredentialReport, AwsError>,
    users: Vec<String>,
    logins: LoginReads,
) -> Vec<String> {
    let report = match report {
        Ok(report) => Some(report),
        Err(err) => {
            tracing::warn!(
                "cannot read IAM's credential report ({err}); reading each user's login profile instead"
            );
            None
        }
    };
    let confirm = match (&report, logins) {
        (Some(report), LoginReads::Report) => {
            let mut confirm = std::collections::BTreeSet::new();
            for name in users {
                let Some(user) = live.users.get_mut(&name) else {
                    continue;
                };
                match report.trusted_row(&name, user.created) {
                    Some(row) => user.login_profile = Some(row.password_enabled),
                    None => {
                        confirm.insert(name);
                    }
                }
            }
            let plan = crate::plan::build(desired, live);
            let acted_on = plan.changes.iter().filter_map(crate::plan::user_of);
            let acted_on: Vec<String> = acted_on
                .filter(|name| {
                    live.users
                        .get(*name)
                        .is_some_and(|u| u.login_profile.is_some())
                })
                .map(str::to_owned)
                .collect();
            confirm.extend(acted_on);
            confirm.into_iter().collect()
        }
        _ => users,
    };
    live.credential_report = report;
    confirm
}

/// Notes the StackSet roles that exist without jumpgate's stack, so the
/// plan uses them instead of a stack that would fail on the name.
async fn read_foreign_stack_set_roles<A: ReadEstate>(
    aws: &A,
    live: &mut LiveState,
) -> Result<(), AwsError> {
    for (stack, role) in [
        (ADMIN_ROLE_STACK, ADMINISTRATION_ROLE_NAME),
        (EXECUTION_ROLE_STACK, EXECUTION_ROLE_NAME),
    ] {
        let deployed = live
            .stacks
            .get(stack)
            .is_some_and(|s| s.status != StackStatus::RollbackComplete);
        if !deployed && aws.role_exists(role).await? {
            live.foreign_stack_set_roles.insert(role.to_owned());
        }
    }
    Ok(())
}

/// Looks, through the access role, for the execution role in the member
/// accounts that have no working stack instance yet (where it matters).
async fn read_execution_roles<A: ReadEstate>(
    aws: &A,
    desired: &DesiredState,
    live: &mut LiveState,
    access_role: &str,
) -> Result<(), AwsError> {
    let resolved = resolve_account_ids(desired, live);
    let region = desired.jump.region.as_str();
    // Only active members have the access role; the others need
    // `jumpgate bootstrap`.
    let member = |id: &AccountId| {
        live.organization
            .as_ref()
            .is_some_and(|org| org.membership(id) == Membership::Active)
    };
    let unchecked: Vec<AccountId> = targets(&resolved)
        .into_iter()
        .filter(|t| t.id != desired.jump.id && member(&t.id))
        .filter(|t| {
            !live
                .stack_instances
                .iter()
                .any(|i| i.is_current_in(&t.id, region))
        })
        .map(|t| t.id)
        .collect();
    let found: Vec<(AccountId, Option<bool>)> = futures::stream::iter(unchecked)
        .map(|account| async move {
            let present = aws.execution_role_stack_in(&account, access_role).await?;
            Ok::<_, AwsError>((account, present))
        })
        .buffer_unordered(USER_READS_AT_ONCE)
        .try_collect()
        .await?;
    for (account, present) in found {
        if let Some(present) = present {
            live.execution_role_stacks.insert(account, present);
        } else {
            live.unreachable_accounts.insert(account);
        }
    }
    Ok(())
}
