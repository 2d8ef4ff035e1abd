//! AWS Organizations: the organization's accounts, creating accounts, and
//! reaching member accounts through the organization's access role.

use aws_sdk_organizations::types::CreateAccountState;

use super::{Aws, AwsError};
use crate::live::{AccountStatus, LiveOrganization, OrgAccount};
use crate::model::names::{AccountId, RoleArn};
use crate::plan::Operation;
use crate::templates::{EXECUTION_ROLE_NAME, EXECUTION_ROLE_STACK};

/// How long account creation may take before jumpgate gives up waiting
/// (AWS usually needs a few minutes).
const CREATE_ACCOUNT_POLLS: u32 = 720;

/// How long a new account may stay unreachable: ten minutes at AWS's poll
/// interval.
const REACHABLE_POLLS: u32 = 120;

/// The role CreateAccount makes in the new account when no RoleName is
/// given (API_CreateAccount), which is how jumpgate calls it.
const CREATED_ACCESS_ROLE: &str = "OrganizationAccountAccessRole";

impl Aws {
    /// The organization the caller's account belongs to, with its accounts;
    /// `None` when the account is in no organization.
    pub(super) async fn read_organization(&self) -> Result<Option<LiveOrganization>, AwsError> {
        let described = {
            let _permit = self.permit().await;
            self.org.describe_organization().send().await
        };
        let organization = match described {
            Ok(out) => out.organization().cloned(),
            Err(err) => {
                let err = AwsError::from_sdk("DescribeOrganization", err);
                return if err.code() == Some("AWSOrganizationsNotInUseException") {
                    Ok(None)
                } else {
                    Err(err)
                };
            }
        };
        let Some(organization) = organization else {
            return Ok(None);
        };
        let listed = all_pages!("ListAccounts", self, self.org.list_accounts(), accounts)?;
        let mut accounts = listed
            .iter()
            .map(|account| {
                Ok(OrgAccount {
                    id: super::account_id("ListAccounts", account.id())?,
                    name: account.name().unwrap_or_default().to_owned(),
                    email: account.email().unwrap_or_default().to_owned(),
                    status: AccountStatus::from(account.status().map_or("", |s| s.as_str())),
                })
            })
            .collect::<Result<Vec<_>, AwsError>>()?;
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some(LiveOrganization {
            management_account: super::account_id(
                "DescribeOrganization",
                organization.master_account_id(),
            )?,
            accounts,
        }))
    }

    /// Sends one Organizations operation of a plan.
    pub(super) async fn call_organizations(&self, operation: &Operation) -> Result<(), AwsError> {
        match operation {
            Operation::CreateAccount { name, email } => {
                let id = self.create_account(name, email).await?;
                tracing::info!(account = %name, %id, "account created");
                Ok(())
            }
            // The execution-role stack, deployed in the member account
            // through the organization's access role there.
            Operation::BootstrapAccount {
                account,
                access_role,
                template,
                parameters,
            } => {
                let member = self.in_account(account, access_role).await;
                let create = Operation::CreateStack {
                    stack: EXECUTION_ROLE_STACK.to_owned(),
                    template: template.clone(),
                    parameters: parameters.clone(),
                };
                member.call_cloudformation(&create).await
            }
            other => Err(AwsError::not_a_call_of("an Organizations", other)),
        }
    }

    /// Creates an account and waits until it exists; returns its id.
    async fn create_account(&self, name: &str, email: &str) -> Result<AccountId, AwsError> {
        let request_id = {
            let _permit = self.permit().await;
            self.org
                .create_account()
                .account_name(name)
                .email(email)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("CreateAccount", e))?
                .create_account_status()
                .and_then(|s| s.id().map(str::to_owned))
                .ok_or_else(|| AwsError::Operation {
                    what: format!("CreateAccount of {name}"),
                    status: "UNKNOWN".into(),
                    reason: "AWS returned no request id".into(),
                })?
        };
        for _ in 0..CREATE_ACCOUNT_POLLS {
            let status = {
                let _permit = self.permit().await;
                self.org
                    .describe_create_account_status()
                    .create_account_request_id(&request_id)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("DescribeCreateAccountStatus", e))?
                    .create_account_status()
                    .cloned()
            };
            let Some(status) = status else { break };
            match status.state() {
                Some(CreateAccountState::Succeeded) => {
                    let id = status
                        .account_id()
                        .and_then(|id| AccountId::new(id).ok())
                        .ok_or_else(|| AwsError::Operation {
                            what: format!("CreateAccount of {name}"),
                            status: "SUCCEEDED".into(),
                            reason: "AWS returned no account id".into(),
                        })?;
                    self.wait_until_reachable(name, &id).await?;
                    return Ok(id);
                }
                Some(CreateAccountState::Failed) => {
                    let reason = status
                        .failure_reason()
                        .map_or("no reason given".to_owned(), |r| r.as_str().to_owned());
                    return Err(AwsError::Operation {
                        what: format!("CreateAccount of {name} <{email}>"),
                        status: "FAILED".into(),
                        reason: explain_failure(&reason),
                    });
                }
                _ => tokio::time::sleep(self.poll_interval).await,
            }
        }
        Err(AwsError::Operation {
            what: format!("CreateAccount of {name} <{email}> (request {request_id})"),
            status: "IN_PROGRESS".into(),
            reason:
                "still running after jumpgate stopped waiting; the next plan sees it once it exists"
                    .into(),
        })
    }

    /// Whether the StackSet execution-role stack exists in `account`, seen
    /// through the organization's access role there; `None` when AWS denies
    /// assuming that role. An account invited into the organization (not
    /// created by it) has no access role unless its owner made one
    /// (orgs_manage_accounts_access).
    pub(super) async fn has_execution_role_stack(
        &self,
        account: &AccountId,
        access_role: &str,
    ) -> Result<Option<bool>, AwsError> {
        if !self.can_assume(account, access_role).await? {
            return Ok(None);
        }
        let member = self.in_account(account, access_role).await;
        // A role made outside jumpgate (AWS's sample template uses the same
        // name) is used as it is: a stack would fail on the name.
        Ok(Some(
            member.read_stack(EXECUTION_ROLE_STACK).await?.is_some()
                || member.read_role_exists(EXECUTION_ROLE_NAME).await?,
        ))
    }

    /// Whether AWS lets these credentials assume `role` in `account`.
    async fn can_assume(&self, account: &AccountId, role: &str) -> Result<bool, AwsError> {
        let _permit = self.permit().await;
        let assumed = self
            .sts
            .assume_role()
            .role_arn(RoleArn::new(self.partition(), account, role).to_string())
            .role_session_name("jumpgate-reach")
            .send()
            .await;
        super::error::answered("AssumeRole", assumed, "AccessDenied")
    }

    /// Waits until a new account's access role can be assumed: AWS creates
    /// the account before it can be reached ("You might need to wait a few
    /// minutes before you can successfully access the account",
    /// API_CreateAccount).
    async fn wait_until_reachable(&self, name: &str, account: &AccountId) -> Result<(), AwsError> {
        for _ in 0..REACHABLE_POLLS {
            if self.can_assume(account, CREATED_ACCESS_ROLE).await? {
                return Ok(());
            }
            tokio::time::sleep(self.poll_interval).await;
        }
        Err(AwsError::Operation {
            what: format!("new account {name} ({account})"),
            status: "UNREACHABLE".into(),
            reason: format!(
                "{CREATED_ACCESS_ROLE} there still cannot be assumed; apply again in a few minutes"
            ),
        })
    }
}

/// Turns Organizations' failure codes into advice.
fn explain_failure(code: &str) -> String {
    let advice = match code {
        "EMAIL_ALREADY_EXISTS" => {
            "the e-mail address already belongs to an AWS account; use another (a +alias works)"
        }
        "ACCOUNT_LIMIT_EXCEEDED" => "the organization has reached its account quota",
        "INVALID_EMAIL" => "AWS rejected the e-mail address",
        "CONCURRENT_ACCOUNT_MODIFICATION" => {
            "another change to the organization was running; apply again"
        }
        _ => "see the Organizations console for details",
    };
    format!("{code}: {advice}")
}
