//! CloudFormation: the role stacks in the jump account and the `iam-roles`
//! StackSet, with waits for their operations.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{
    Capability, Parameter, PermissionModels, StackInstanceFilter, StackInstanceFilterName,
    StackSetOperationPreferences, StackSetOperationStatus, Tag,
};
use serde_json::Value;

use super::{Aws, AwsError, InstanceFailure};
use crate::live::{
    LiveStack, LiveStackInstance, LiveStackSet, OWNER_TAG_KEY, OWNER_TAG_VALUE,
    StackInstanceStatus, StackSetStatus, StackStatus,
};
use crate::model::names::RoleArn;
use crate::plan::Operation;
use crate::templates::{ADMINISTRATION_ROLE_NAME, EXECUTION_ROLE_NAME};

/// Runs a StackSet operation: `$request` is the call with its own
/// parameters; every operation takes the same preferences and answers an
/// operation id. `$call` is the API name errors carry.
macro_rules! stack_set_operation {
    ($call:literal, $aws:ident, $stack_set:ident, $request:expr) => {
        $aws.run_stack_set_operation($stack_set, || async {
            $request
                .operation_preferences(operation_preferences())
                .send()
                .await
                .map(|out| out.operation_id().map(str::to_owned))
                .map_err(|e| AwsError::from_sdk($call, e))
        })
        .await
    };
}

/// Runs one of the three stack-instance operations, which take the same
/// parameters.
macro_rules! instance_operation {
    ($call:literal, $aws:ident, $request:expr, $stack_set:ident, $accounts:ident, $regions:ident) => {
        stack_set_operation!(
            $call,
            $aws,
            $stack_set,
            $request
                .stack_set_name($stack_set)
                .set_accounts(Some($accounts.iter().map(ToString::to_string).collect()))
                .set_regions(Some($regions.clone()))
        )
    };
}

/// Sets the template, its parameters and the capability every role template
/// needs on a stack or StackSet request: four request types with the same
/// three setters and no trait in common, hence a macro.
macro_rules! with_template {
    ($request:expr, $template:expr, $parameters:expr) => {
        $request
            .template_body($template.to_string())
            .set_parameters(Some(parameters_of($parameters)))
            .capabilities(Capability::CapabilityNamedIam)
    };
}

fn parameters_of(parameters: &BTreeMap<String, String>) -> Vec<Parameter> {
    parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect()
}

/// The parameters a stack or StackSet was given, as `parameters_of` took them.
fn parameters_read(parameters: &[Parameter]) -> BTreeMap<String, String> {
    parameters
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap_or_default().to_owned(),
                p.parameter_value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn owner_tag() -> Tag {
    Tag::builder()
        .key(OWNER_TAG_KEY)
        .value(OWNER_TAG_VALUE)
        .build()
}

/// JSON or YAML (hand-built StackSets and stacks are often YAML).
fn parse_template(body: Option<&str>) -> Value {
    body.and_then(crate::cfn_template::parse)
        .unwrap_or(Value::Null)
}

/// CloudFormation says "does not exist" with a generic ValidationError.
fn is_missing(err: &AwsError) -> bool {
    matches!(err, AwsError::Service { code, message, .. }
        if code == "StackSetNotFoundException" || (code == "ValidationError" && message.contains("does not exist")))
}

impl Aws {
    pub(super) async fn read_stack(&self, name: &str) -> Result<Option<LiveStack>, AwsError> {
        let described = self.cfn.describe_stacks().stack_name(name).send();
        let out = match self.request("DescribeStacks", described).await {
            Ok(out) => out,
            Err(err) => return if is_missing(&err) { Ok(None) } else { Err(err) },
        };
        let Some(stack) = out.stacks().first() else {
            return Ok(None);
        };
        let status = StackStatus::from(stack.stack_status().map_or("", |s| s.as_str()));
        if status == StackStatus::DeleteComplete {
            return Ok(None);
        }
        let template = self.cfn.get_template().stack_name(name).send();
        let template = self.request("GetTemplate", template).await?;
        Ok(Some(LiveStack {
            name: name.to_owned(),
            status,
            template: parse_template(template.template_body()),
            parameters: parameters_read(stack.parameters()),
        }))
    }

    pub(super) async fn read_stack_set(
        &self,
        name: &str,
    ) -> Result<Option<(LiveStackSet, Vec<LiveStackInstance>)>, AwsError> {
        let described = self.cfn.describe_stack_set().stack_set_name(name).send();
        let out = match self.request("DescribeStackSet", described).await {
            Ok(out) => out,
            Err(err) => return if is_missing(&err) { Ok(None) } else { Err(err) },
        };
        let Some(set) = out.stack_set() else {
            return Ok(None);
        };
        let status = StackSetStatus::from(set.status().map_or("", |s| s.as_str()));
        if status == StackSetStatus::Deleted {
            return Ok(None);
        }
        let live_set = LiveStackSet {
            name: name.to_owned(),
            status,
            template: parse_template(set.template_body()),
            parameters: parameters_read(set.parameters()),
        };
        let summaries = all_pages!(
            "ListStackInstances",
            self,
            self.cfn.list_stack_instances().stack_set_name(name),
            summaries
        )?;
        // StackId is left out: the emulator invents a new one per call.
        let mut instances = summaries
            .iter()
            .map(|summary| {
                Ok(LiveStackInstance {
                    account: super::account_id("ListStackInstances", summary.account())?,
                    region: summary.region().unwrap_or_default().to_owned(),
                    status: StackInstanceStatus::from(summary.status().map_or("", |s| s.as_str())),
                    status_reason: summary.status_reason().map(str::to_owned),
                })
            })
            .collect::<Result<Vec<_>, AwsError>>()?;
        instances.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        Ok(Some((live_set, instances)))
    }

    pub(super) async fn detect_stack_set_drift(&self, name: &str) -> Result<Vec<String>, AwsError> {
        stack_set_operation!(
            "DetectStackSetDrift",
            self,
            name,
            self.cfn.detect_stack_set_drift().stack_set_name(name)
        )?;
        let summaries = all_pages!(
            "ListStackInstances",
            self,
            self.cfn
                .list_stack_instances()
                .stack_set_name(name)
                .filters(
                    StackInstanceFilter::builder()
                        .name(StackInstanceFilterName::DriftStatus)
                        .values("DRIFTED")
                        .build(),
                ),
            summaries
        )?;
        let mut drifted: Vec<String> = summaries
            .iter()
            .filter(|s| s.drift_status().is_some_and(|d| d.as_str() == "DRIFTED"))
            .filter_map(|s| s.account().map(str::to_owned))
            .collect();
        drifted.sort();
        drifted.dedup();
        Ok(drifted)
    }

    pub(super) async fn call_cloudformation(&self, operation: &Operation) -> Result<(), AwsError> {
        let cfn = &self.cfn;
        let jump = self.account().await?;
        let administration_role =
            RoleArn::new(self.partition(), &jump, ADMINISTRATION_ROLE_NAME).to_string();
        match operation {
            Operation::CreateStack {
                stack,
                template,
                parameters,
            } => {
                let create =
                    with_template!(cfn.create_stack().stack_name(stack), template, parameters)
                        .tags(owner_tag());
                let exists = |err: &AwsError| err.code() == Some("AlreadyExistsException");
                self.write_stack(stack, "CreateStack", create.send(), exists)
                    .await
            }
            Operation::DeleteStack { stack } => {
                let delete = cfn.delete_stack().stack_name(stack).send();
                self.request("DeleteStack", delete).await?;
                self.wait_for_stack_deletion(stack).await
            }
            Operation::UpdateStack {
                stack,
                template,
                parameters,
            } => {
                let update =
                    with_template!(cfn.update_stack().stack_name(stack), template, parameters);
                // A retried update that already took effect.
                let no_op = |err: &AwsError| matches!(err, AwsError::Service { message, .. } if message.contains("No updates are to be performed"));
                self.write_stack(stack, "UpdateStack", update.send(), no_op)
                    .await
            }
            Operation::CreateStackSet {
                stack_set,
                template,
                parameters,
            } => {
                // AWS deduplicates a resent CreateStackSet (the SDK's
                // ClientRequestToken, unique names); stand-ins such as moto
                // do neither and keep a second StackSet of the same name. So
                // the SDK does not resend this call: before each resend we
                // look whether an earlier attempt took effect.
                const ATTEMPTS: u32 = 8;
                for attempt in 1..=ATTEMPTS {
                    let create = with_template!(
                        cfn.create_stack_set().stack_set_name(stack_set),
                        template,
                        parameters
                    )
                    .permission_model(PermissionModels::SelfManaged)
                    .administration_role_arn(&administration_role)
                    .execution_role_name(EXECUTION_ROLE_NAME)
                    .tags(owner_tag())
                    .customize()
                    .config_override(
                        aws_sdk_cloudformation::config::Builder::default()
                            .retry_config(RetryConfig::disabled()),
                    );
                    let Err(err) = self.request("CreateStackSet", create.send()).await else {
                        return Ok(());
                    };
                    if err.code() == Some("NameAlreadyExistsException") {
                        return Ok(());
                    }
                    if !err.may_have_taken_effect() || attempt == ATTEMPTS {
                        return Err(err);
                    }
                    tracing::debug!("{err}: looking whether it took effect before resending");
                    tokio::time::sleep(self.poll_interval * attempt).await;
                    if self.read_stack_set(stack_set).await?.is_some() {
                        return Ok(());
                    }
                }
                unreachable!("the last attempt returns")
            }
            Operation::UpdateStackSet {
                stack_set,
                template,
                parameters,
            } => {
                stack_set_operation!(
                    "UpdateStackSet",
                    self,
                    stack_set,
                    with_template!(
                        cfn.update_stack_set().stack_set_name(stack_set),
                        template,
                        parameters
                    )
                    .administration_role_arn(&administration_role)
                    .execution_role_name(EXECUTION_ROLE_NAME)
                )
            }
            Operation::CreateStackInstances {
                stack_set,
                accounts,
                regions,
            } => {
                instance_operation!(
                    "CreateStackInstances",
                    self,
                    cfn.create_stack_instances(),
                    stack_set,
                    accounts,
                    regions
                )
            }
            Operation::UpdateStackInstances {
                stack_set,
                accounts,
                regions,
            } => {
                instance_operation!(
                    "UpdateStackInstances",
                    self,
                    cfn.update_stack_instances(),
                    stack_set,
                    accounts,
                    regions
                )
            }
            Operation::DeleteStackInstances {
                stack_set,
                accounts,
                regions,
            } => {
                instance_operation!(
                    "DeleteStackInstances",
                    self,
                    cfn.delete_stack_instances().retain_stacks(false),
                    stack_set,
                    accounts,
                    regions
                )
            }
            other => Err(AwsError::not_a_call_of("a CloudFormation", other)),
        }
    }

    /// Starts a StackSet operation (within the bound on requests in flight)
    /// and waits for it to end. A StackSet runs one operation at a time:
    /// when another one is running (an interrupted apply's, or a console
    /// user's), AWS answers OperationInProgressException, so jumpgate waits
    /// for that one to end, saying so, and starts again.
    async fn run_stack_set_operation<F, Fut>(
        &self,
        stack_set: &str,
        start: F,
    ) -> Result<(), AwsError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<String>, AwsError>>,
    {
        const STARTS: u32 = 10;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = {
                let _permit = self.permit().await;
                start().await
            };
            match started {
                Ok(operation_id) => {
                    return self
                        .wait_for_stack_set_operation(stack_set, operation_id)
                        .await;
                }
                Err(err)
                    if err.code() == Some("OperationInProgressException") && attempt < STARTS =>
                {
                    self.wait_for_running_operations(stack_set).await?;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Waits for every operation of the StackSet still running; their
    /// outcome is for the next plan to see in the instances' status.
    async fn wait_for_running_operations(&self, stack_set: &str) -> Result<(), AwsError> {
        let operations = all_pages!(
            "ListStackSetOperations",
            self,
            self.cfn
                .list_stack_set_operations()
                .stack_set_name(stack_set),
            summaries
        )?;
        let running = operations
            .iter()
            .filter(|o| o.status().is_some_and(is_pending))
            .filter_map(|o| o.operation_id());
        for operation_id in running {
            tracing::warn!(
                "another operation on StackSet {stack_set} is running ({operation_id}); waiting for it to end"
            );
            self.poll_stack_set_operation(stack_set, operation_id)
                .await?;
        }
        Ok(())
    }

    /// Sends a stack's creation or update, then waits for the stack to
    /// settle. An error `done` accepts says the stack already is as asked
    /// (a resent call that met its own first attempt).
    async fn write_stack<T, E>(
        &self,
        stack: &str,
        call: &'static str,
        sent: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        done: impl Fn(&AwsError) -> bool,
    ) -> Result<(), AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match self.request(call, sent).await {
            Err(err) if !done(&err) => Err(err),
            _ => self.wait_for_stack(stack).await,
        }
    }

    /// Polls until the stack is gone (DeleteStack is asynchronous).
    async fn wait_for_stack_deletion(&self, name: &str) -> Result<(), AwsError> {
        loop {
            match self.read_stack(name).await? {
                None => return Ok(()),
                Some(stack) if stack.status == StackStatus::DeleteFailed => {
                    return Err(AwsError::Operation {
                        what: format!("deleting stack {name}"),
                        status: stack.status.to_string(),
                        reason: "see the stack's events".into(),
                    });
                }
                Some(_) => tokio::time::sleep(self.poll_interval).await,
            }
        }
    }

    /// Polls until the stack settles; a failure or rollback is an error
    /// naming the first failed resource.
    async fn wait_for_stack(&self, name: &str) -> Result<(), AwsError> {
        loop {
            let described = self.cfn.describe_stacks().stack_name(name).send();
            let out = self.request("DescribeStacks", described).await?;
            let status = out.stacks().first().map(|s| {
                (
                    StackStatus::from(s.stack_status().map_or("", |s| s.as_str())),
                    s.stack_status_reason().map(str::to_owned),
                )
            });
            let Some((status, reason)) = status else {
                return Err(AwsError::Operation {
                    what: format!("stack {name}"),
                    status: "MISSING".into(),
                    reason: "the stack disappeared while waiting for it".into(),
                });
            };
            if status.is_in_progress() {
                tokio::time::sleep(self.poll_interval).await;
                continue;
            }
            if status.is_settled() {
                return Ok(());
            }
            return Err(AwsError::Operation {
                what: format!("stack {name}"),
                status: status.to_string(),
                reason: reason.unwrap_or_else(|| "see the stack's events".into()),
            });
        }
    }

    /// Waits for a StackSet operation to end, then names every account
    /// whose instance did not succeed. AWS reports an operation SUCCEEDED
    /// when its failures stay within the failure tolerance, so the status
    /// alone is not enough: `StatusDetails.FailedStackInstancesCount` and
    /// the per-account results say what failed (API_StackSetOperation,
    /// API_ListStackSetOperationResults).
    async fn wait_for_stack_set_operation(
        &self,
        stack_set: &str,
        operation_id: Option<String>,
    ) -> Result<(), AwsError> {
        let Some(operation_id) = operation_id else {
            return Ok(());
        };
        let (status, failed_count) = self
            .poll_stack_set_operation(stack_set, &operation_id)
            .await?;
        if status == StackSetOperationStatus::Succeeded && failed_count == 0 {
            return Ok(());
        }
        let failures = self.failed_instances(stack_set, &operation_id).await?;
        if failures.is_empty() {
            if status == StackSetOperationStatus::Succeeded {
                return Ok(());
            }
            return Err(AwsError::Operation {
                what: format!("StackSet {stack_set} operation {operation_id}"),
                status: status.as_str().to_owned(),
                reason: "no stack instance reported a failure; see the StackSet's operations"
                    .into(),
            });
        }
        Err(AwsError::StackInstancesFailed {
            stack_set: stack_set.to_owned(),
            operation_id,
            status: status.as_str().to_owned(),
            failures,
        })
    }

    /// Polls a StackSet operation until it ends; returns its status and
    /// failed-instance count. Right after the start, AWS may not know the
    /// operation yet (OperationNotFoundException): that counts as pending.
    /// Bounded like terraform-provider-aws's StackSet waits (polls every
    /// few seconds, 30 minutes at most).
    async fn poll_stack_set_operation(
        &self,
        stack_set: &str,
        operation_id: &str,
    ) -> Result<(StackSetOperationStatus, i32), AwsError> {
        for _ in 0..STACK_SET_OPERATION_POLLS {
            let described = self
                .cfn
                .describe_stack_set_operation()
                .stack_set_name(stack_set)
                .operation_id(operation_id)
                .send();
            let operation = match self.request("DescribeStackSetOperation", described).await {
                Ok(out) => out.stack_set_operation().cloned(),
                Err(err) if err.code() == Some("OperationNotFoundException") => None,
                Err(err) => return Err(err),
            };
            match operation.as_ref().and_then(|o| o.status()) {
                Some(status) if !is_pending(status) => {
                    let failed = operation
                        .as_ref()
                        .and_then(|o| o.status_details())
                        .and_then(|d| d.failed_stack_instances_count())
                        .unwrap_or(0);
                    return Ok((status.clone(), failed));
                }
                _ => tokio::time::sleep(self.poll_interval).await,
            }
        }
        Err(AwsError::Operation {
            what: format!("StackSet {stack_set} operation {operation_id}"),
            status: "RUNNING".into(),
            reason: "still running when jumpgate stopped waiting; the next apply waits for it"
                .into(),
        })
    }

    /// Every account and Region where the operation did not succeed, from
    /// all pages of ListStackSetOperationResults.
    async fn failed_instances(
        &self,
        stack_set: &str,
        operation_id: &str,
    ) -> Result<Vec<InstanceFailure>, AwsError> {
        let results = all_pages!(
            "ListStackSetOperationResults",
            self,
            self.cfn
                .list_stack_set_operation_results()
                .stack_set_name(stack_set)
                .operation_id(operation_id),
            summaries
        )?;
        let failures = results
            .iter()
            .filter(|s| s.status().is_some_and(|st| st.as_str() != "SUCCEEDED"))
            .map(|s| InstanceFailure {
                account: s.account().unwrap_or("?").to_owned(),
                region: s.region().unwrap_or("?").to_owned(),
                status: s.status().map_or("?", |st| st.as_str()).to_owned(),
                reason: s.status_reason().unwrap_or("no reason given").to_owned(),
            })
            .collect();
        Ok(failures)
    }
}

/// At most 30 minutes at AWS's poll interval (terraform-provider-aws waits
/// as long for a stack set instance by default).
const STACK_SET_OPERATION_POLLS: u32 = 360;

fn is_pending(status: &StackSetOperationStatus) -> bool {
    matches!(
        status,
        StackSetOperationStatus::Running
            | StackSetOperationStatus::Queued
            | StackSetOperationStatus::Stopping
    )
}

/// Every account at once, and every failure tolerated: the roles of one
/// account depend on nothing in another, so an account whose execution role
/// is missing must not keep the roles from the others (with AWS's default
/// tolerance of 0 the first failure cancels the rest). Tolerating failures
/// hides nothing: `wait_for_stack_set_operation` reads the failed-instance
/// count and the per-account results whatever the overall status, and apply
/// names each failed account. (API_StackSetOperationPreferences.)
fn operation_preferences() -> StackSetOperationPreferences {
    StackSetOperationPreferences::builder()
        .max_concurrent_percentage(100)
        .failure_tolerance_percentage(100)
        .build()
}
