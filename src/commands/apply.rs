//! `apply` (with its guards: saved plans, lockouts, secrets, confirmation,
//! the lock) and `unlock`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jumpgate::apply::{self, ApplyOptions, ApplyReport};
use jumpgate::aws::{Aws, Connection, LockStore, ReadEstate};
use jumpgate::lock::{self, Holder};
use jumpgate::model::desired::DesiredState;
use jumpgate::observe::observe;
use jumpgate::plan::{self, Plan};
use jumpgate::render::{self, Format, Style};
use jumpgate::secrets::Delivered;

use super::{Failure, color_enabled, confirm, load};

pub async fn apply(
    connection: &Connection,
    path: PathBuf,
    plan: Option<PathBuf>,
    yes: bool,
    secrets_dir: Option<PathBuf>,
    allow_lockout: bool,
    only: &[String],
) -> Result<ExitCode, Failure> {
    let desired = load(&path)?;
    let saved = plan.as_deref().map(read_saved_plan).transpose()?;
    let aws = Aws::connect(&connection, desired.jump.region.as_str()).await;
    let options = ApplyOptions {
        secrets_dir,
        changes_at_once: connection.concurrency,
    };
    run_apply(&aws, &desired, saved, &options, yes, allow_lockout, only).await
}

pub async fn unlock(
    connection: &Connection,
    yes: bool,
    fallback_region: String,
) -> Result<ExitCode, Failure> {
    let aws = Aws::connect(&connection, &fallback_region).await;
    let Some(description) = aws.read_lock().await? else {
        println!("No apply holds the lock.");
        return Ok(ExitCode::SUCCESS);
    };
    println!("The lock is held by {}.", Holder::describe(&description));
    if !yes && !confirm("Break it? Only do so if that apply is no longer running.")? {
        return Err(Failure("not unlocked".into()));
    }
    lock::release(&aws).await?;
    println!("Lock broken. The next apply finishes whatever the interrupted one left.");
    Ok(ExitCode::SUCCESS)
}

fn read_saved_plan(path: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a jumpgate plan: {e}", path.display()))?;
    if plan.format_version != plan::FORMAT_VERSION {
        return Err(Failure(format!(
            "{} has plan format {}, this jumpgate reads format {}",
            path.display(),
            plan.format_version,
            plan::FORMAT_VERSION
        )));
    }
    Ok(plan)
}

async fn run_apply(
    aws: &Aws,
    desired: &DesiredState,
    saved: Option<Plan>,
    options: &ApplyOptions,
    yes: bool,
    allow_lockout: bool,
    only: &[String],
) -> Result<ExitCode, Failure> {
    // Plan without the lock first: an apply with nothing to do changes nothing, not even the lock.
    let live = observe(aws, desired).await?;
    let fresh = plan::build(desired, &live);
    let plan = match saved {
        Some(saved) => {
            if saved.jump_account != desired.jump.id {
                return Err(Failure(format!(
                    "the saved plan is for jump account {}, the file declares {}",
                    saved.jump_account, desired.jump.id
                )));
            }
            if saved.fingerprint != fresh.fingerprint {
                return Err(stale_plan());
            }
            saved
        }
        None => fresh,
    };
    let (plan, pending) = super::select_only(plan, only)?;
    if plan.is_empty() {
        println!("No changes. Live state matches the desired state.");
        return Ok(ExitCode::SUCCESS);
    }
    if !plan.blockers.is_empty() {
        return Err(Failure(format!(
            "refusing to apply: {}",
            plan.blockers.join("; ")
        )));
    }
    if !plan.lockouts.is_empty() && !allow_lockout {
        let accounts: Vec<String> = plan
            .lockouts
            .iter()
            .map(|l| format!("{} ({})", l.account, l.account_id))
            .collect();
        return Err(Failure(format!(
            "refusing to apply: nobody could reach the admin role in {}.\n\
             Give someone admin access there, or pass --allow-lockout if that is really intended.",
            accounts.join(", ")
        )));
    }
    apply::check_secrets(&plan, options)?;
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
    lock::acquire(aws, &Holder::this_process(&caller.arn)).await?;
    let outcome = apply_locked(aws, desired, &plan, options, only.is_empty()).await;
    let released = lock::release(aws).await;
    let (report, follow_up) = outcome?;
    // What was done, and any password delivered, is printed whatever
    // failed afterwards: the next apply would not deliver it again.
    print_report(&report, desired);
    follow_up?;
    released.map_err(|e| {
        format!("the apply finished but releasing the lock failed ({e}); run `jumpgate unlock`")
    })?;
    super::print_pending(&pending, &mut std::io::stdout())?;
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn stale_plan() -> Failure {
    Failure(
        "the saved plan is stale: live state changed since it was made. Nothing was changed; run `jumpgate plan` again."
            .into(),
    )
}

/// Under the lock, checks that nothing moved since planning, then applies;
/// with `follow_up`, also what depends on accounts it created. Returns the
/// report with the outcome of that follow-up, so the report is printed even
/// when the follow-up fails.
async fn apply_locked(
    aws: &Aws,
    desired: &DesiredState,
    plan: &Plan,
    options: &ApplyOptions,
    follow_up: bool,
) -> Result<(ApplyReport, Result<(), Failure>), Failure> {
    let live = observe(aws, desired).await?;
    if live.fingerprint() != plan.fingerprint {
        return Err(stale_plan());
    }
    let mut report = apply::apply(aws, plan, options).await;
    let follow_up = if follow_up {
        follow_up_new_accounts(aws, desired, options, &mut report).await
    } else {
        Ok(())
    };
    Ok((report, follow_up))
}

/// What depends on new accounts' ids could not be planned before they
/// existed: plan it now, under the same lock, and finish.
async fn follow_up_new_accounts(
    aws: &Aws,
    desired: &DesiredState,
    options: &ApplyOptions,
    report: &mut ApplyReport,
) -> Result<(), Failure> {
    let created_accounts = report.applied.iter().any(|c| c.kind == plan::Kind::Account);
    if created_accounts && report.succeeded() {
        let live = observe(aws, desired).await?;
        let follow_up = plan::build(desired, &live);
        if !follow_up.is_empty() {
            eprintln!("\nThe new accounts exist; what depends on them:\n");
            eprint!(
                "{}",
                render::render(&follow_up, Format::Text, Style { color: false })
            );
            let more = apply::apply(aws, &follow_up, options).await;
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
