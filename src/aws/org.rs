//! AWS Organizations: the organization's accounts, creating accounts, and
//! reaching member accounts through the organization's access role.

use aws_sdk_organizations::types::CreateAccountState;

use super::{Aws, AwsError};
use crate::live::{LiveOrganization, OrgAccount};
use crate::templates::EXECUTION_ROLE_STACK;

/// How long account creation may take before jumpgate gives up waiting
/// (AWS usually needs a few minutes).
const CREATE_ACCOUNT_POLLS: u32 = 720;

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
        let mut accounts = Vec::new();
        let mut token: Option<String> = None;
        // ListAccounts has no item paginator: follow the tokens by hand.
        loop {
            let _permit = self.permit().await;
            let page = self
                .org
                .list_accounts()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListAccounts", e))?;
            accounts.extend(page.accounts().iter().map(|a| {
                OrgAccount {
                    id: a.id().unwrap_or_default().to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    email: a.email().unwrap_or_default().to_owned(),
                    status: a
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                }
            }));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        accounts.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Some(LiveOrganization {
            management_account: organization
                .master_account_id()
                .unwrap_or_default()
                .to_owned(),
            accounts,
        }))
    }

    /// Creates an account and waits until it exists; returns its id.
    pub(super) async fn create_account(&self, name: &str, email: &str) -> Result<String, AwsError> {
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
                    return status.account_id().map(str::to_owned).ok_or_else(|| {
                        AwsError::Operation {
                            what: format!("CreateAccount of {name}"),
                            status: "SUCCEEDED".into(),
                            reason: "AWS returned no account id".into(),
                        }
                    });
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
    /// through the organization's access role there.
    pub(super) async fn has_execution_role_stack(
        &self,
        account: &str,
        access_role: &str,
    ) -> Result<bool, AwsError> {
        let member = self.in_account(account, access_role).await;
        Ok(member.read_stack(EXECUTION_ROLE_STACK).await?.is_some())
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
