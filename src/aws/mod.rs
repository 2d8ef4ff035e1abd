//! The only module that talks to AWS. Everything else sees the narrow traits
//! below. Retries with backoff (the SDK's standard mode, which knows
//! throttling and transient errors), pagination, the bound on concurrent
//! requests and the waits for CloudFormation operations all live here.

/// Every page of a list call that takes a `NextToken` (`Aws::all_pages`):
/// `$request` is the call with all but the token, `$items` the answer's list
/// and `$call` the API name errors carry. Before the modules, which use it.
macro_rules! all_pages {
    ($call:literal, $aws:ident, $request:expr, $items:ident) => {
        $aws.all_pages(|token| async move {
            let page = $request
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| $crate::aws::AwsError::from_sdk($call, e))?;
            Ok((page.$items().to_vec(), page.next_token().map(str::to_owned)))
        })
        .await
    };
}

mod cfn;
mod error;
mod iam;
mod org;
mod report;

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region as SdkRegion};
use aws_sdk_iam::config::SharedCredentialsProvider;
use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::config::interceptors::InterceptorContext;
use aws_sdk_iam::config::retry::{ClassifyRetry, RetryAction, RetryPartition, TokenBucket};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::Semaphore;

pub use error::{AwsError, InstanceFailure};

use crate::credential_report::CredentialReport;
use crate::live::{
    LiveGroup, LiveOrganization, LivePolicy, LiveStack, LiveStackInstance, LiveStackSet, LiveUser,
    UserDependents,
};
use crate::model::desired::PasswordPolicy;
use crate::model::names::{AccountId, Partition, RoleArn};
use crate::plan::Operation;

/// Where and as whom to connect; unset fields follow the SDK's standard
/// configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, …).
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// Who the credentials belong to.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account: String,
    pub arn: String,
}

/// Users, groups and customer-managed policies, from GetAccountAuthorizationDetails.
#[derive(Debug, Clone, Default)]
pub struct IamSnapshot {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
    pub policies: Vec<LivePolicy>,
}

/// Reading the live estate.
#[allow(async_fn_in_trait)]
pub trait ReadEstate {
    async fn caller(&self) -> Result<Caller, AwsError>;
    async fn iam_snapshot(&self) -> Result<IamSnapshot, AwsError>;
    async fn password_policy(&self) -> Result<Option<PasswordPolicy>, AwsError>;
    async fn has_login_profile(&self, user: &str) -> Result<bool, AwsError>;
    /// IAM's credential report (generated first when none is recent).
    async fn credential_report(&self) -> Result<CredentialReport, AwsError>;
    async fn user_dependents(&self, user: &str) -> Result<UserDependents, AwsError>;
    async fn stack(&self, name: &str) -> Result<Option<LiveStack>, AwsError>;
    async fn stack_set(
        &self,
        name: &str,
    ) -> Result<Option<(LiveStackSet, Vec<LiveStackInstance>)>, AwsError>;
    /// The caller's organization and its accounts; `None` outside one.
    async fn organization(&self) -> Result<Option<LiveOrganization>, AwsError>;
    /// Whether a member account has the StackSet execution-role stack,
    /// looked at through the organization's access role; `None` when that
    /// role cannot be assumed (an invited account has none).
    async fn execution_role_stack_in(
        &self,
        account: &AccountId,
        access_role: &str,
    ) -> Result<Option<bool>, AwsError>;
    /// Whether a role of this name exists in the caller's account.
    async fn role_exists(&self, name: &str) -> Result<bool, AwsError>;
    /// Runs CloudFormation's drift detection on the StackSet and returns the
    /// accounts whose stack instances drifted.
    async fn stack_set_drift(&self, name: &str) -> Result<Vec<String>, AwsError>;
}

/// Changing the live estate, one planned call at a time. Calls are
/// idempotent in effect: "already exists" for a creation and "no such
/// entity" for a removal count as done, since a retried call may have taken
/// effect the first time.
#[allow(async_fn_in_trait)]
pub trait ChangeEstate {
    async fn call(&self, operation: &Operation) -> Result<(), AwsError>;
    /// The one call that carries a secret, so it is not an `Operation`.
    async fn create_login_profile(&self, user: &str, password: &str) -> Result<(), AwsError>;
}

/// The AWS service an `Operation` is sent to; each has its adapter
/// (`iam.rs`, `cfn.rs`, `org.rs`), which handles its own operations only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Iam,
    CloudFormation,
    Organizations,
}

impl Service {
    fn of(operation: &Operation) -> Service {
        use Operation as Op;
        match operation {
            Op::CreateAccount { .. } | Op::BootstrapAccount { .. } => Service::Organizations,
            Op::CreateStack { .. }
            | Op::DeleteStack { .. }
            | Op::UpdateStack { .. }
            | Op::CreateStackSet { .. }
            | Op::UpdateStackSet { .. }
            | Op::CreateStackInstances { .. }
            | Op::UpdateStackInstances { .. }
            | Op::DeleteStackInstances { .. } => Service::CloudFormation,
            Op::UpdateAccountPasswordPolicy { .. }
            | Op::CreatePolicy { .. }
            | Op::CreatePolicyVersion { .. }
            | Op::CreateGroup { .. }
            | Op::UpdateGroupPath { .. }
            | Op::UpdateGroupName { .. }
            | Op::PutGroupPolicy { .. }
            | Op::DeleteGroupPolicy { .. }
            | Op::AttachGroupPolicy { .. }
            | Op::DetachGroupPolicy { .. }
            | Op::DeleteGroup { .. }
            | Op::CreateUser { .. }
            | Op::TagUser { .. }
            | Op::UpdateUser { .. }
            | Op::AddUserToGroup { .. }
            | Op::RemoveUserFromGroup { .. }
            | Op::CreateLoginProfile { .. }
            | Op::DeleteLoginProfile { .. }
            | Op::DeleteAccessKey { .. }
            | Op::DeleteSigningCertificate { .. }
            | Op::DeleteSshPublicKey { .. }
            | Op::DeleteServiceSpecificCredential { .. }
            | Op::DeactivateMfaDevice { .. }
            | Op::DeleteVirtualMfaDevice { .. }
            | Op::DeleteUserPolicy { .. }
            | Op::DetachUserPolicy { .. }
            | Op::DeleteUser { .. } => Service::Iam,
        }
    }
}

impl ChangeEstate for Aws {
    async fn call(&self, operation: &Operation) -> Result<(), AwsError> {
        tracing::debug!(call = %operation.name(), "sending");
        match Service::of(operation) {
            Service::Iam => self.call_iam(operation).await,
            Service::CloudFormation => self.call_cloudformation(operation).await,
            Service::Organizations => self.call_organizations(operation).await,
        }
    }

    async fn create_login_profile(&self, user: &str, password: &str) -> Result<(), AwsError> {
        self.create_login_profile_with(user, password).await
    }
}

/// The apply lock: an IAM object whose creation fails when it exists.
#[allow(async_fn_in_trait)]
pub trait LockStore {
    /// Creates the lock with `holder` as its description; `Ok(false)` when
    /// it is already held.
    async fn create_lock(&self, holder: &str) -> Result<bool, AwsError>;
    /// The holder's description, when the lock is held.
    async fn read_lock(&self) -> Result<Option<String>, AwsError>;
    async fn delete_lock(&self) -> Result<(), AwsError>;
}

/// Clients for the jump account, sharing one bound on requests in flight.
pub struct Aws {
    iam: aws_sdk_iam::Client,
    cfn: aws_sdk_cloudformation::Client,
    sts: aws_sdk_sts::Client,
    org: aws_sdk_organizations::Client,
    in_flight: Semaphore,
    concurrency: usize,
    /// How often CloudFormation and Organizations operations are polled.
    poll_interval: Duration,
    /// How long IAM may take to show a change everywhere (eventual
    /// consistency): the bound of the waits after IAM creations.
    propagation: Duration,
    /// Kept to derive clients for other accounts.
    config: SdkConfig,
    /// Where CloudFormation is called: the file's home region, whatever
    /// the environment names, so that a run from anywhere finds the one
    /// StackSet and the one set of role stacks.
    cfn_region: Option<SdkRegion>,
    /// Who the credentials belong to, asked once: the lock's checks between
    /// stages would otherwise ask STS again before each stage.
    caller: tokio::sync::OnceCell<Caller>,
}

impl Aws {
    /// Connects with the SDK's configuration chain; `fallback_region` (the
    /// jump account's home region) applies when nothing else names one.
    pub async fn connect(connection: &Connection, fallback_region: &str) -> Aws {
        Aws::connect_with(connection, Some(fallback_region)).await
    }

    /// Connects in the region the configuration names (`--region`,
    /// `AWS_REGION`, the profile); `None` when it names none.
    pub async fn connect_in_configured_region(connection: &Connection) -> Option<Aws> {
        let aws = Aws::connect_with(connection, None).await;
        aws.region().is_some().then_some(aws)
    }

    /// The region the clients call.
    pub fn region(&self) -> Option<&str> {
        self.config.region().map(|r| r.as_ref())
    }

    async fn connect_with(connection: &Connection, fallback_region: Option<&str>) -> Aws {
        // Backoff is for a loaded service far away. On loopback (a local
        // emulator, or a fault-injecting proxy before it) a throttled or
        // failed request is worth resending at once: with AWS's waits, the
        // fault-injection suite's 300+ changes at 25% failures took minutes.
        let (first_wait, longest_wait) = if is_loopback(connection) {
            (Duration::from_millis(10), Duration::from_millis(500))
        } else {
            (Duration::from_millis(200), Duration::from_secs(20))
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // Names jumpgate in the User-Agent (`app/jumpgate`), as AWS
            // recommends for applications.
            .app_name(aws_config::AppName::new("jumpgate").expect("a valid app name"))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(8)
                    .with_initial_backoff(first_wait)
                    .with_max_backoff(longest_wait),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(profile) = &connection.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &connection.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let explicit_region = connection.region.clone().map(SdkRegion::new);
        let region = aws_config::meta::region::RegionProviderChain::first_try(explicit_region)
            .or_default_provider()
            .or_else(fallback_region.map(|r| SdkRegion::new(r.to_owned())));
        let config = loader.region(region).load().await;
        let cfn_region = fallback_region.map(|r| SdkRegion::new(r.to_owned()));
        if let (Some(home), Some(configured)) = (&cfn_region, config.region())
            && home != configured
        {
            tracing::warn!(
                "the configuration names region {configured}; CloudFormation is called in the file's region {home} (where the StackSet and role stacks live)"
            );
        }
        let local =
            connection.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        // An emulator finishes operations at once; AWS takes minutes.
        let poll_interval = if local {
            Duration::from_millis(50)
        } else {
            Duration::from_secs(5)
        };
        Aws::with_config(
            config,
            cfn_region,
            connection.concurrency.max(1),
            poll_interval,
        )
    }

    /// Clients from an SDK configuration already loaded (tests that drive
    /// the library against an emulator build one); CloudFormation goes to
    /// `cfn_region` when given.
    pub fn with_config(
        config: SdkConfig,
        cfn_region: Option<SdkRegion>,
        concurrency: usize,
        poll_interval: Duration,
    ) -> Aws {
        let mut cfn_config = aws_sdk_cloudformation::config::Builder::from(&config);
        if let Some(region) = &cfn_region {
            cfn_config = cfn_config.region(region.clone());
        }
        Aws {
            iam: aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&config)
                    .retry_classifier(UnimplementedOperation)
                    .retry_classifier(TransientIamRefusal)
                    .retry_partition(retry_partition())
                    .build(),
            ),
            cfn: aws_sdk_cloudformation::Client::from_conf(
                cfn_config
                    .retry_classifier(UnimplementedOperation)
                    .retry_partition(retry_partition())
                    .build(),
            ),
            sts: aws_sdk_sts::Client::from_conf(
                aws_sdk_sts::config::Builder::from(&config)
                    .retry_classifier(UnimplementedOperation)
                    .retry_partition(retry_partition())
                    .build(),
            ),
            org: aws_sdk_organizations::Client::from_conf(
                aws_sdk_organizations::config::Builder::from(&config)
                    .retry_classifier(UnimplementedOperation)
                    .retry_partition(retry_partition())
                    .build(),
            ),
            in_flight: Semaphore::new(concurrency),
            concurrency,
            poll_interval,
            caller: tokio::sync::OnceCell::new(),
            // terraform-provider-aws waits up to 2 minutes for IAM
            // (internal/service/iam, propagationTimeout); an emulator, polled
            // fast, shows changes within a second.
            propagation: if poll_interval < Duration::from_secs(1) {
                Duration::from_secs(10)
            } else {
                Duration::from_secs(120)
            },
            config,
            cfn_region,
        }
    }

    /// The partition of the region the clients call, which the ARNs they
    /// build must name.
    fn partition(&self) -> Partition {
        Partition::of(self.region().unwrap_or_default())
    }

    /// Clients acting in another account through `role` there (assumed with
    /// these credentials), sharing the endpoint and settings.
    pub async fn in_account(&self, account: &AccountId, role: &str) -> Aws {
        let arn = RoleArn::new(self.partition(), account, role);
        let provider = aws_config::sts::AssumeRoleProvider::builder(arn.to_string())
            .session_name("jumpgate")
            .configure(&self.config)
            .build()
            .await;
        let config = self
            .config
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
        Aws::with_config(
            config,
            self.cfn_region.clone(),
            self.concurrency,
            self.poll_interval,
        )
    }

    async fn permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.in_flight
            .acquire()
            .await
            .expect("the semaphore is never closed")
    }

    /// Sends one request (`sent`, a request's `send()`) within the bound on
    /// requests in flight; its error names `call`.
    async fn request<T, E>(
        &self,
        call: &'static str,
        sent: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let _permit = self.permit().await;
        sent.await.map_err(|e| AwsError::from_sdk(call, e))
    }

    /// Every item of a paginated list call, following `NextToken` by hand
    /// (CloudFormation's and Organizations' list calls used here have no
    /// item paginator). `page` sends the call with the token given and
    /// returns its items and the next token; each page holds a permit.
    async fn all_pages<T, F, Fut>(&self, mut page: F) -> Result<Vec<T>, AwsError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>), AwsError>>,
    {
        let mut items = Vec::new();
        let mut token = None;
        loop {
            let (found, next) = {
                let _permit = self.permit().await;
                page(token.take()).await?
            };
            items.extend(found);
            match next {
                Some(next) => token = Some(next),
                None => return Ok(items),
            }
        }
    }
}

/// An account id AWS returned, checked: every other module holds
/// `AccountId`s, so an answer without a valid one stops here.
fn account_id(call: &'static str, text: Option<&str>) -> Result<AccountId, AwsError> {
    let text = text.unwrap_or_default();
    AccountId::new(text)
        .map_err(|e| AwsError::Unsupported(format!("{call} returned an invalid account id: {e}")))
}

/// A retry partition without the SDK's retry quota. The standard strategy
/// keeps one retry permit per client, not per request: when requests of one
/// client retry concurrently, each new permit replaces (and so forgets) the
/// one another request held, and the quota drains for good. Measured: with
/// 16 changes in flight and each first answer lost, an apply ran out of
/// retries after some fifty. The bound on requests in flight and the cap of
/// 8 attempts already keep a failing AWS from being flooded.
fn retry_partition() -> RetryPartition {
    RetryPartition::custom("jumpgate")
        .token_bucket(TokenBucket::unlimited())
        .build()
}

/// Whether the endpoint (`--endpoint-url` or `AWS_ENDPOINT_URL`) is on
/// this machine.
fn is_loopback(connection: &Connection) -> bool {
    let endpoint = connection
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    let Some(endpoint) = endpoint else {
        return false;
    };
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint.as_str(), |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `action` for an answer `matches`; no opinion (the SDK's own classifiers
/// decide) on any other answer, or when no answer came.
fn when_answered(
    ctx: &InterceptorContext,
    matches: impl FnOnce(&HttpResponse) -> bool,
    action: RetryAction,
) -> RetryAction {
    match ctx.response() {
        Some(response) if matches(response) => action,
        _ => RetryAction::NoActionIndicated,
    }
}

/// Stops retries of an HTTP 500 or 501 answered with an HTML page instead of
/// an AWS error: that is how a stand-in (such as a local emulator) says it
/// does not implement the call. Retrying cannot help, and with the standard
/// backoff it would take the better part of a minute per call. AWS itself
/// answers its 5xx with a modelled error, which still retries as before.
#[derive(Debug)]
struct UnimplementedOperation;

impl ClassifyRetry for UnimplementedOperation {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let unimplemented = |response: &HttpResponse| {
            let html = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.trim_start().starts_with("text/html"));
            matches!(response.status().as_u16(), 500 | 501) && html
        };
        when_answered(ctx, unimplemented, RetryAction::RetryForbidden)
    }

    fn name(&self) -> &'static str {
        "jumpgate: operation not implemented by the endpoint"
    }
}

/// Retries IAM's refusals that a later attempt gets past, which the SDK's
/// standard classifier does not know: `ConcurrentModification` ("multiple
/// requests to change this object were submitted simultaneously") and
/// `EntityTemporarilyUnmodifiable` (IAM API reference, the errors of the
/// write calls). Read from the body: IAM speaks the query protocol, whose
/// errors carry `<Code>…</Code>`.
#[derive(Debug)]
struct TransientIamRefusal;

impl ClassifyRetry for TransientIamRefusal {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let transient = |response: &HttpResponse| {
            let body = response.body().bytes().unwrap_or_default();
            let codes = [
                &b"<Code>ConcurrentModification</Code>"[..],
                b"<Code>EntityTemporarilyUnmodifiable</Code>",
            ];
            !response.status().is_success()
                && codes
                    .iter()
                    .any(|code| body.windows(code.len()).any(|w| w == *code))
        };
        when_answered(ctx, transient, RetryAction::transient_error())
    }

    fn name(&self) -> &'static str {
        "jumpgate: IAM's transient refusals"
    }
}
