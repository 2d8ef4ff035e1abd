//! Member accounts: `bootstrap` (the StackSet execution role, with the
//! account's own credentials) and `templates` (what gets deployed, for review).

use std::path::PathBuf;
use std::process::ExitCode;

use jumpgate::aws::{Aws, ChangeEstate, Connection, ReadEstate};
use jumpgate::plan;
use jumpgate::templates::{EXECUTION_ROLE_NAME, EXECUTION_ROLE_STACK, ROLES_STACK_SET};

use super::{Failure, load};

pub async fn bootstrap(
    connection: &Connection,
    path: PathBuf,
    account: String,
) -> Result<ExitCode, Failure> {
    let desired = load(&path)?;
    let Some(declared) = desired.accounts.iter().find(|a| a.name.as_str() == account) else {
        let names: Vec<&str> = desired.accounts.iter().map(|a| a.name.as_str()).collect();
        return Err(Failure(format!(
            "no account named {account} in the file (accounts: {})",
            names.join(", ")
        )));
    };
    let Some(id) = &declared.id else {
        return Err(Failure(format!(
            "account {account} has no id yet; in Organizations mode `apply` creates and bootstraps it"
        )));
    };
    let aws = Aws::connect(connection, desired.jump.region.as_str()).await;
    let caller = aws.caller().await?;
    if caller.account != id.as_str() {
        return Err(Failure(format!(
            "the credentials are for account {} ({}), not {account} ({id}); pass --profile with credentials for {account}",
            caller.account, caller.arn
        )));
    }
    let template = jumpgate::templates::execution_role();
    let parameters = jumpgate::templates::execution_role_parameters(&desired.jump.id);
    let live = aws.stack(EXECUTION_ROLE_STACK).await?;
    // Made by hand or by AWS's sample template (same name): a stack would
    // fail on the name, so the role is used as it is.
    if live.is_none() && aws.role_exists(EXECUTION_ROLE_NAME).await? {
        println!(
            "{account} ({id}) already has {EXECUTION_ROLE_NAME}, made outside jumpgate; it is used as it is. It must trust the jump account's AWSCloudFormationStackSetAdministrationRole ({}) and may manage the role-* roles; `jumpgate apply` reports the account if it cannot.",
            desired.jump.id
        );
        return Ok(ExitCode::SUCCESS);
    }
    let operations = match plan::stack_need(
        EXECUTION_ROLE_STACK,
        live.as_ref(),
        &template,
        &parameters,
    ) {
        plan::StackNeed::UpToDate => {
            println!("{account} ({id}) already has the StackSet execution role; nothing to do.");
            return Ok(ExitCode::SUCCESS);
        }
        plan::StackNeed::Stuck(status) => {
            return Err(Failure(format!(
                "stack {EXECUTION_ROLE_STACK} in {account} ({id}) is {status}; fix it in the CloudFormation console (jumpgate cannot update it in that state)"
            )));
        }
        plan::StackNeed::Change { operations, .. } => operations,
    };
    for operation in &operations {
        eprintln!(
            "{} stack {EXECUTION_ROLE_STACK} in {account} ({id})",
            operation.name()
        );
        aws.call(operation).await?;
    }
    println!(
        "{account} ({id}) has the StackSet execution role, trusting jump account {}. `jumpgate apply` can now deploy the roles there.",
        desired.jump.id
    );
    Ok(ExitCode::SUCCESS)
}

pub fn templates(path: PathBuf, out: PathBuf) -> Result<ExitCode, Failure> {
    let desired = load(&path)?;
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let templates = [
        (
            jumpgate::templates::ADMIN_ROLE_STACK,
            jumpgate::templates::admin_role(),
        ),
        (EXECUTION_ROLE_STACK, jumpgate::templates::execution_role()),
        (
            ROLES_STACK_SET,
            jumpgate::templates::iam_roles(desired.roles.values()),
        ),
    ];
    for (name, template) in templates {
        let file = out.join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(&template).expect("templates serialise") + "\n";
        std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        println!("{}", file.display());
    }
    Ok(ExitCode::SUCCESS)
}
