//! Issue #3's acceptance tests: `plan` and `apply` as users run them, the
//! built binary against a local AWS (moto), checked in the emulator's state
//! and, where moto is lax (teardown order, what was sent), in its request
//! recording. Each test starts its own emulator.

mod support;

// An inline module, so that its files live in `tests/plan_apply/`.
mod plan_apply {
    mod accounts;
    mod from_empty;
    mod guards;
    mod json_plan;
    mod offboarding;
    mod only;
}
