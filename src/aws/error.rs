//! AWS failures as users read them: the call, AWS's error code and message.

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::error::SdkError;

use crate::plan::Operation;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{call} failed: {code}: {message}")]
    Service {
        call: &'static str,
        code: String,
        message: String,
    },
    #[error("{call} failed: {message}")]
    Transport { call: &'static str, message: String },
    /// IAM answered "already exists" for something this apply did not make.
    #[error("{call} failed: {message}")]
    Exists { call: &'static str, message: String },
    #[error("CloudFormation {what} ended in {status}: {reason}")]
    Operation {
        what: String,
        status: String,
        reason: String,
    },
    /// A StackSet operation left stack instances failed, whatever its
    /// overall status (AWS reports SUCCEEDED while the failures stay within
    /// the operation's failure tolerance).
    #[error("StackSet {stack_set} operation {operation_id} ended {status} with {} failed stack instance(s): {}", failures.len(), failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    StackInstancesFailed {
        stack_set: String,
        operation_id: String,
        status: String,
        failures: Vec<InstanceFailure>,
    },
    #[error("{0}")]
    Unsupported(String),
}

/// One account and Region where a StackSet operation did not succeed, with
/// AWS's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailure {
    pub account: String,
    pub region: String,
    /// FAILED or CANCELLED.
    pub status: String,
    pub reason: String,
}

impl std::fmt::Display for InstanceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "account {} in {}: {}: {}",
            self.account, self.region, self.status, self.reason
        )
    }
}

/// A yes/no question asked by making a call: `Ok(true)` when it succeeds,
/// `Ok(false)` when AWS answers `no` (such as NoSuchEntity), else the error.
pub(super) fn answered<T, E>(
    call: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
    no: &str,
) -> Result<bool, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) => {
            let err = AwsError::from_sdk(call, err);
            if err.code() == Some(no) {
                Ok(false)
            } else {
                Err(err)
            }
        }
    }
}

impl AwsError {
    /// An operation handed to another service's caller: `service` names
    /// that caller, with its article ("an IAM").
    pub(super) fn not_a_call_of(service: &str, operation: &Operation) -> AwsError {
        AwsError::Unsupported(format!("{} is not {service} call", operation.name()))
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the call may have taken effect although it failed: it ended
    /// on throttling, a server error or no answer, so an earlier attempt
    /// (the SDK retries) may have been carried out with its answer lost. A
    /// refusal such as a validation error would have been the same on every
    /// attempt.
    pub fn may_have_taken_effect(&self) -> bool {
        const UNCERTAIN: &[&str] = &[
            "Throttling",
            "ThrottlingException",
            "RequestLimitExceeded",
            "TooManyRequestsException",
            "RequestThrottled",
            "ServiceUnavailable",
            "ServiceUnavailableException",
            "InternalFailure",
            "InternalError",
            "InternalServerError",
            "ServiceFailure",
            "RequestTimeout",
            "RequestTimeoutException",
        ];
        match self {
            AwsError::Service { code, .. } => UNCERTAIN.contains(&code.as_str()),
            AwsError::Transport { .. } => true,
            AwsError::Operation { .. }
            | AwsError::StackInstancesFailed { .. }
            | AwsError::Exists { .. }
            | AwsError::Unsupported(_) => false,
        }
    }

    /// Converts an SDK error, keeping AWS's code and message (the SDK's own
    /// Display says only "service error").
    pub fn from_sdk<E>(call: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err.as_service_error() {
            Some(service) if service.code().is_some() => AwsError::Service {
                call,
                code: service.code().unwrap_or_default().to_owned(),
                message: service.message().unwrap_or_default().to_owned(),
            },
            // No error code: an HTTP failure with no AWS error body (such as
            // an endpoint that does not implement the call), or no response.
            _ => AwsError::Transport {
                call,
                message: match err.raw_response() {
                    Some(response) => format!(
                        "HTTP {} with no AWS error in the response",
                        response.status().as_u16()
                    ),
                    None => aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
                },
            },
        }
    }
}
