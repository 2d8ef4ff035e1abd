//! CloudFormation: the role stacks in the jump account and the `iam-roles`
//! StackSet, with waits for their operations.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::config::retry::RetryConfig;
use aws_sdk_cloudformation::types::{
    Capability, Parameter, PermissionModels, StackInstanceFilter, StackInstanceFilterName,
    StackSetOperationPreferences, StackSetOperationStatus, Tag,
};
use serde_json::Value;

use super::{Aws, AwsError};
use crate::live::{LiveStack, LiveStackInstance, LiveStackSet, OWNER_TAG_KEY, OWNER_TAG_VALUE};
use crate::plan::Operation;
use crate::templates::{ADMINISTRATION_ROLE_NAME, EXECUTION_ROLE_NAME};

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
        let described = {
            let _permit = self.permit().await;
            self.cfn.describe_stacks().stack_name(name).send().await
        };
        let out = match described {
            Ok(out) => out,
            Err(err) => {
                let err = AwsError::from_sdk("DescribeStacks", err);
                return if is_missing(&err) { Ok(None) } else { Err(err) };
            }
        };
        let Some(stack) = out.stacks().first() else {
            return Ok(None);
        };
        let status = stack
            .stack_status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if status == "DELETE_COMPLETE" {
            return Ok(None);
        }
        let template = {
            let _permit = self.permit().await;
            self.cfn
                .get_template()
                .stack_name(name)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("GetTemplate", e))?
        };
        Ok(Some(LiveStack {
            name: name.to_owned(),
            status,
            template: parse_template(template.template_body()),
            parameters: stack
                .parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap_or_default().to_owned(),
                        p.parameter_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        }))
    }

    pub(super) async fn read_stack_set(
        &self,
        name: &str,
    ) -> Result<Option<(LiveStackSet, Vec<LiveStackInstance>)>, AwsError> {
        let described = {
            let _permit = self.permit().await;
            self.cfn
                .describe_stack_set()
                .stack_set_name(name)
                .send()
                .await
        };
        let out = match described {
            Ok(out) => out,
            Err(err) => {
                let err = AwsError::from_sdk("DescribeStackSet", err);
                return if is_missing(&err) { Ok(None) } else { Err(err) };
            }
        };
        let Some(set) = out.stack_set() else {
            return Ok(None);
        };
        let status = set
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_default();
        if status == "DELETED" {
            return Ok(None);
        }
        let live_set = LiveStackSet {
            name: name.to_owned(),
            status,
            template: parse_template(set.template_body()),
            parameters: set
                .parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap_or_default().to_owned(),
                        p.parameter_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        };
        let mut instances = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let _permit = self.permit().await;
            let page = self
                .cfn
                .list_stack_instances()
                .stack_set_name(name)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListStackInstances", e))?;
            // StackId is left out: the emulator invents a new one per call.
            instances.extend(page.summaries().iter().map(|s| {
                LiveStackInstance {
                    account: s.account().unwrap_or_default().to_owned(),
                    region: s.region().unwrap_or_default().to_owned(),
                    status: s
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    status_reason: s.status_reason().map(str::to_owned),
                }
            }));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        instances.sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
        Ok(Some((live_set, instances)))
    }

    pub(super) async fn detect_stack_set_drift(&self, name: &str) -> Result<Vec<String>, AwsError> {
        let request = self
            .cfn
            .detect_stack_set_drift()
            .stack_set_name(name)
            .operation_preferences(fast_preferences())
            .send();
        self.run_stack_set_operation(name, async {
            let out = request
                .await
                .map_err(|e| AwsError::from_sdk("DetectStackSetDrift", e))?;
            Ok(out.operation_id().map(str::to_owned))
        })
        .await?;
        let mut drifted = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let _permit = self.permit().await;
            let page = self
                .cfn
                .list_stack_instances()
                .stack_set_name(name)
                .filters(
                    StackInstanceFilter::builder()
                        .name(StackInstanceFilterName::DriftStatus)
                        .values("DRIFTED")
                        .build(),
                )
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListStackInstances", e))?;
            drifted.extend(
                page.summaries()
                    .iter()
                    .filter(|s| s.drift_status().is_some_and(|d| d.as_str() == "DRIFTED"))
                    .filter_map(|s| s.account().map(str::to_owned)),
            );
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        drifted.sort();
        drifted.dedup();
        Ok(drifted)
    }

    pub(super) async fn call_cloudformation(&self, operation: &Operation) -> Result<(), AwsError> {
        let cfn = &self.cfn;
        let jump = self.caller_account_for_roles().await?;
        let administration_role = format!("arn:aws:iam::{jump}:role/{ADMINISTRATION_ROLE_NAME}");
        match operation {
            Operation::CreateStack {
                stack,
                template,
                parameters,
            } => {
                let created = {
                    let _permit = self.permit().await;
                    cfn.create_stack()
                        .stack_name(stack)
                        .template_body(template.to_string())
                        .set_parameters(Some(parameters_of(parameters)))
                        .capabilities(Capability::CapabilityNamedIam)
                        .tags(owner_tag())
                        .send()
                        .await
                };
                if let Err(err) = created {
                    let err = AwsError::from_sdk("CreateStack", err);
                    if err.code() != Some("AlreadyExistsException") {
                        return Err(err);
                    }
                }
                self.wait_for_stack(stack).await
            }
            Operation::DeleteStack { stack } => {
                {
                    let _permit = self.permit().await;
                    cfn.delete_stack()
                        .stack_name(stack)
                        .send()
                        .await
                        .map_err(|e| AwsError::from_sdk("DeleteStack", e))?;
                }
                self.wait_for_stack_deletion(stack).await
            }
            Operation::UpdateStack {
                stack,
                template,
                parameters,
            } => {
                let updated = {
                    let _permit = self.permit().await;
                    cfn.update_stack()
                        .stack_name(stack)
                        .template_body(template.to_string())
                        .set_parameters(Some(parameters_of(parameters)))
                        .capabilities(Capability::CapabilityNamedIam)
                        .send()
                        .await
                };
                if let Err(err) = updated {
                    let err = AwsError::from_sdk("UpdateStack", err);
                    // A retried update that already took effect.
                    let no_op = matches!(&err, AwsError::Service { message, .. } if message.contains("No updates are to be performed"));
                    if !no_op {
                        return Err(err);
                    }
                }
                self.wait_for_stack(stack).await
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
                    let created = {
                        let _permit = self.permit().await;
                        cfn.create_stack_set()
                            .stack_set_name(stack_set)
                            .template_body(template.to_string())
                            .set_parameters(Some(parameters_of(parameters)))
                            .capabilities(Capability::CapabilityNamedIam)
                            .permission_model(PermissionModels::SelfManaged)
                            .administration_role_arn(&administration_role)
                            .execution_role_name(EXECUTION_ROLE_NAME)
                            .tags(owner_tag())
                            .customize()
                            .config_override(
                                aws_sdk_cloudformation::config::Builder::default()
                                    .retry_config(RetryConfig::disabled()),
                            )
                            .send()
                            .await
                    };
                    let err = match created {
                        Ok(_) => return Ok(()),
                        Err(err) => AwsError::from_sdk("CreateStackSet", err),
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
                let request = cfn
                    .update_stack_set()
                    .stack_set_name(stack_set)
                    .template_body(template.to_string())
                    .set_parameters(Some(parameters_of(parameters)))
                    .capabilities(Capability::CapabilityNamedIam)
                    .administration_role_arn(&administration_role)
                    .execution_role_name(EXECUTION_ROLE_NAME)
                    .operation_preferences(fast_preferences())
                    .send();
                self.run_stack_set_operation(stack_set, async {
                    let out = request
                        .await
                        .map_err(|e| AwsError::from_sdk("UpdateStackSet", e))?;
                    Ok(out.operation_id().map(str::to_owned))
                })
                .await
            }
            Operation::CreateStackInstances {
                stack_set,
                accounts,
                regions,
            } => {
                let request = cfn
                    .create_stack_instances()
                    .stack_set_name(stack_set)
                    .set_accounts(Some(accounts.clone()))
                    .set_regions(Some(regions.clone()))
                    .operation_preferences(fast_preferences())
                    .send();
                self.run_stack_set_operation(stack_set, async {
                    let out = request
                        .await
                        .map_err(|e| AwsError::from_sdk("CreateStackInstances", e))?;
                    Ok(out.operation_id().map(str::to_owned))
                })
                .await
            }
            Operation::DeleteStackInstances {
                stack_set,
                accounts,
                regions,
            } => {
                let request = cfn
                    .delete_stack_instances()
                    .stack_set_name(stack_set)
                    .set_accounts(Some(accounts.clone()))
                    .set_regions(Some(regions.clone()))
                    .retain_stacks(false)
                    .operation_preferences(fast_preferences())
                    .send();
                self.run_stack_set_operation(stack_set, async {
                    let out = request
                        .await
                        .map_err(|e| AwsError::from_sdk("DeleteStackInstances", e))?;
                    Ok(out.operation_id().map(str::to_owned))
                })
                .await
            }
            other => Err(AwsError::Unsupported(format!(
                "{} is not a CloudFormation call",
                other.name()
            ))),
        }
    }

    /// Sends a request that starts a StackSet operation (within the bound on
    /// requests in flight) and waits for the operation to end.
    async fn run_stack_set_operation(
        &self,
        stack_set: &str,
        start: impl std::future::Future<Output = Result<Option<String>, AwsError>>,
    ) -> Result<(), AwsError> {
        let operation_id = {
            let _permit = self.permit().await;
            start.await?
        };
        self.wait_for_stack_set_operation(stack_set, operation_id)
            .await
    }

    async fn caller_account_for_roles(&self) -> Result<String, AwsError> {
        use super::ReadEstate;
        Ok(self.caller().await?.account)
    }

    /// Polls until the stack is gone (DeleteStack is asynchronous).
    async fn wait_for_stack_deletion(&self, name: &str) -> Result<(), AwsError> {
        loop {
            match self.read_stack(name).await? {
                None => return Ok(()),
                Some(stack) if stack.status == "DELETE_FAILED" => {
                    return Err(AwsError::Operation {
                        what: format!("deleting stack {name}"),
                        status: stack.status,
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
            let status = {
                let _permit = self.permit().await;
                let out = self
                    .cfn
                    .describe_stacks()
                    .stack_name(name)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeStacks", e))?;
                let stack = out.stacks().first().cloned();
                stack.map(|s| {
                    (
                        s.stack_status()
                            .map(|s| s.as_str().to_owned())
                            .unwrap_or_default(),
                        s.stack_status_reason().map(str::to_owned),
                    )
                })
            };
            let Some((status, reason)) = status else {
                return Err(AwsError::Operation {
                    what: format!("stack {name}"),
                    status: "MISSING".into(),
                    reason: "the stack disappeared while waiting for it".into(),
                });
            };
            if status.ends_with("_IN_PROGRESS") {
                tokio::time::sleep(self.poll_interval).await;
                continue;
            }
            if status == "CREATE_COMPLETE" || status == "UPDATE_COMPLETE" {
                return Ok(());
            }
            return Err(AwsError::Operation {
                what: format!("stack {name}"),
                status,
                reason: reason.unwrap_or_else(|| "see the stack's events".into()),
            });
        }
    }

    /// Polls a StackSet operation to its end; when it fails, names each
    /// account whose instance failed and why.
    async fn wait_for_stack_set_operation(
        &self,
        stack_set: &str,
        operation_id: Option<String>,
    ) -> Result<(), AwsError> {
        let Some(operation_id) = operation_id else {
            return Ok(());
        };
        loop {
            let status = {
                let _permit = self.permit().await;
                self.cfn
                    .describe_stack_set_operation()
                    .stack_set_name(stack_set)
                    .operation_id(&operation_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeStackSetOperation", e))?
                    .stack_set_operation()
                    .and_then(|o| o.status().cloned())
            };
            match status {
                Some(StackSetOperationStatus::Succeeded) => return Ok(()),
                Some(StackSetOperationStatus::Running)
                | Some(StackSetOperationStatus::Queued)
                | Some(StackSetOperationStatus::Stopping) => {
                    tokio::time::sleep(self.poll_interval).await;
                }
                other => {
                    let status = other.map_or("UNKNOWN".to_owned(), |s| s.as_str().to_owned());
                    return Err(AwsError::Operation {
                        what: format!("StackSet {stack_set} operation {operation_id}"),
                        status,
                        reason: self.failed_instances(stack_set, &operation_id).await,
                    });
                }
            }
        }
    }

    async fn failed_instances(&self, stack_set: &str, operation_id: &str) -> String {
        let _permit = self.permit().await;
        let results = self
            .cfn
            .list_stack_set_operation_results()
            .stack_set_name(stack_set)
            .operation_id(operation_id)
            .send()
            .await;
        match results {
            Ok(out) => {
                let failed: Vec<String> = out
                    .summaries()
                    .iter()
                    .filter(|s| s.status().is_some_and(|st| st.as_str() != "SUCCEEDED"))
                    .map(|s| {
                        format!(
                            "account {} in {}: {}",
                            s.account().unwrap_or("?"),
                            s.region().unwrap_or("?"),
                            s.status_reason().unwrap_or("no reason given")
                        )
                    })
                    .collect();
                if failed.is_empty() {
                    "no instance reported a failure".into()
                } else {
                    failed.join("; ")
                }
            }
            Err(err) => AwsError::from_sdk("ListStackSetOperationResults", err).to_string(),
        }
    }
}

/// Deploy to every account at once: the roles are independent per account.
fn fast_preferences() -> StackSetOperationPreferences {
    StackSetOperationPreferences::builder()
        .max_concurrent_percentage(100)
        .failure_tolerance_percentage(100)
        .build()
}
