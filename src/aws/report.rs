//! IAM's credential report: GenerateCredentialReport until it is COMPLETE,
//! then GetCredentialReport. IAM keeps a report for four hours and builds a
//! new one only when asked after that ("Getting credential reports for your
//! AWS account", IAM User Guide), so asking costs two requests most of the
//! time.

use aws_sdk_iam::types::ReportStateType;
use time::OffsetDateTime;

use super::{Aws, AwsError};
use crate::credential_report::CredentialReport;

/// How many times generation is polled before giving up: IAM builds a
/// report in seconds, even for thousands of users.
const GENERATION_POLLS: u32 = 60;

impl Aws {
    pub(super) async fn read_credential_report(&self) -> Result<CredentialReport, AwsError> {
        for _ in 0..GENERATION_POLLS {
            let generate = self.iam.generate_credential_report().send();
            let state = self
                .request("GenerateCredentialReport", generate)
                .await?
                .state;
            if state == Some(ReportStateType::Complete) {
                let get = self.iam.get_credential_report().send();
                let out = self.request("GetCredentialReport", get).await?;
                let generated = out
                    .generated_time()
                    .and_then(|t| {
                        OffsetDateTime::from_unix_timestamp_nanos(
                            i128::from(t.secs()) * 1_000_000_000 + i128::from(t.subsec_nanos()),
                        )
                        .ok()
                    })
                    .ok_or_else(|| {
                        AwsError::Unsupported(
                            "GetCredentialReport returned no generation time".into(),
                        )
                    })?;
                let content = out.content().map(|b| b.as_ref()).unwrap_or_default();
                return CredentialReport::parse(generated, content)
                    .map_err(|e| AwsError::Unsupported(e.to_string()));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
        Err(AwsError::Unsupported(format!(
            "the credential report was not ready after {GENERATION_POLLS} checks"
        )))
    }
}
