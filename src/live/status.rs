//! The statuses AWS reports for the objects jumpgate watches, as enums
//! (`src/aws/` parses them from the SDK's types). AWS adds values to these
//! lists over time, so each keeps the ones it does not know as `Other`
//! rather than failing to read the estate; they serialise as AWS spells
//! them, so saved plans and JSON output read as before.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An enum of AWS's status strings, with `Other` for values it does not list.
macro_rules! aws_status {
    ($(#[$doc:meta])* $name:ident { $($(#[$variant_doc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$variant_doc])* $variant,)+
            /// A value this version of jumpgate does not know.
            Other(String),
        }

        impl $name {
            /// As AWS spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)+
                    $name::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                match text {
                    $($text => $name::$variant,)+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name::from(text.as_str())
            }
        }

        impl From<$name> for String {
            fn from(status: $name) -> String {
                status.as_str().to_owned()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

aws_status!(
    /// A CloudFormation stack's status (API_Stack, `StackStatus`).
    StackStatus {
        CreateInProgress = "CREATE_IN_PROGRESS",
        CreateFailed = "CREATE_FAILED",
        CreateComplete = "CREATE_COMPLETE",
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        RollbackFailed = "ROLLBACK_FAILED",
        /// Creation failed and was rolled back: the stack can only be
        /// deleted (and created again).
        RollbackComplete = "ROLLBACK_COMPLETE",
        DeleteInProgress = "DELETE_IN_PROGRESS",
        DeleteFailed = "DELETE_FAILED",
        DeleteComplete = "DELETE_COMPLETE",
        UpdateInProgress = "UPDATE_IN_PROGRESS",
        UpdateCompleteCleanupInProgress = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        UpdateComplete = "UPDATE_COMPLETE",
        UpdateFailed = "UPDATE_FAILED",
        UpdateRollbackInProgress = "UPDATE_ROLLBACK_IN_PROGRESS",
        UpdateRollbackFailed = "UPDATE_ROLLBACK_FAILED",
        UpdateRollbackCompleteCleanupInProgress = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        UpdateRollbackComplete = "UPDATE_ROLLBACK_COMPLETE",
        ReviewInProgress = "REVIEW_IN_PROGRESS",
        ImportInProgress = "IMPORT_IN_PROGRESS",
        ImportComplete = "IMPORT_COMPLETE",
        ImportRollbackInProgress = "IMPORT_ROLLBACK_IN_PROGRESS",
        ImportRollbackFailed = "IMPORT_ROLLBACK_FAILED",
        ImportRollbackComplete = "IMPORT_ROLLBACK_COMPLETE",
    }
);

impl StackStatus {
    /// An operation is still running on the stack.
    pub fn is_in_progress(&self) -> bool {
        self.as_str().ends_with("_IN_PROGRESS")
    }

    /// The last operation failed and left the stack for a person to fix.
    pub fn is_failed(&self) -> bool {
        self.as_str().ends_with("_FAILED")
    }

    /// The stack was created or updated as asked.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            StackStatus::CreateComplete | StackStatus::UpdateComplete
        )
    }
}

aws_status!(
    /// A StackSet's status (API_StackSet, `Status`).
    StackSetStatus {
        Active = "ACTIVE",
        Deleted = "DELETED",
    }
);

aws_status!(
    /// A stack instance's status (API_StackInstanceSummary, `Status`).
    StackInstanceStatus {
        /// Deployed with the StackSet's current template.
        Current = "CURRENT",
        /// An operation failed or was cancelled there.
        Outdated = "OUTDATED",
        /// Left out of every operation until removed with RetainStacks.
        Inoperable = "INOPERABLE",
    }
);

aws_status!(
    /// An account's status in the organization (API_Account, `Status`).
    AccountStatus {
        Active = "ACTIVE",
        Suspended = "SUSPENDED",
        PendingClosure = "PENDING_CLOSURE",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_write_as_aws_spells_them() {
        for text in [
            "ROLLBACK_COMPLETE",
            "UPDATE_ROLLBACK_FAILED",
            "SOMETHING_NEW",
        ] {
            let status = StackStatus::from(text);
            assert_eq!(status.as_str(), text);
            assert_eq!(serde_json::to_value(&status).unwrap(), text);
            assert_eq!(
                serde_json::from_value::<StackStatus>(text.into()).unwrap(),
                status
            );
        }
        assert_eq!(
            StackStatus::from("ROLLBACK_COMPLETE"),
            StackStatus::RollbackComplete
        );
        assert_eq!(
            StackInstanceStatus::from("NEW_ONE"),
            StackInstanceStatus::Other("NEW_ONE".into())
        );
    }

    #[test]
    fn stack_statuses_are_classified_by_their_suffix() {
        assert!(StackStatus::from("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS").is_in_progress());
        assert!(StackStatus::from("IMPORT_ROLLBACK_FAILED").is_failed());
        assert!(StackStatus::from("A_FUTURE_FAILED").is_failed());
        assert!(!StackStatus::RollbackComplete.is_failed());
        assert!(StackStatus::UpdateComplete.is_settled());
        assert!(!StackStatus::UpdateRollbackComplete.is_settled());
    }
}
