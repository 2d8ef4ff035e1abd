//! Carrying out a `Plan`: stage by stage, the changes of a stage at once
//! (within a bound), stopping before the next stage when one fails so that
//! nothing runs ahead of what it depends on. The next apply finishes the job.

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;

use crate::aws::{AwsError, ChangeEstate, InstanceFailure};
use crate::model::names::AccountId;
use crate::plan::{Change, Operation, Plan, SecretDelivery, Stage};
use crate::secrets::{self, Delivered, SecretError};

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Where plain password files go; required when any user has no age key.
    pub secrets_dir: Option<PathBuf>,
    /// Changes of one stage in flight at once.
    pub changes_at_once: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(
        "{count} user(s) get a console password but have no `age-recipient`: {users}.\n\
         Pass --secrets-dir DIR to write their initial passwords to owner-only files, \
         or give them an age-recipient."
    )]
    NoSecretsDir { count: usize, users: String },
}

/// What happened, for the report.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub applied: Vec<Change>,
    /// Changes that failed, with the reason.
    pub failed: Vec<(Change, ChangeError)>,
    /// Changes not attempted because an earlier stage failed.
    pub not_attempted: usize,
    /// Initial passwords and where they went.
    pub secrets: Vec<(String, Delivered)>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        self.failed.is_empty() && self.not_attempted == 0
    }

    /// Adds what a follow-up apply in the same run did.
    pub fn merge(&mut self, more: ApplyReport) {
        self.applied.extend(more.applied);
        self.failed.extend(more.failed);
        self.not_attempted += more.not_attempted;
        self.secrets.extend(more.secrets);
    }
}

/// Refuses, before any change, a plan whose passwords would have nowhere to go.
pub fn check_secrets(plan: &Plan, options: &ApplyOptions) -> Result<(), ApplyError> {
    if options.secrets_dir.is_some() {
        return Ok(());
    }
    let users: Vec<&str> = plan
        .changes
        .iter()
        .flat_map(|c| &c.operations)
        .filter_map(|op| match op {
            Operation::CreateLoginProfile {
                user,
                delivery: SecretDelivery::File,
                ..
            } => Some(user.as_str()),
            _ => None,
        })
        .collect();
    if users.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::NoSecretsDir {
            count: users.len(),
            users: users.join(", "),
        })
    }
}

/// What an apply reports while it runs, so that a front end can show
/// progress: the library itself writes nothing to the terminal.
#[derive(Debug, Clone, Copy)]
pub enum ApplyEvent<'a> {
    /// An apply of this many changes begins (a follow-up apply in the same
    /// run begins again with its own count).
    Started { changes: usize },
    /// One change was made.
    Applied(&'a Change),
    /// One change failed.
    Failed(&'a Change, &'a ChangeError),
}

/// Receives an apply's [`ApplyEvent`]s, in order.
pub trait ApplyObserver {
    fn notify(&mut self, event: ApplyEvent<'_>);
}

/// No progress shown.
impl ApplyObserver for () {
    fn notify(&mut self, _: ApplyEvent<'_>) {}
}

/// Why one change failed, kept typed until the command reports it.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// A call failed. Shared: one merged StackSet call can fail the
    /// changes of several accounts with the same error.
    #[error(transparent)]
    Aws(Arc<AwsError>),
    /// Stack instances of this change's accounts failed (AWS's status and
    /// reason for each), while other accounts' may have succeeded.
    #[error("{}", .0.iter().map(|f| format!("{}: {}", f.status, f.reason)).collect::<Vec<_>>().join("; "))]
    InstancesFailed(Vec<InstanceFailure>),
    /// The initial password could not be delivered, or its login profile
    /// not created.
    #[error(transparent)]
    LoginProfile(#[from] LoginProfileError),
}

impl From<AwsError> for ChangeError {
    fn from(err: AwsError) -> ChangeError {
        ChangeError::Aws(Arc::new(err))
    }
}

impl ChangeError {
    /// Whether later stages must wait for this change. Not when stack
    /// instances failed in their own accounts: nothing in later stages
    /// depends on one account's roles, so the groups and users still get
    /// made, and the next apply repairs the instances.
    fn stops_the_apply(&self) -> bool {
        match self {
            ChangeError::Aws(err) => !matches!(**err, AwsError::StackInstancesFailed { .. }),
            ChangeError::InstancesFailed(_) => false,
            ChangeError::LoginProfile(_) => true,
        }
    }
}

/// A change's result: the secret it delivered, if any, or why it failed.
type ChangeOutcome = Result<Option<(String, Delivered)>, ChangeError>;

/// Carries out `plan`. Individual failures are in the report, not errors.
pub async fn apply<A: ChangeEstate>(aws: &A, plan: &Plan, options: &ApplyOptions) -> ApplyReport {
    apply_checked(aws, plan, options, async || true, &mut ()).await
}

/// [`apply`], asking `go_on` before every stage after the first (the
/// caller re-checks its lock there); when it says no, the remaining stages
/// are not attempted. `observer` hears of every change as it ends.
pub async fn apply_checked<A: ChangeEstate>(
    aws: &A,
    plan: &Plan,
    options: &ApplyOptions,
    go_on: impl AsyncFn() -> bool,
    observer: &mut impl ApplyObserver,
) -> ApplyReport {
    observer.notify(ApplyEvent::Started {
        changes: plan.changes.len(),
    });
    let mut report = ApplyReport::default();
    let mut stages: Vec<(Stage, Vec<&Change>)> = Vec::new();
    for change in &plan.changes {
        match stages.last_mut() {
            Some((stage, changes)) if *stage == change.stage => changes.push(change),
            _ => stages.push((change.stage, vec![change])),
        }
    }
    for (index, (stage, changes)) in stages.iter().enumerate() {
        if index > 0 && !go_on().await {
            report.not_attempted = stages[index..].iter().map(|(_, c)| c.len()).sum();
            break;
        }
        let outcomes: Vec<(&Change, ChangeOutcome)> =
            match stage {
                Stage::StackInstances | Stage::DeleteStackInstances => {
                    run_stack_instance_changes(aws, changes).await
                }
                _ => futures::stream::iter(changes.iter().copied())
                    .map(|change| async move { (change, run_change(aws, change, options).await) })
                    .buffer_unordered(options.changes_at_once.max(1))
                    .collect()
                    .await,
            };
        let mut stage_failed = false;
        for (change, outcome) in outcomes {
            match outcome {
                Ok(secret) => {
                    observer.notify(ApplyEvent::Applied(change));
                    report.secrets.extend(secret);
                    report.applied.push(change.clone());
                }
                Err(error) => {
                    observer.notify(ApplyEvent::Failed(change, &error));
                    stage_failed |= error.stops_the_apply();
                    report.failed.push((change.clone(), error));
                }
            }
        }
        if stage_failed {
            report.not_attempted = stages[index + 1..].iter().map(|(_, c)| c.len()).sum();
            break;
        }
    }
    report.applied.sort_by_key(|c| c.stage);
    report.secrets.sort_by(|a, b| a.0.cmp(&b.0));
    report
}

/// A StackSet runs one operation at a time: one call per kind of instance
/// change (create, update, delete), each for all its accounts at once. When
/// instances fail, only the changes of those accounts fail, each with AWS's
/// reason for its account.
async fn run_stack_instance_changes<'c, A: ChangeEstate>(
    aws: &A,
    changes: &[&'c Change],
) -> Vec<(&'c Change, ChangeOutcome)> {
    let mut outcomes: Vec<(&Change, ChangeOutcome)> =
        changes.iter().map(|c| (*c, Ok(None))).collect();
    for merged in merge_stack_instance_operations(changes) {
        let kind = std::mem::discriminant(&merged);
        let Err(err) = aws.call(&merged).await else {
            continue;
        };
        let err = Arc::new(err);
        for (change, outcome) in &mut outcomes {
            let accounts: Vec<&AccountId> = change
                .operations
                .iter()
                .filter(|op| std::mem::discriminant(*op) == kind)
                .flat_map(instance_accounts)
                .collect();
            if accounts.is_empty() {
                continue;
            }
            let error = match &*err {
                AwsError::StackInstancesFailed { failures, .. } => {
                    let mine: Vec<InstanceFailure> = failures
                        .iter()
                        .filter(|f| accounts.iter().any(|a| a.as_str() == f.account))
                        .cloned()
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    ChangeError::InstancesFailed(mine)
                }
                _ => ChangeError::Aws(Arc::clone(&err)),
            };
            *outcome = Err(error);
        }
    }
    outcomes
}

fn instance_accounts(op: &Operation) -> &[AccountId] {
    match op {
        Operation::CreateStackInstances { accounts, .. }
        | Operation::UpdateStackInstances { accounts, .. }
        | Operation::DeleteStackInstances { accounts, .. } => accounts,
        _ => &[],
    }
}

/// The stage's instance operations, one per kind, accounts and Regions
/// merged, in the order their kinds first appear.
fn merge_stack_instance_operations(changes: &[&Change]) -> Vec<Operation> {
    let mut merged: Vec<Operation> = Vec::new();
    for op in changes.iter().flat_map(|c| &c.operations) {
        let same_kind = merged
            .iter_mut()
            .find(|m| std::mem::discriminant(*m) == std::mem::discriminant(op));
        let Some(into) = same_kind else {
            merged.push(op.clone());
            continue;
        };
        let (
            Operation::CreateStackInstances {
                accounts, regions, ..
            }
            | Operation::UpdateStackInstances {
                accounts, regions, ..
            }
            | Operation::DeleteStackInstances {
                accounts, regions, ..
            },
            Operation::CreateStackInstances {
                accounts: more_accounts,
                regions: more_regions,
                ..
            }
            | Operation::UpdateStackInstances {
                accounts: more_accounts,
                regions: more_regions,
                ..
            }
            | Operation::DeleteStackInstances {
                accounts: more_accounts,
                regions: more_regions,
                ..
            },
        ) = (into, op)
        else {
            continue;
        };
        for account in more_accounts {
            if !accounts.contains(account) {
                accounts.push(account.clone());
            }
        }
        for region in more_regions {
            if !regions.contains(region) {
                regions.push(region.clone());
            }
        }
    }
    merged
}

/// Runs one change's calls in order; returns the delivered secret, if any.
async fn run_change<A: ChangeEstate>(
    aws: &A,
    change: &Change,
    options: &ApplyOptions,
) -> ChangeOutcome {
    let mut delivered = None;
    for op in &change.operations {
        match op {
            Operation::CreateLoginProfile {
                user,
                delivery,
                password_length,
            } => {
                let secret =
                    create_login_profile(aws, user.as_str(), delivery, *password_length, options)
                        .await?;
                delivered = Some((user.to_string(), secret));
            }
            other => aws.call(other).await?,
        }
    }
    Ok(delivered)
}

/// Why an initial password was not delivered, or not set.
#[derive(Debug, thiserror::Error)]
pub enum LoginProfileError {
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("no --secrets-dir for a password that has no age-recipient")]
    NoSecretsDir,
    #[error("{source}; an earlier attempt may have set the password, so it is kept {kept}")]
    MaybeSet { source: AwsError, kept: String },
}

/// Delivers the password first, so a login profile never exists with a
/// password nobody received; removes the delivery if AWS then refuses.
async fn create_login_profile<A: ChangeEstate>(
    aws: &A,
    user: &str,
    delivery: &SecretDelivery,
    length: u8,
    options: &ApplyOptions,
) -> Result<Delivered, LoginProfileError> {
    let password = secrets::generate_password(length);
    let delivered = match (delivery, &options.secrets_dir) {
        (SecretDelivery::Age { recipient }, Some(dir)) => {
            let armored = secrets::encrypt_to(user, recipient, &password)?;
            Delivered::AgeFile(secrets::write_private(
                dir,
                &format!("{user}.password.age"),
                &armored,
            )?)
        }
        (SecretDelivery::Age { recipient }, None) => {
            Delivered::AgeArmored(secrets::encrypt_to(user, recipient, &password)?)
        }
        (SecretDelivery::File, Some(dir)) => Delivered::PlainFile(secrets::write_private(
            dir,
            &format!("{user}.password"),
            &password,
        )?),
        (SecretDelivery::File, None) => return Err(LoginProfileError::NoSecretsDir),
    };
    if let Err(err) = aws.create_login_profile(user, &password).await {
        // After throttling, a server error or a lost answer, an earlier
        // attempt may have set this password; the next apply would then see
        // the profile and deliver nothing, so the delivery must stay.
        if err.may_have_taken_effect() {
            let kept = match &delivered {
                Delivered::AgeFile(path) | Delivered::PlainFile(path) => {
                    format!("in {}", path.display())
                }
                Delivered::AgeArmored(armored) => {
                    format!("here, encrypted to their age key:\n{armored}")
                }
            };
            return Err(LoginProfileError::MaybeSet { source: err, kept });
        }
        if let Some(file) = delivered.file() {
            let _ = std::fs::remove_file(file);
        }
        return Err(err.into());
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::lang::{self, Sources};
    use crate::live::LiveState;

    /// Records the calls it is asked to make.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl ChangeEstate for Recorder {
        async fn call(&self, operation: &Operation) -> Result<(), AwsError> {
            self.0.lock().unwrap().push(operation.name().to_owned());
            Ok(())
        }
        async fn create_login_profile(&self, _: &str, _: &str) -> Result<(), AwsError> {
            self.0.lock().unwrap().push("CreateLoginProfile".into());
            Ok(())
        }
    }

    /// Fails every call after the first `succeed` ones.
    struct FailsAfter {
        succeed: usize,
        calls: AtomicUsize,
    }

    impl ChangeEstate for FailsAfter {
        async fn call(&self, operation: &Operation) -> Result<(), AwsError> {
            if self.calls.fetch_add(1, Ordering::Relaxed) < self.succeed {
                return Ok(());
            }
            Err(AwsError::Service {
                call: "Test",
                code: "AccessDenied".into(),
                message: operation.name().to_owned(),
            })
        }
        async fn create_login_profile(&self, _: &str, _: &str) -> Result<(), AwsError> {
            Ok(())
        }
    }

    /// The events an apply sent, as `started N`, `applied ADDRESS` and
    /// `failed ADDRESS: REASON`.
    #[derive(Default)]
    struct Heard(Vec<String>);

    impl ApplyObserver for Heard {
        fn notify(&mut self, event: ApplyEvent<'_>) {
            self.0.push(match event {
                ApplyEvent::Started { changes } => format!("started {changes}"),
                ApplyEvent::Applied(change) => format!("applied {}", change.address),
                ApplyEvent::Failed(change, error) => format!("failed {}: {error}", change.address),
            });
        }
    }

    fn one_user_plan() -> Plan {
        let mut sources = Sources::default();
        sources.push(
            "t.kdl",
            r#"jump-account id="111111111111" region="ap-northeast-1"
               user "a" console=#false { access "admin" }"#,
        );
        let desired = lang::validate(sources, Vec::new()).unwrap();
        crate::plan::build(&desired, &LiveState::default())
    }

    #[tokio::test]
    async fn every_change_is_heard_of_as_it_ends_and_its_error_kept() {
        let plan = one_user_plan();
        let options = ApplyOptions {
            secrets_dir: None,
            changes_at_once: 1,
        };
        let aws = FailsAfter {
            succeed: plan.changes[0].operations.len(),
            calls: AtomicUsize::new(0),
        };
        let mut heard = Heard::default();
        let report = apply_checked(&aws, &plan, &options, async || true, &mut heard).await;
        let first = &plan.changes[0].address;
        assert_eq!(
            heard.0[..2],
            [
                format!("started {}", plan.changes.len()),
                format!("applied {first}")
            ]
        );
        let [(failed, ChangeError::Aws(error))] = report.failed.as_slice() else {
            panic!("one AWS failure expected: {:?}", report.failed);
        };
        assert_eq!(error.code(), Some("AccessDenied"));
        assert!(heard.0[2].starts_with(&format!(
            "failed {}: Test failed: AccessDenied: ",
            failed.address
        )));
        assert_eq!(heard.0.len(), 3, "{:?}", heard.0);
    }

    #[tokio::test]
    async fn a_stage_starts_only_while_the_caller_says_go_on() {
        let plan = one_user_plan();
        let first = plan.changes[0].stage;
        let in_first = plan.changes.iter().filter(|c| c.stage == first).count();
        let options = ApplyOptions {
            secrets_dir: None,
            changes_at_once: 1,
        };
        let aws = Recorder::default();
        let asked = AtomicUsize::new(0);
        // The lock was lost after the first stage.
        let go_on = async || {
            asked.fetch_add(1, Ordering::Relaxed);
            false
        };
        let report = apply_checked(&aws, &plan, &options, go_on, &mut ()).await;
        assert_eq!(asked.load(Ordering::Relaxed), 1);
        assert_eq!(report.applied.len(), in_first);
        assert_eq!(report.not_attempted, plan.changes.len() - in_first);
        assert!(!report.succeeded());
        assert_eq!(aws.0.lock().unwrap().len(), in_first);
    }
}
