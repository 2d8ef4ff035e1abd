//! IAM and STS: reading users, groups and policies; making the planned calls.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::types::{AttachedPolicy, EntityType, Tag};

use super::{Aws, AwsError, Caller, IamSnapshot, LockStore, ReadEstate};
use crate::credential_report::CredentialReport;
use crate::live::{
    LiveGroup, LiveOrganization, LivePolicy, LiveStack, LiveStackInstance, LiveStackSet, LiveUser,
    OWNED_PATH, UserDependents,
};
use crate::model::desired::PasswordPolicy;
use crate::model::names::{AccountId, PolicyArn};
use crate::plan::Operation;
use crate::policy::PolicyDocument;

/// The most items an IAM list call may ask for in one page (`MaxItems`,
/// valid range 1-1000 in every IAM list API).
const IAM_MAX_ITEMS: i32 = 1000;

/// The lock object: a managed policy that grants nothing.
pub const LOCK_POLICY_NAME: &str = "jumpgate-apply-lock";
const LOCK_DOCUMENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"JumpgateApplyLockGrantsNothing","Effect":"Deny","Action":"iam:CreateUser","Resource":"arn:aws:iam::*:user/jumpgate-apply-lock"}]}"#;

fn is_code(err: &AwsError, codes: &[&str]) -> bool {
    err.code().is_some_and(|c| codes.contains(&c))
}

/// Takes NoSuchEntity as the wanted outcome of a deletion: the object is no
/// longer there, typically because a retried call took effect the first time.
fn gone_is_done(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(err) if is_code(&err, GONE) => {
            tracing::debug!("{err}: already in the wanted state");
            Ok(())
        }
        other => other,
    }
}

/// An answer, `None` when IAM says there is no such entity.
fn gone_is_none<T>(answer: Result<T, AwsError>) -> Result<Option<T>, AwsError> {
    match answer {
        Ok(out) => Ok(Some(out)),
        Err(err) if is_code(&err, GONE) => Ok(None),
        Err(err) => Err(err),
    }
}

/// The outcome of a request sent outside the bound on requests in flight
/// (its caller holds a permit, or must not wait for one), its error named
/// after `call`.
fn sent<T, E>(
    call: &'static str,
    answer: Result<T, SdkError<E, HttpResponse>>,
) -> Result<(), AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    answer.map(drop).map_err(|e| AwsError::from_sdk(call, e))
}

/// `gone_is_none` of a request sent outside the bound on requests in flight.
fn unless_gone<T, E>(
    call: &'static str,
    answer: Result<T, SdkError<E, HttpResponse>>,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    gone_is_none(answer.map_err(|e| AwsError::from_sdk(call, e)))
}

/// The ARNs of a user's or group's attached managed policies.
fn arns(attached: &[AttachedPolicy]) -> BTreeSet<String> {
    attached
        .iter()
        .filter_map(|p| p.policy_arn().map(str::to_owned))
        .collect()
}

const EXISTS: &[&str] = &["EntityAlreadyExists"];
const GONE: &[&str] = &["NoSuchEntity"];
/// Refusals that a later attempt gets past (IAM API reference, "Common
/// errors" and the errors of each write call): retried, never done twice.
const TRANSIENT: &[&str] = &["ConcurrentModification", "EntityTemporarilyUnmodifiable"];
/// Attempts of a creation that jumpgate resends itself.
const CREATE_ATTEMPTS: u32 = 8;

/// How a creation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Created {
    New,
    /// IAM answered "already exists"; `maybe_ours` when an earlier attempt
    /// of this very call may have made it (its answer was lost).
    Existed {
        maybe_ours: bool,
    },
}

/// An object IAM may show late after its creation.
#[derive(Debug, Clone, Copy)]
enum Object<'a> {
    User(&'a str),
    Group(&'a str),
    Policy(&'a str),
    LoginProfile(&'a str),
}

/// What a read found: the name as IAM spells it and whether jumpgate owns it.
#[derive(Debug)]
struct Seen {
    name: String,
    owned: bool,
}

fn decode(document: Option<&str>) -> PolicyDocument {
    document
        .and_then(|d| PolicyDocument::parse(d).ok())
        .unwrap_or_default()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .expect("key and value are set")
}

/// Sends a request with the SDK's own retries off, for calls whose "already
/// exists" answer must be told apart from the echo of a lost first attempt.
macro_rules! once {
    ($call:literal, $request:expr) => {
        $request
            .customize()
            .config_override(
                aws_sdk_iam::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk($call, e))
    };
}

impl Aws {
    /// Sends a creation, resending it on throttling, transient refusals and
    /// lost answers, and says whether "already exists" may be its own echo.
    async fn create<F, Fut>(&self, send: F) -> Result<Created, AwsError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let mut maybe_ours = false;
        let mut wait = self.first_wait();
        for attempt in 1..=CREATE_ATTEMPTS {
            match send().await {
                Ok(()) => return Ok(Created::New),
                Err(err) if is_code(&err, EXISTS) => return Ok(Created::Existed { maybe_ours }),
                Err(err)
                    if attempt < CREATE_ATTEMPTS
                        && (err.may_have_taken_effect() || is_code(&err, TRANSIENT)) =>
                {
                    tracing::debug!("{err}: sending again");
                    maybe_ours |= err.may_have_taken_effect();
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.propagation / 8);
                }
                Err(err) => return Err(err),
            }
        }
        unreachable!("the last attempt returns")
    }

    fn first_wait(&self) -> Duration {
        self.poll_interval.min(Duration::from_millis(200))
    }

    /// Resends a call that names an object made shortly before, while IAM
    /// answers NoSuchEntity because the object has not reached every
    /// endpoint yet (IAM User Guide, troubleshoot_general.html, eventual
    /// consistency), for as long as IAM takes to propagate a change.
    async fn propagating<F, Fut, T, E>(&self, call: &'static str, send: F) -> Result<(), AwsError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let deadline = Instant::now() + self.propagation;
        let mut wait = self.first_wait();
        loop {
            match sent(call, send().await) {
                Err(err) if is_code(&err, GONE) && Instant::now() < deadline => {
                    tracing::debug!("{err}: waiting for IAM to propagate");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(self.propagation / 8);
                }
                other => return other,
            }
        }
    }

    /// Reads `object` once: `None` when IAM says there is no such entity.
    /// Outside the bound on requests in flight: creations wait for what they
    /// made while holding their permit.
    async fn look(&self, object: Object<'_>) -> Result<Option<Seen>, AwsError> {
        let iam = &self.iam;
        Ok(match object {
            Object::User(name) => {
                let got = unless_gone("GetUser", iam.get_user().user_name(name).send().await)?;
                let owner = |t: &Tag| {
                    t.key() == crate::live::OWNER_TAG_KEY
                        && t.value() == crate::live::OWNER_TAG_VALUE
                };
                got.and_then(|out| out.user).map(|u| Seen {
                    owned: u.tags().iter().any(owner),
                    name: u.user_name,
                })
            }
            Object::Group(name) => {
                let get = iam.get_group().group_name(name).max_items(1).send();
                let got = unless_gone("GetGroup", get.await)?;
                got.and_then(|out| out.group).map(|g| Seen {
                    owned: g.path == OWNED_PATH,
                    name: g.group_name,
                })
            }
            Object::Policy(arn) => {
                let got = unless_gone("GetPolicy", iam.get_policy().policy_arn(arn).send().await)?;
                got.and_then(|out| out.policy).map(|p| Seen {
                    owned: p.path() == Some(OWNED_PATH),
                    name: p.policy_name.unwrap_or_default(),
                })
            }
            Object::LoginProfile(user) => {
                let get = iam.get_login_profile().user_name(user).send();
                unless_gone("GetLoginProfile", get.await)?.map(|_| Seen {
                    name: user.to_owned(),
                    owned: true,
                })
            }
        })
    }

    /// Waits until reads see `object`, as terraform-provider-aws does after
    /// each IAM creation (its 2-minute `propagationTimeout`): a plan made
    /// right after this apply then sees what it made, instead of planning
    /// it again (for a login profile: a second password). `None` when the
    /// wait ran out.
    async fn until_visible(&self, object: Object<'_>) -> Result<Option<Seen>, AwsError> {
        let deadline = Instant::now() + self.propagation;
        let mut wait = self.first_wait();
        loop {
            if let Some(seen) = self.look(object).await? {
                return Ok(Some(seen));
            }
            if Instant::now() >= deadline {
                tracing::warn!(
                    "{object:?} is still not visible after {:?}; IAM may be slow to propagate",
                    self.propagation
                );
                return Ok(None);
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.propagation / 8);
        }
    }

    /// Creates `object` (`send` makes the call) and settles the outcome.
    async fn create_settled<F, Fut>(
        &self,
        call: &'static str,
        object: Object<'_>,
        name: &str,
        send: F,
    ) -> Result<(), AwsError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<(), AwsError>>,
    {
        let created = self.create(send).await?;
        self.settle(call, created, object, name).await
    }

    /// After a creation: done when new or when our own lost attempt made
    /// it; otherwise confirmed by a read, and refused unless what exists is
    /// the very object (same spelling, jumpgate's) that the plan wanted —
    /// as after a plan made from a read that had not seen it yet.
    async fn settle(
        &self,
        call: &'static str,
        created: Created,
        object: Object<'_>,
        name: &str,
    ) -> Result<(), AwsError> {
        let seen = self.until_visible(object).await?;
        if created != (Created::Existed { maybe_ours: false }) {
            return Ok(());
        }
        match seen {
            Some(seen) if seen.name == name && seen.owned => {
                tracing::debug!("{call}: {name} already exists and is jumpgate's");
                Ok(())
            }
            Some(seen) => Err(AwsError::Exists {
                call,
                message: if seen.name == name {
                    format!(
                        "`{name}` already exists and is not jumpgate's (made outside this apply); \
                         plan again to see it, and adopt it explicitly"
                    )
                } else {
                    format!(
                        "`{}` already exists, and IAM names ignore case; plan again to rename it explicitly",
                        seen.name
                    )
                },
            }),
            None => Err(AwsError::Exists {
                call,
                message: format!(
                    "IAM says `{name}` already exists, but it cannot be read; \
                     a managed policy of that name may exist on another path (names are unique in the account regardless of path)"
                ),
            }),
        }
    }

    async fn lock_arn(&self) -> Result<PolicyArn, AwsError> {
        let account = self.account().await?;
        Ok(PolicyArn::customer(
            self.partition(),
            &account,
            OWNED_PATH,
            LOCK_POLICY_NAME,
        ))
    }

    /// The caller's account.
    pub(super) async fn account(&self) -> Result<AccountId, AwsError> {
        super::account_id("GetCallerIdentity", Some(&self.caller().await?.account))
    }

    /// Whether a role of this name exists in the account.
    pub(super) async fn read_role_exists(&self, name: &str) -> Result<bool, AwsError> {
        let _permit = self.permit().await;
        let got = self.iam.get_role().role_name(name).send().await;
        super::error::answered("GetRole", got, "NoSuchEntity")
    }

    /// The account, for a caller that already holds a permit.
    async fn account_unbounded(&self) -> Result<AccountId, AwsError> {
        let out = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetCallerIdentity", e))?;
        super::account_id("GetCallerIdentity", out.account())
    }
}

impl ReadEstate for Aws {
    async fn caller(&self) -> Result<Caller, AwsError> {
        self.caller
            .get_or_try_init(|| async {
                let asked = self.sts.get_caller_identity().send();
                let out = self.request("GetCallerIdentity", asked).await?;
                Ok(Caller {
                    account: out.account().unwrap_or_default().to_owned(),
                    arn: out.arn().unwrap_or_default().to_owned(),
                })
            })
            .await
            .cloned()
    }

    async fn iam_snapshot(&self) -> Result<IamSnapshot, AwsError> {
        let mut snapshot = IamSnapshot::default();
        let mut marker: Option<String> = None;
        // The largest page IAM allows: without MaxItems a page holds at
        // most 100 items (API_GetAccountAuthorizationDetails), so an estate
        // of 5,000 users would take 50 round trips. IAM may answer fewer
        // and say so with a marker, which is followed.
        loop {
            let _permit = self.permit().await;
            let page = self
                .iam
                .get_account_authorization_details()
                .filter(EntityType::User)
                .filter(EntityType::Group)
                .filter(EntityType::LocalManagedPolicy)
                .max_items(IAM_MAX_ITEMS)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetAccountAuthorizationDetails", e))?;
            for user in page.user_detail_list() {
                snapshot.users.push(LiveUser {
                    name: user.user_name().unwrap_or_default().to_owned(),
                    path: user.path().unwrap_or("/").to_owned(),
                    tags: user
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_owned(), t.value().to_owned()))
                        .collect(),
                    groups: user.group_list().iter().cloned().collect(),
                    inline_policies: user
                        .user_policy_list()
                        .iter()
                        .filter_map(|p| p.policy_name().map(str::to_owned))
                        .collect(),
                    attached_policies: arns(user.attached_managed_policies()),
                    created: user.create_date().map(|d| d.secs()),
                    login_profile: None,
                    dependents: None,
                });
            }
            for group in page.group_detail_list() {
                snapshot.groups.push(LiveGroup {
                    name: group.group_name().unwrap_or_default().to_owned(),
                    path: group.path().unwrap_or("/").to_owned(),
                    inline_policies: group
                        .group_policy_list()
                        .iter()
                        .map(|p| {
                            (
                                p.policy_name().unwrap_or_default().to_owned(),
                                decode(p.policy_document()),
                            )
                        })
                        .collect(),
                    attached_policies: arns(group.attached_managed_policies()),
                });
            }
            for policy in page.policies() {
                // Some IAM stand-ins leave PolicyName out here; the ARN ends with it.
                let arn = policy.arn().unwrap_or_default();
                let name = policy
                    .policy_name()
                    .unwrap_or_else(|| arn.rsplit('/').next().unwrap_or_default());
                let path = policy.path().unwrap_or("/");
                // Every customer-managed policy (hand-built estates grant
                // access through them), less the lock, which comes and goes
                // with every apply.
                if name == LOCK_POLICY_NAME {
                    continue;
                }
                let default_version = policy.default_version_id().unwrap_or_default().to_owned();
                let versions = policy.policy_version_list();
                let document = versions
                    .iter()
                    .find(|v| v.is_default_version())
                    .map(|v| decode(v.document()))
                    .unwrap_or_default();
                snapshot.policies.push(LivePolicy {
                    name: name.to_owned(),
                    arn: policy.arn().unwrap_or_default().to_owned(),
                    path: path.to_owned(),
                    default_version,
                    versions: versions
                        .iter()
                        .filter_map(|v| v.version_id().map(str::to_owned))
                        .collect(),
                    document,
                });
            }
            match page.marker() {
                Some(next) if page.is_truncated() => marker = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(snapshot)
    }

    async fn password_policy(&self) -> Result<Option<PasswordPolicy>, AwsError> {
        let get = self.iam.get_account_password_policy().send();
        let got = self.request("GetAccountPasswordPolicy", get).await;
        let Some(p) = gone_is_none(got)?.and_then(|out| out.password_policy) else {
            return Ok(None);
        };
        Ok(Some(PasswordPolicy {
            min_length: p.minimum_password_length().unwrap_or(8).clamp(0, 255) as u8,
            require_symbols: p.require_symbols(),
            require_numbers: p.require_numbers(),
            require_uppercase: p.require_uppercase_characters(),
            require_lowercase: p.require_lowercase_characters(),
            allow_users_to_change: p.allow_users_to_change_password(),
            // Zero means "not set" (some endpoints return it instead of nothing).
            max_age_days: p
                .max_password_age()
                .filter(|d| *d > 0)
                .map(|d| d.clamp(0, u16::MAX.into()) as u16),
            reuse_prevention: p
                .password_reuse_prevention()
                .filter(|d| *d > 0)
                .map(|d| d.clamp(0, 255) as u8),
            hard_expiry: p.hard_expiry().unwrap_or(false),
        }))
    }

    async fn has_login_profile(&self, user: &str) -> Result<bool, AwsError> {
        let _permit = self.permit().await;
        let found = self.iam.get_login_profile().user_name(user).send().await;
        super::error::answered("GetLoginProfile", found, "NoSuchEntity")
    }

    async fn credential_report(&self) -> Result<CredentialReport, AwsError> {
        self.read_credential_report().await
    }

    async fn user_dependents(&self, user: &str) -> Result<UserDependents, AwsError> {
        // The ids of every item of one of the user's paginated lists, within
        // the bound on requests in flight. `Option::from` takes the ids the
        // SDK models as optional (access keys') and the others alike.
        macro_rules! ids {
            ($call:literal, $list:ident, $id:ident) => {{
                let _permit = self.permit().await;
                let pages = self.iam.$list().user_name(user).into_paginator();
                let items: Vec<_> = pages.items().send().collect().await;
                let mut ids = Vec::new();
                for item in items {
                    let item = item.map_err(|e| AwsError::from_sdk($call, e))?;
                    ids.extend(Option::<&str>::from(item.$id()).map(str::to_owned));
                }
                ids
            }};
        }
        let mut dependents = UserDependents {
            access_keys: ids!("ListAccessKeys", list_access_keys, access_key_id),
            signing_certificates: ids!(
                "ListSigningCertificates",
                list_signing_certificates,
                certificate_id
            ),
            ssh_public_keys: ids!("ListSSHPublicKeys", list_ssh_public_keys, ssh_public_key_id),
            mfa_devices: ids!("ListMFADevices", list_mfa_devices, serial_number),
            ..UserDependents::default()
        };
        let iam = &self.iam;
        let _permit = self.permit().await;
        // The SDK has no paginator for this call: follow the markers here.
        let mut marker = None;
        loop {
            match iam
                .list_service_specific_credentials()
                .user_name(user)
                .set_marker(marker.take())
                .send()
                .await
            {
                Ok(out) => {
                    dependents.service_specific_credentials.extend(
                        out.service_specific_credentials()
                            .iter()
                            .map(|c| c.service_specific_credential_id().to_owned()),
                    );
                    match out.marker() {
                        Some(next) if out.is_truncated() => marker = Some(next.to_owned()),
                        _ => break,
                    }
                }
                // Some IAM stand-ins do not implement this call; say so rather
                // than fail the whole offboarding.
                Err(err) => {
                    let err = AwsError::from_sdk("ListServiceSpecificCredentials", err);
                    if err.code().is_some() {
                        return Err(err);
                    }
                    dependents.unreadable.push(err.to_string());
                    break;
                }
            }
        }
        Ok(dependents)
    }

    async fn stack(&self, name: &str) -> Result<Option<LiveStack>, AwsError> {
        self.read_stack(name).await
    }

    async fn stack_set(
        &self,
        name: &str,
    ) -> Result<Option<(LiveStackSet, Vec<LiveStackInstance>)>, AwsError> {
        self.read_stack_set(name).await
    }

    async fn organization(&self) -> Result<Option<LiveOrganization>, AwsError> {
        self.read_organization().await
    }

    async fn execution_role_stack_in(
        &self,
        account: &AccountId,
        access_role: &str,
    ) -> Result<Option<bool>, AwsError> {
        self.has_execution_role_stack(account, access_role).await
    }

    async fn role_exists(&self, name: &str) -> Result<bool, AwsError> {
        self.read_role_exists(name).await
    }

    async fn stack_set_drift(&self, name: &str) -> Result<Vec<String>, AwsError> {
        self.detect_stack_set_drift(name).await
    }
}

fn tags_of(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| tag(k, v)).collect()
}

impl Aws {
    /// Sends one IAM call of a plan.
    pub(super) async fn call_iam(&self, operation: &Operation) -> Result<(), AwsError> {
        use Operation as Op;
        let _permit = self.permit().await;
        let iam = &self.iam;
        macro_rules! send {
            ($call:literal, $request:expr) => {
                sent($call, $request.send().await)
            };
        }
        match operation {
            Op::UpdateAccountPasswordPolicy { policy } => send!(
                "UpdateAccountPasswordPolicy",
                iam.update_account_password_policy()
                    .minimum_password_length(policy.min_length.into())
                    .require_symbols(policy.require_symbols)
                    .require_numbers(policy.require_numbers)
                    .require_uppercase_characters(policy.require_uppercase)
                    .require_lowercase_characters(policy.require_lowercase)
                    .allow_users_to_change_password(policy.allow_users_to_change)
                    .set_max_password_age(policy.max_age_days.map(i32::from))
                    .set_password_reuse_prevention(policy.reuse_prevention.map(i32::from))
                    .hard_expiry(policy.hard_expiry)
            ),
            Op::CreatePolicy {
                name,
                path,
                document,
            } => {
                let account = self.account_unbounded().await?;
                let arn = PolicyArn::customer(self.partition(), &account, path, name);
                self.create_settled(
                    "CreatePolicy",
                    Object::Policy(arn.as_str()),
                    name,
                    || async {
                        once!(
                            "CreatePolicy",
                            iam.create_policy()
                                .policy_name(name)
                                .path(path)
                                .policy_document(document.to_string())
                                .description("jumpgate: users without MFA can only set up MFA")
                        )
                    },
                )
                .await
            }
            Op::CreatePolicyVersion {
                policy_arn,
                document,
                delete_version,
            } => {
                if let Some(version) = delete_version {
                    gone_is_done(send!(
                        "DeletePolicyVersion",
                        iam.delete_policy_version()
                            .policy_arn(policy_arn)
                            .version_id(version)
                    ))?;
                }
                send!(
                    "CreatePolicyVersion",
                    iam.create_policy_version()
                        .policy_arn(policy_arn)
                        .policy_document(document.to_string())
                        .set_as_default(true)
                )
            }
            Op::CreateGroup { group, path } => {
                let group = group.as_str();
                self.create_settled("CreateGroup", Object::Group(group), group, || async {
                    once!(
                        "CreateGroup",
                        iam.create_group().group_name(group).path(path)
                    )
                })
                .await
            }
            Op::UpdateGroupPath { group, path } => {
                let update = iam.update_group().group_name(group.as_str()).new_path(path);
                self.propagating("UpdateGroup", || update.clone().send())
                    .await
            }
            Op::UpdateGroupName {
                group,
                new_group_name,
            } => send!(
                "UpdateGroup",
                iam.update_group()
                    .group_name(group)
                    .new_group_name(new_group_name.as_str())
            ),
            Op::PutGroupPolicy {
                group,
                policy_name,
                document,
            } => {
                let put = iam
                    .put_group_policy()
                    .group_name(group.as_str())
                    .policy_name(policy_name)
                    .policy_document(document.to_string());
                self.propagating("PutGroupPolicy", || put.clone().send())
                    .await
            }
            Op::DeleteGroupPolicy { group, policy_name } => gone_is_done(send!(
                "DeleteGroupPolicy",
                iam.delete_group_policy()
                    .group_name(group)
                    .policy_name(policy_name)
            )),
            Op::AttachGroupPolicy { group, policy_arn } => {
                let attach = iam
                    .attach_group_policy()
                    .group_name(group.as_str())
                    .policy_arn(policy_arn);
                self.propagating("AttachGroupPolicy", || attach.clone().send())
                    .await
            }
            Op::DetachGroupPolicy { group, policy_arn } => gone_is_done(send!(
                "DetachGroupPolicy",
                iam.detach_group_policy()
                    .group_name(group)
                    .policy_arn(policy_arn)
            )),
            Op::DeleteGroup { group } => {
                gone_is_done(send!("DeleteGroup", iam.delete_group().group_name(group)))
            }
            Op::CreateUser { user, tags } => {
                let user = user.as_str();
                self.create_settled("CreateUser", Object::User(user), user, || async {
                    once!(
                        "CreateUser",
                        iam.create_user()
                            .user_name(user)
                            .set_tags(Some(tags_of(tags)))
                    )
                })
                .await
            }
            Op::TagUser { user, tags } => {
                let tag = iam
                    .tag_user()
                    .user_name(user.as_str())
                    .set_tags(Some(tags_of(tags)));
                self.propagating("TagUser", || tag.clone().send()).await
            }
            Op::UpdateUser {
                user,
                new_user_name,
            } => send!(
                "UpdateUser",
                iam.update_user()
                    .user_name(user)
                    .new_user_name(new_user_name.as_str())
            ),
            Op::AddUserToGroup { user, group } => {
                let add = iam
                    .add_user_to_group()
                    .user_name(user.as_str())
                    .group_name(group.as_str());
                self.propagating("AddUserToGroup", || add.clone().send())
                    .await
            }
            Op::RemoveUserFromGroup { user, group } => gone_is_done(send!(
                "RemoveUserFromGroup",
                iam.remove_user_from_group()
                    .user_name(user)
                    .group_name(group)
            )),
            Op::CreateLoginProfile { .. } => Err(AwsError::Unsupported(
                "CreateLoginProfile needs a password: use create_login_profile".into(),
            )),
            Op::DeleteLoginProfile { user } => gone_is_done(send!(
                "DeleteLoginProfile",
                iam.delete_login_profile().user_name(user)
            )),
            Op::DeleteAccessKey {
                user,
                access_key_id,
            } => gone_is_done(send!(
                "DeleteAccessKey",
                iam.delete_access_key()
                    .user_name(user)
                    .access_key_id(access_key_id)
            )),
            Op::DeleteSigningCertificate {
                user,
                certificate_id,
            } => gone_is_done(send!(
                "DeleteSigningCertificate",
                iam.delete_signing_certificate()
                    .user_name(user)
                    .certificate_id(certificate_id)
            )),
            Op::DeleteSshPublicKey {
                user,
                ssh_public_key_id,
            } => gone_is_done(send!(
                "DeleteSSHPublicKey",
                iam.delete_ssh_public_key()
                    .user_name(user)
                    .ssh_public_key_id(ssh_public_key_id)
            )),
            Op::DeleteServiceSpecificCredential {
                user,
                credential_id,
            } => gone_is_done(send!(
                "DeleteServiceSpecificCredential",
                iam.delete_service_specific_credential()
                    .user_name(user)
                    .service_specific_credential_id(credential_id)
            )),
            Op::DeactivateMfaDevice {
                user,
                serial_number,
            } => gone_is_done(send!(
                "DeactivateMFADevice",
                iam.deactivate_mfa_device()
                    .user_name(user)
                    .serial_number(serial_number)
            )),
            Op::DeleteVirtualMfaDevice { serial_number } => gone_is_done(send!(
                "DeleteVirtualMFADevice",
                iam.delete_virtual_mfa_device().serial_number(serial_number)
            )),
            Op::DeleteUserPolicy { user, policy_name } => gone_is_done(send!(
                "DeleteUserPolicy",
                iam.delete_user_policy()
                    .user_name(user)
                    .policy_name(policy_name)
            )),
            Op::DetachUserPolicy { user, policy_arn } => gone_is_done(send!(
                "DetachUserPolicy",
                iam.detach_user_policy()
                    .user_name(user)
                    .policy_arn(policy_arn)
            )),
            Op::DeleteUser { user } => {
                gone_is_done(send!("DeleteUser", iam.delete_user().user_name(user)))
            }
            other => Err(AwsError::not_a_call_of("an IAM", other)),
        }
    }

    /// Creates a login profile with its password: the one call that carries
    /// a secret, so it is not an `Operation`.
    pub(super) async fn create_login_profile_with(
        &self,
        user: &str,
        password: &str,
    ) -> Result<(), AwsError> {
        let _permit = self.permit().await;
        let created = self
            .create(|| async {
                once!(
                    "CreateLoginProfile",
                    self.iam
                        .create_login_profile()
                        .user_name(user)
                        .password(password)
                        .password_reset_required(true)
                )
            })
            .await?;
        match created {
            // Only an earlier attempt of this very request (resent unchanged,
            // password included) may have made it: it holds this password.
            Created::New | Created::Existed { maybe_ours: true } => {
                self.until_visible(Object::LoginProfile(user)).await?;
                Ok(())
            }
            // Someone else's password: never reported as delivered.
            Created::Existed { maybe_ours: false } => Err(AwsError::Exists {
                call: "CreateLoginProfile",
                message: format!(
                    "user `{user}` already has a console password, set outside this apply; \
                     no new password was delivered"
                ),
            }),
        }
    }
}

impl LockStore for Aws {
    async fn create_lock(&self, holder: &str) -> Result<bool, AwsError> {
        let create = self
            .iam
            .create_policy()
            .policy_name(LOCK_POLICY_NAME)
            .path(OWNED_PATH)
            .policy_document(LOCK_DOCUMENT)
            .description(holder);
        let created = match self.request("CreatePolicy", create.send()).await {
            Ok(_) => true,
            Err(err) if is_code(&err, EXISTS) => false,
            Err(err) => return Err(err),
        };
        // Made now, or found made a moment ago (by another apply, or by our
        // own attempt whose answer was lost): IAM's reads may not show it
        // yet, and whatever reads it next (`acquire` telling whose it is,
        // apply's re-check between stages) must not take it for a missing
        // or broken lock. A found lock not seen within IAM's propagation
        // time was released meanwhile.
        let arn = self.lock_arn().await?;
        self.until_visible(Object::Policy(arn.as_str())).await?;
        Ok(created)
    }

    async fn read_lock(&self) -> Result<Option<String>, AwsError> {
        let arn = self.lock_arn().await?;
        let get = self.iam.get_policy().policy_arn(arn.as_str()).send();
        let got = gone_is_none(self.request("GetPolicy", get).await)?;
        Ok(got.map(|out| {
            out.policy()
                .and_then(|p| p.description())
                .unwrap_or("(no holder recorded)")
                .to_owned()
        }))
    }

    async fn delete_lock(&self) -> Result<(), AwsError> {
        let arn = self.lock_arn().await?;
        let delete = self.iam.delete_policy().policy_arn(arn.as_str()).send();
        gone_is_done(self.request("DeletePolicy", delete).await.map(drop))
    }
}
