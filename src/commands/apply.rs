//! `apply` (with its guards: saved plans, lockouts, secrets, confirmation,
//! the lock) and `unlock`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use jumpgate::apply::{self, ApplyEvent, ApplyObserver, ApplyOptions, ApplyReport};
use jumpgate::aws::{Aws, Connection, LockStore, ReadEstate};
use jumpgate::live::LiveState;
use jumpgate::lock::{self, Holder, LockError};
use jumpgate::model::desired::DesiredState;
use jumpgate::observe::observe;
use jumpgate::plan::{self, Plan};
use jumpgate::render::{self, Format, Style, wire};
use jumpgate::secrets::{self, Delivered};

use super::{Failure, color_enabled, confirm, load_with_digest};

// `apply`'s arguments, taken whole so that the command line and this
// function cannot drift apart field by field.
#[derive(clap::Args)]
pub struct ApplyArgs {
    #[arg(default_value = "state")]
    path: PathBuf,
    /// Apply this saved plan, if live state has not changed since it was made.
    #[arg(long)]
    plan: Option<PathBuf>,
    /// Do not ask for confirmation (required when not on a terminal).
    #[arg(long)]
    yes: bool,
    /// Where initial passwords of users without age-recipient are written.
    #[arg(long)]
    secrets_dir: Option<PathBuf>,
    /// Apply even if some account would be left without anyone able to reach its admin role.
    #[arg(long)]
    allow_lockout: bool,
    #[command(flatten)]
    only: crate::Only,
}

pub async fn apply(connection: &Connection, args: ApplyArgs) -> Result<ExitCode, Failure> {
    let (desired, inputs_digest) = load_with_digest(&args.path)?;
    let saved = args.plan.as_deref().map(read_saved_plan).transpose()?;
    if let Some(dir) = &args.secrets_dir {
        secrets::check_private_dir(dir)?;
    }
    let aws = Aws::connect(connection, desired.jump.region.as_str()).await;
    let options = ApplyOptions {
        secrets_dir: args.secrets_dir,
        changes_at_once: connection.concurrency,
    };
    let inputs = Inputs {
        desired: &desired,
        digest: inputs_digest,
        saved,
    };
    let only = &args.only.only;
    run_apply(&aws, inputs, &options, args.yes, args.allow_lockout, only).await
}

pub async fn unlock(
    connection: &Connection,
    yes: bool,
    fallback_region: String,
) -> Result<ExitCode, Failure> {
    let aws = Aws::connect(connection, &fallback_region).await;
    let Some(description) = aws.read_lock().await? else {
        println!("No apply holds the lock.");
        return Ok(ExitCode::SUCCESS);
    };
    println!("The lock is held by {}.", Holder::describe(&description));
    if !yes && !confirm("Break it? Only do so if that apply is no longer running.")? {
        return Err(Failure("not unlocked".into()));
    }
    // Only the lock that was shown: another apply may have taken it since.
    lock::release(&aws, &description)
        .await
        .map_err(|e| match e {
            LockError::Lost {
                holder: Some(holder),
            } => Failure(format!(
                "the lock changed while you looked: it is now held by {holder}. Nothing was broken."
            )),
            other => Failure(other.to_string()),
        })?;
    println!("Lock broken. The next apply finishes whatever the interrupted one left.");
    Ok(ExitCode::SUCCESS)
}

fn read_saved_plan(path: &Path) -> Result<wire::Plan, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plan: wire::Plan = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a jumpgate plan: {e}", path.display()))?;
    if plan.format_version != plan::FORMAT_VERSION {
        return Err(Failure(format!(
            "{} has plan format {}, this jumpgate reads format {}",
            path.display(),
            plan.format_version,
            plan::FORMAT_VERSION
        )));
    }
    plan.check_names()
        .map_err(|e| format!("refusing {}: {e}", path.display()))?;
    Ok(plan)
}

/// What an apply starts from: the files, their digest, and a saved plan.
struct Inputs<'a> {
    desired: &'a DesiredState,
    digest: String,
    saved: Option<wire::Plan>,
}

/// A saved plan is only a promise: the plan applied is always the one made
/// now from the files and live state, and the saved one must match it in
/// everything it claims (jumpgate version, files, live state, changes).
fn check_saved(saved: &wire::Plan, fresh: &Plan) -> Result<(), Failure> {
    let fresh = &wire::Plan::from(fresh);
    let refuse = |why: String| {
        Err(Failure(format!(
            "refusing the saved plan: {why}. Nothing was changed; run `jumpgate plan --out` again."
        )))
    };
    if saved.jump_account != fresh.jump_account {
        return refuse(format!(
            "it is for jump account {}, the file declares {}",
            saved.jump_account, fresh.jump_account
        ));
    }
    if saved.jumpgate_version != fresh.jumpgate_version {
        return refuse(format!(
            "it was made by jumpgate {}, this is jumpgate {}",
            if saved.jumpgate_version.is_empty() {
                "(unknown version)"
            } else {
                &saved.jumpgate_version
            },
            fresh.jumpgate_version
        ));
    }
    if saved.inputs_digest != fresh.inputs_digest {
        return refuse(
            "the desired-state files differ from those it was made from (an older plan?)".into(),
        );
    }
    if saved.fingerprint != fresh.fingerprint {
        return Err(stale_plan());
    }
    if saved.changes != fresh.changes {
        return refuse(
            "its changes differ from what the same files and live state give (was it edited?)"
                .into(),
        );
    }
    Ok(())
}

/// Who stands behind the plan an apply carries out, which decides what
/// happens when live state moved between planning and taking the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Approval {
    /// `--plan FILE`: the saved plan, or nothing.
    Saved,
    /// Confirmed on a terminal: the plan the person saw, or nothing.
    Confirmed,
    /// `--yes`: whatever the files and live state give once the lock is held
    /// (Terraform's `apply -auto-approve` also plans under its lock).
    Given,
}

/// Makes and checks the plan an apply carries out, from the files, the
/// `--only` selection and the options.
struct Planner<'a> {
    desired: &'a DesiredState,
    digest: &'a str,
    only: &'a [String],
    allow_lockout: bool,
    options: &'a ApplyOptions,
}

impl Planner<'_> {
    /// The plan for `live`, and what `--only` leaves pending.
    fn plan(&self, live: &LiveState) -> Result<(Plan, Vec<plan::Change>), Failure> {
        let mut fresh = plan::build(self.desired, live);
        fresh.inputs_digest = self.digest.to_owned();
        // A plan saved with --only holds the same subset.
        super::select_only(fresh, self.only)
    }

    /// Refuses a plan that cannot or must not be applied.
    fn vet(&self, plan: &Plan) -> Result<(), Failure> {
        if !plan.blockers.is_empty() {
            return Err(Failure(format!(
                "refusing to apply: {}",
                plan.blockers.join("; ")
            )));
        }
        // Always this plan's own lockouts: a saved plan's list is never trusted.
        if !self.allow_lockout {
            refuse_lockouts(plan)?;
        }
        apply::check_secrets(plan, self.options)?;
        Ok(())
    }
}

async fn run_apply(
    aws: &Aws,
    inputs: Inputs<'_>,
    options: &ApplyOptions,
    yes: bool,
    allow_lockout: bool,
    only: &[String],
) -> Result<ExitCode, Failure> {
    let desired = inputs.desired;
    let planner = Planner {
        desired,
        digest: &inputs.digest,
        only,
        allow_lockout,
        options,
    };
    // Plan without the lock first: an apply with nothing to do changes nothing, not even the lock.
    let live = observe(aws, desired).await?;
    let (plan, pending) = planner.plan(&live)?;
    if let Some(saved) = &inputs.saved {
        check_saved(saved, &plan)?;
    }
    if plan.is_empty() {
        println!("{NO_CHANGES}");
        return Ok(ExitCode::SUCCESS);
    }
    planner.vet(&plan)?;
    let approval = match (&inputs.saved, yes) {
        (Some(_), _) => Approval::Saved,
        (None, true) => Approval::Given,
        (None, false) => Approval::Confirmed,
    };
    if !yes {
        eprint!(
            "{}",
            render::render(
                &plan,
                Format::Text,
                Style {
                    color: color_enabled()
                }
            )
        );
        super::print_pending(&pending, &mut std::io::stderr())?;
        if !confirm("Apply these changes?")? {
            return Err(Failure("apply cancelled".into()));
        }
    }
    let caller = aws.caller().await?;
    let held = lock::acquire(aws, &Holder::this_process(&caller.arn)).await?;
    let outcome = apply_locked(aws, &planner, (plan, pending), approval, &held).await;
    let released = lock::release(aws, &held).await.map_err(|e| match e {
        LockError::Lost { .. } => Failure(format!("the apply finished, but {e}")),
        other => Failure(format!(
            "the apply finished but releasing the lock failed ({other}); run `jumpgate unlock`"
        )),
    });
    let Some(Applied {
        report,
        follow_up,
        pending,
    }) = outcome?
    else {
        released?;
        println!("{NO_CHANGES}");
        return Ok(ExitCode::SUCCESS);
    };
    // What was done, and any password delivered, is printed whatever
    // failed afterwards: the next apply would not deliver it again.
    print_report(&report, desired);
    follow_up?;
    released?;
    super::print_pending(&pending, &mut std::io::stdout())?;
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

const NO_CHANGES: &str = "No changes. Live state matches the desired state.";

/// Refuses a plan after which some account has nobody able to reach an
/// administrator-equivalent role.
fn refuse_lockouts(plan: &Plan) -> Result<(), Failure> {
    if plan.lockouts.is_empty() {
        return Ok(());
    }
    let accounts: Vec<String> = plan
        .lockouts
        .iter()
        .map(|l| {
            let before = if l.reachable_before.is_empty() {
                String::new()
            } else {
                format!("; before it: {}", l.reachable_before.join(", "))
            };
            format!("  {} ({}): {}{before}", l.account, l.account_id, l.role)
        })
        .collect();
    Err(Failure(format!(
        "refusing to apply: after this plan nobody able to meet the MFA condition could reach an administrator role in:\n{}\n\
         Give someone administrator access there, or pass --allow-lockout if that is really intended.",
        accounts.join("\n")
    )))
}

fn stale_plan() -> Failure {
    Failure(
        "the saved plan is stale: live state changed since it was made. Nothing was changed; run `jumpgate plan` again."
            .into(),
    )
}

/// What an apply did under the lock.
struct Applied {
    report: ApplyReport,
    /// The outcome of planning and applying what depends on new accounts,
    /// apart so that the report is printed even when it failed.
    follow_up: Result<(), Failure>,
    /// What `--only` left for later.
    pending: Vec<plan::Change>,
}

/// Under the lock, reads live state again: if it moved since planning
/// (another apply, a change by hand, a StackSet operation an interrupted
/// apply left running), an approved plan is refused and a `--yes` apply
/// plans again. Then applies, re-checking before every stage that the lock
/// is still this run's, and with no `--only` also what depends on accounts
/// it created. `None` when the plan made again has nothing to do.
async fn apply_locked(
    aws: &Aws,
    planner: &Planner<'_>,
    (planned, pending): (Plan, Vec<plan::Change>),
    approval: Approval,
    held: &str,
) -> Result<Option<Applied>, Failure> {
    let live = observe(aws, planner.desired).await?;
    let (plan, pending) = if live.fingerprint() == planned.fingerprint {
        (planned, pending)
    } else {
        match approval {
            Approval::Saved => return Err(stale_plan()),
            Approval::Confirmed => {
                return Err(Failure(
                    "live state changed while the plan awaited confirmation. Nothing was changed; run `jumpgate apply` again to see the new plan."
                        .into(),
                ));
            }
            Approval::Given => {
                eprintln!(
                    "Live state changed since the plan was made; planned again under the lock."
                );
                let (plan, pending) = planner.plan(&live)?;
                if plan.is_empty() {
                    return Ok(None);
                }
                planner.vet(&plan)?;
                (plan, pending)
            }
        }
    };
    let lost: Mutex<Option<String>> = Mutex::new(None);
    let still_held = async || match lock::check(aws, held).await {
        Ok(()) => true,
        Err(err) => {
            *lost.lock().expect("not poisoned") = Some(err.to_string());
            false
        }
    };
    let mut progress = Progress::on_stderr();
    let mut report =
        apply::apply_checked(aws, &plan, planner.options, &still_held, &mut progress).await;
    let follow_up = if planner.only.is_empty() {
        follow_up_new_accounts(
            aws,
            planner.desired,
            planner.options,
            planner.allow_lockout,
            &still_held,
            &mut progress,
            &mut report,
        )
        .await
    } else {
        Ok(())
    };
    if let Some(reason) = lost.into_inner().expect("not poisoned") {
        eprintln!("Stopped before the next stage: {reason}.");
    }
    Ok(Some(Applied {
        report,
        follow_up,
        pending,
    }))
}

/// What depends on new accounts' ids could not be planned before they
/// existed: plan it now, under the same lock, and finish.
async fn follow_up_new_accounts(
    aws: &Aws,
    desired: &DesiredState,
    options: &ApplyOptions,
    allow_lockout: bool,
    still_held: &impl AsyncFn() -> bool,
    progress: &mut Progress,
    report: &mut ApplyReport,
) -> Result<(), Failure> {
    let created_accounts = report
        .applied
        .iter()
        .any(|c| c.kind() == plan::Kind::Account);
    if created_accounts && report.succeeded() {
        let live = observe(aws, desired).await?;
        let follow_up = plan::build(desired, &live);
        if !allow_lockout {
            // The new accounts are targets now: they must have an administrator too.
            refuse_lockouts(&follow_up).map_err(|Failure(why)| {
                Failure(format!(
                    "the new accounts were created, but what depends on them was not applied: {why}"
                ))
            })?;
        }
        if !follow_up.is_empty() && still_held().await {
            eprintln!("\nThe new accounts exist; what depends on them:\n");
            eprint!(
                "{}",
                render::render(&follow_up, Format::Text, Style { color: false })
            );
            let more = apply::apply_checked(aws, &follow_up, options, still_held, progress).await;
            report.merge(more);
        }
        for (name, id, email) in created_account_ids(desired, &live) {
            println!(
                "Account {name} is {id}: jumpgate finds it by its e-mail ({email}); you may also write id=\"{id}\" on its line."
            );
        }
    }
    Ok(())
}

/// Accounts the file gives only by e-mail, with the ids the organization
/// now has for them.
fn created_account_ids(
    desired: &DesiredState,
    live: &jumpgate::live::LiveState,
) -> Vec<(String, String, String)> {
    let resolved = plan::resolve_account_ids(desired, live);
    desired
        .accounts
        .iter()
        .zip(&resolved.accounts)
        .filter(|(declared, _)| declared.id.is_none())
        .filter_map(|(declared, resolved)| {
            Some((
                declared.name.to_string(),
                resolved.id.as_ref()?.to_string(),
                declared.email.as_ref()?.to_string(),
            ))
        })
        .collect()
}

/// Progress on stderr: a bar on a terminal, a line per change elsewhere.
struct Progress {
    total: usize,
    done: usize,
    bar: bool,
}

impl Progress {
    fn on_stderr() -> Self {
        Self {
            total: 0,
            done: 0,
            bar: std::io::stderr().is_terminal(),
        }
    }
}

impl ApplyObserver for Progress {
    fn notify(&mut self, event: ApplyEvent<'_>) {
        let (change, failure) = match event {
            ApplyEvent::Started { changes } => {
                self.total = changes;
                self.done = 0;
                return;
            }
            ApplyEvent::Applied(change) => (change, None),
            ApplyEvent::Failed(change, error) => (change, Some(error)),
        };
        self.done += 1;
        let (done, total) = (self.done, self.total);
        let symbol = change.action.symbol();
        match (failure, self.bar) {
            (None, true) => {
                const WIDTH: usize = 30;
                let filled = WIDTH * done / total.max(1);
                eprint!(
                    "\r\x1b[2K[{}{}] {done}/{total} {symbol} {}",
                    "=".repeat(filled),
                    " ".repeat(WIDTH - filled),
                    change.address
                );
                if done == total {
                    eprintln!();
                }
            }
            (None, false) => eprintln!("[{done}/{total}] {symbol} {}: done", change.address),
            (Some(error), bar) => {
                let start = if bar { "\r\x1b[2K" } else { "" };
                eprintln!(
                    "{start}[{done}/{total}] {symbol} {}: FAILED: {error}",
                    change.address
                );
            }
        }
    }
}

fn print_report(report: &ApplyReport, desired: &DesiredState) {
    let summary = plan::Summary::of(&report.applied);
    if report.succeeded() {
        println!(
            "Apply complete: {} added, {} changed, {} destroyed.",
            summary.add, summary.change, summary.destroy
        );
    } else {
        println!(
            "Apply failed: {} changes made, {} failed, {} not attempted. Run apply again once the cause is fixed; it finishes the job.",
            report.applied.len(),
            report.failed.len(),
            report.not_attempted
        );
        for (change, reason) in &report.failed {
            println!("  {} {}: {reason}", change.action.symbol(), change.address);
        }
    }
    if !report.secrets.is_empty() {
        println!();
        println!(
            "Initial passwords (changed at first sign-in at https://{}.signin.aws.amazon.com/console):",
            desired.jump.id
        );
        for (user, delivered) in &report.secrets {
            match delivered {
                Delivered::AgeFile(path) => {
                    println!("  {user}: encrypted to their age key in {}", path.display())
                }
                Delivered::PlainFile(path) => {
                    println!("  {user}: in {} (readable only by you)", path.display())
                }
                Delivered::AgeArmored(armored) => {
                    println!("  {user}: encrypted to their age key (decrypt with `age -d`):");
                    println!("{armored}");
                }
            }
        }
    }
}
