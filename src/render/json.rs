//! The plan as JSON: the `Plan` serialised as it is, pretty-printed. This is
//! also the saved-plan file `apply --plan` reads back, so it must round-trip.

use crate::plan::Plan;

pub(super) fn render(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(plan).expect("plans serialise");
    text.push('\n');
    text
}
