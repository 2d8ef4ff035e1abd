//! `import`: the desired state that matches a live jump account.

use std::path::Path;
use std::process::ExitCode;

use jumpgate::aws::{Aws, Connection};

use super::Failure;

/// `import`: reads the whole jump account and writes the matching file.
pub async fn import(connection: &Connection, out: Option<&Path>) -> Result<ExitCode, Failure> {
    use jumpgate::import::{ImportInput, import};
    use jumpgate::model::names::{AccountId, Region};
    if let Some(out) = out
        && out.exists()
    {
        return Err(Failure(format!(
            "{} exists; import writes a new file (remove it or choose another path)",
            out.display()
        )));
    }
    let Some(aws) = Aws::connect_in_configured_region(connection).await else {
        return Err(Failure(
            "no region: pass --region (or set AWS_REGION) to the jump account's home region, where the StackSet iam-roles lives".into(),
        ));
    };
    let region = Region::new(aws.region().unwrap_or_default())?;
    let live = jumpgate::observe::observe_all(&aws).await?;
    let jump: AccountId = live
        .caller_account
        .clone()
        .ok_or_else(|| Failure("the caller's account is unknown".into()))?;
    let imported_at = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let imported = import(&ImportInput {
        jump_account: &jump,
        region: &region,
        live: &live,
        imported_at: &imported_at,
    });
    // Written in `jumpgate fmt`'s layout, so the first `fmt --check` passes.
    let text = match jumpgate::lang::fmt::format(0, &imported.text) {
        Ok(text) => text,
        Err(problems) => {
            let first = problems
                .first()
                .map(|p| p.message.as_str())
                .unwrap_or_default();
            eprintln!(
                "warning: the imported file is written unformatted: it does not parse ({first})"
            );
            imported.text.clone()
        }
    };
    match out {
        Some(out) => {
            std::fs::write(out, &text)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        }
        None => print!("{text}"),
    }
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let s = imported.summary;
    let written = out.map_or("stdout".to_owned(), |o| o.display().to_string());
    eprintln!(
        "Imported jump account {jump} ({region}) to {written}: {} accounts, {} projects, {} roles, {} users.",
        s.accounts, s.projects, s.roles, s.users
    );
    if s.unmanaged > 0 {
        eprintln!(
            "{} user{} outside the jump-account pattern left unmanaged (commented out in the file; see the notes).",
            s.unmanaged,
            if s.unmanaged == 1 { "" } else { "s" }
        );
    }
    if s.to_adopt > 0 {
        let what = if s.to_adopt == 1 {
            "user or group lacks"
        } else {
            "users and groups lack"
        };
        eprintln!(
            "{} {what} jumpgate's marker: `jumpgate plan` shows adopting them as updates; apply to take ownership.",
            s.to_adopt
        );
    } else if let Some(out) = out {
        eprintln!(
            "Next: `jumpgate plan {}` should show no changes.",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
