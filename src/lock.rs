//! One apply at a time: a lock kept in AWS itself, recording who holds it
//! and since when, so a refused apply can say so.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;

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
            .format(&Rfc3339)
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

    /// Reads a holder back from the lock's description, with its age;
    /// descriptions not written by jumpgate are shown as they are.
    pub fn describe(description: &str) -> String {
        Self::describe_at(description, time::OffsetDateTime::now_utc())
    }

    /// [`Holder::describe`] as seen at `now`.
    pub fn describe_at(description: &str, now: time::OffsetDateTime) -> String {
        let Ok(h) = serde_json::from_str::<Holder>(description) else {
            return description.to_owned();
        };
        let context = h.context.map(|c| format!(", {c}")).unwrap_or_default();
        let age = time::OffsetDateTime::parse(&h.since, &Rfc3339)
            .map(|since| format!(" ({} ago)", age(now - since)))
            .unwrap_or_default();
        format!(
            "{} on {} (pid {}{context}) since {}{age}",
            h.who, h.host, h.pid, h.since
        )
    }
}

/// A lock's age as people say it: the two largest units.
fn age(elapsed: time::Duration) -> String {
    let seconds = elapsed.whole_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another apply holds the lock: {holder}\n\
         If that apply is no longer running, break the lock with `jumpgate unlock`."
    )]
    Held { holder: String },
    #[error(
        "the lock is no longer the one this run holds: it was broken{}; it was left alone",
        .holder.as_ref().map(|h| format!(" and is now held by {h}")).unwrap_or_default()
    )]
    Lost { holder: Option<String> },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// Takes the lock, or says who holds it. Returns the lock's description,
/// which [`release`] and [`check`] compare with what they find.
pub async fn acquire<L: LockStore>(store: &L, holder: &Holder) -> Result<String, LockError> {
    let description = serde_json::to_string(holder).expect("holders serialise");
    if store.create_lock(&description).await? {
        return Ok(description);
    }
    let held = store.read_lock().await?;
    // "Already exists" after a retry whose first attempt took effect (the
    // answer was lost): the lock is ours. The holder names this process and
    // the moment it asked, so no other apply writes the same description.
    if held.as_deref() == Some(description.as_str()) {
        return Ok(description);
    }
    let holder = held.map_or_else(
        || "(released while we looked)".to_owned(),
        |d| Holder::describe(&d),
    );
    Err(LockError::Held { holder })
}

/// Whether the lock is still the one described by `held`: someone may
/// have broken it (`unlock`) and another apply taken it since.
pub async fn check<L: LockStore>(store: &L, held: &str) -> Result<(), LockError> {
    match store.read_lock().await? {
        Some(found) if found == held => Ok(()),
        found => Err(LockError::Lost {
            holder: found.map(|d| Holder::describe(&d)),
        }),
    }
}

/// Deletes the lock only if it is still the one described by `held`, so an
/// apply whose lock was broken never deletes the next apply's lock. The
/// store has no compare-and-delete: the window is one read to one delete.
pub async fn release<L: LockStore>(store: &L, held: &str) -> Result<(), LockError> {
    match check(store, held).await {
        Ok(()) => Ok(store.delete_lock().await?),
        // Broken and not taken again: nothing of ours to delete.
        Err(LockError::Lost { holder: None }) => Ok(()),
        Err(err) => Err(err),
    }
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
        let now = time::OffsetDateTime::parse("2026-11-22T10:12:30Z", &Rfc3339).unwrap();
        let text = Holder::describe_at(&serde_json::to_string(&holder).unwrap(), now);
        assert_eq!(
            text,
            "arn:aws:iam::123456789012:user/ci on runner-1 (pid 42, GITHUB_RUN_ID=7) since 2026-11-22T07:00:00Z (3 h 12 min ago)"
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

    #[tokio::test]
    async fn release_deletes_only_the_lock_it_holds() {
        let mine = serde_json::to_string(&Holder::this_process("arn:aws:iam::123456789012:user/a"))
            .unwrap();
        let theirs = Holder {
            pid: std::process::id() + 1,
            ..Holder::this_process("arn:aws:iam::123456789012:user/b")
        };
        let theirs = serde_json::to_string(&theirs).unwrap();
        // Ours was broken and another apply took the lock: it stays.
        let store = Store {
            stored: Mutex::new(Some(theirs.clone())),
            own_retry: false,
        };
        let err = release(&store, &mine).await.expect_err("not ours");
        assert!(matches!(err, LockError::Lost { holder: Some(_) }), "{err}");
        assert!(err.to_string().contains("user/b"), "{err}");
        assert!(check(&store, &mine).await.is_err());
        assert_eq!(
            store.stored.lock().unwrap().as_deref(),
            Some(theirs.as_str())
        );
        // Ours: deleted.
        let store = Store {
            stored: Mutex::new(Some(mine.clone())),
            own_retry: false,
        };
        check(&store, &mine).await.expect("still ours");
        release(&store, &mine).await.expect("released");
        assert_eq!(*store.stored.lock().unwrap(), None);
        // Broken and not taken again: nothing to delete, not an error.
        release(&store, &mine).await.expect("already gone");
    }
}
