//! Issue #3's acceptance tests: `plan` and `apply` as users run them, the
//! built binary against a local AWS (moto), checked in the emulator's state
//! and, where moto is lax (teardown order, what was sent), in its request
//! recording. Each test starts its own emulator.

mod support;

#[path = "plan_apply/harness.rs"]
mod harness;

#[path = "plan_apply/from_empty.rs"]
mod from_empty;

#[path = "plan_apply/offboarding.rs"]
mod offboarding;

#[path = "plan_apply/accounts.rs"]
mod accounts;

#[path = "plan_apply/guards.rs"]
mod guards;

#[path = "plan_apply/json_plan.rs"]
mod json_plan;

#[path = "plan_apply/only.rs"]
mod only;
