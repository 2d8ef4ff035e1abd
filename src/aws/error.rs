//! AWS failures as users read them: the call, AWS's error code and message.

use aws_sdk_iam::config::http::HttpResponse;
use aws_sdk_iam::error::ProvideErrorMetadata;
use aws_sdk_iam::error::SdkError;

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
    #[error("{0}")]
    Unsupported(String),
}

impl AwsError {
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
            AwsError::Operation { .. } | AwsError::Exists { .. } | AwsError::Unsupported(_) => {
                false
            }
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
