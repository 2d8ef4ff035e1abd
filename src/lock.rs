//! One apply at a time: a lock kept in AWS itself, recording who holds it
//! and since when, so a refused apply can say so.

use serde::{Deserialize, Serialize};

use crate::aws::{AwsError, LockStore};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The ARN of the credentials that took the lock.
    pub who: String,
    pub host: String,
    pub pid: u32,
    /// RFC 3339, UTC.
    pub since: String,
    /// A CI run or other context, when known.
    pub context: Option<String>,
}

impl Holder {
    /// Describes this process as holder.
    pub fn this_process(who: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown host".to_owned());
        let since = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        // The run that holds the lock is what a colleague looks for first.
        let context = ["GITHUB_RUN_ID", "CI_JOB_URL", "BUILD_URL"]
            .iter()
            .find_map(|var| std::env::var(var).ok().map(|v| format!("{var}={v}")));
        Holder {
            who: who.to_owned(),
            host,
            pid: std::process::id(),
            since,
            context,
        }
    }

    /// Reads a holder back from the lock's description; descriptions not
    /// written by jumpgate are shown as they are.
    pub fn describe(description: &str) -> String {
        match serde_json::from_str::<Holder>(description) {
            Ok(h) => {
                let context = h.context.map(|c| format!(", {c}")).unwrap_or_default();
                format!(
                    "{} on {} (pid {}{context}) since {}",
                    h.who, h.host, h.pid, h.since
                )
            }
            Err(_) => description.to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another apply holds the lock: {holder}\n\
         If that apply is no longer running, break the lock with `jumpgate unlock`."
    )]
    Held { holder: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Takes the lock, or says who holds it.
pub async fn acquire<L: LockStore>(store: &L, holder: &Holder) -> Result<(), LockError> {
    let description = serde_json::to_string(holder).expect("holders serialise");
    if store.create_lock(&description).await? {
        return Ok(());
    }
    let held = store.read_lock().await?;
    // "Already exists" after a retry whose first attempt took effect (the
    // answer was lost): the lock is ours. The holder names this process and
    // the moment it asked, so no other apply writes the same description.
    if held.as_deref() == Some(description.as_str()) {
        return Ok(());
    }
    let holder = held.map_or_else(
        || "(released while we looked)".to_owned(),
        |d| Holder::describe(&d),
    );
    Err(LockError::Held { holder })
}

pub async fn release<L: LockStore>(store: &L) -> Result<(), AwsError> {
    store.delete_lock().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_read_back_as_a_sentence() {
        let holder = Holder {
            who: "arn:aws:iam::123456789012:user/ci".into(),
            host: "runner-1".into(),
            pid: 42,
            since: "2026-11-22T07:00:00Z".into(),
            context: Some("GITHUB_RUN_ID=7".into()),
        };
        let text = Holder::describe(&serde_json::to_string(&holder).unwrap());
        assert_eq!(
            text,
            "arn:aws:iam::123456789012:user/ci on runner-1 (pid 42, GITHUB_RUN_ID=7) since 2026-11-22T07:00:00Z"
        );
        assert_eq!(Holder::describe("by hand"), "by hand");
    }
}

#[cfg(test)]
mod retried_creation {
    use std::sync::Mutex;

    use super::*;

    /// A lock store whose creation "fails" with already-exists although the
    /// stored description is `stored`.
    struct Store {
        stored: Mutex<Option<String>>,
        own_retry: bool,
    }

    impl LockStore for Store {
        async fn create_lock(&self, holder: &str) -> Result<bool, AwsError> {
            let mut stored = self.stored.lock().unwrap();
            if self.own_retry {
                // The first attempt took effect; its answer was lost.
                *stored = Some(holder.to_owned());
            }
            Ok(false)
        }
        async fn read_lock(&self) -> Result<Option<String>, AwsError> {
            Ok(self.stored.lock().unwrap().clone())
        }
        async fn delete_lock(&self) -> Result<(), AwsError> {
            *self.stored.lock().unwrap() = None;
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_lock_our_own_retry_created_is_ours() {
        let holder = Holder::this_process("arn:aws:iam::123456789012:user/ci");
        let store = Store {
            stored: Mutex::new(None),
            own_retry: true,
        };
        acquire(&store, &holder).await.expect("the lock is ours");

        let other = Holder {
            pid: holder.pid + 1,
            ..holder.clone()
        };
        let store = Store {
            stored: Mutex::new(Some(serde_json::to_string(&other).unwrap())),
            own_retry: false,
        };
        let err = acquire(&store, &holder).await.expect_err("held by another");
        assert!(matches!(err, LockError::Held { .. }), "{err}");
    }
}
