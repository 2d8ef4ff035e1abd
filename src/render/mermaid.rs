//! A Mermaid picture of a plan's access changes for the Markdown comment:
//! users on the left, roles in accounts on the right, a green arrow for
//! each gain and a red dashed one for each loss. GitHub and GitLab draw
//! Mermaid code blocks in comments.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::access::{AccessChange, Direction};

/// Above this many arrows a picture stops helping; the list above it says all.
const MAX_ARROWS: usize = 60;
const GAIN_COLOUR: &str = "#2da44e";
const LOSS_COLOUR: &str = "#cf222e";

/// The ```` ```mermaid ```` block, or `None` when nobody's access changes.
pub(super) fn access_picture(changes: &[AccessChange]) -> Option<String> {
    if changes.is_empty() {
        return None;
    }
    let shown = &changes[..changes.len().min(MAX_ARROWS)];
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    let mut targets: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut out = String::from("```mermaid\nflowchart LR\n");
    for change in shown {
        let next = users.len();
        users.entry(change.user.as_str()).or_insert(next);
        let next = targets.len();
        targets
            .entry((change.role.as_str(), change.account.as_str()))
            .or_insert(next);
    }
    for (user, id) in &users {
        let _ = writeln!(out, "    u{id}[\"{}\"]", label(user));
    }
    for ((role, account), id) in &targets {
        let _ = writeln!(out, "    t{id}[\"{} in {}\"]", label(role), label(account));
    }
    for change in shown {
        let from = users[change.user.as_str()];
        let to = targets[&(change.role.as_str(), change.account.as_str())];
        let arrow = match change.change {
            Direction::Gain => "-- gains -->",
            Direction::Loss => "-. loses .->",
        };
        let _ = writeln!(out, "    u{from} {arrow} t{to}");
    }
    for (index, change) in shown.iter().enumerate() {
        let colour = match change.change {
            Direction::Gain => GAIN_COLOUR,
            Direction::Loss => LOSS_COLOUR,
        };
        let _ = writeln!(out, "    linkStyle {index} stroke:{colour},color:{colour}");
    }
    out.push_str("```\n");
    if changes.len() > shown.len() {
        let _ = writeln!(
            out,
            "\n_The picture shows the first {} of {} access changes; the list above has them all._",
            shown.len(),
            changes.len()
        );
    }
    Some(out)
}

/// Text inside a quoted Mermaid label: quotes and angle brackets as entities.
fn label(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(direction: Direction, user: &str, role: &str, account: &str) -> AccessChange {
        AccessChange {
            change: direction,
            user: user.into(),
            account: account.into(),
            account_id: "222222222222".into(),
            role: role.into(),
            role_arn: format!("arn:aws:iam::222222222222:role/role-{role}"),
            via: vec![format!("group-{role}")],
        }
    }

    #[test]
    fn gains_are_green_arrows_and_losses_red_dashed_ones() {
        let changes = [
            change(Direction::Loss, "tanaka.hanako", "operator", "pay-prod"),
            change(Direction::Gain, "sato.\"kenji\"", "admin", "pay-prod"),
            change(Direction::Gain, "tanaka.hanako", "developer", "pay-prod"),
        ];
        insta::assert_snapshot!(access_picture(&changes).unwrap());
        assert_eq!(access_picture(&[]), None);
    }

    #[test]
    fn a_long_list_is_cut_with_a_note() {
        let changes: Vec<AccessChange> = (0..MAX_ARROWS + 5)
            .map(|i| change(Direction::Gain, &format!("user{i}"), "admin", "pay-prod"))
            .collect();
        let picture = access_picture(&changes).unwrap();
        assert_eq!(picture.matches("-- gains -->").count(), MAX_ARROWS);
        assert!(picture.ends_with(&format!(
            "_The picture shows the first {MAX_ARROWS} of {} access changes; the list above has them all._\n",
            MAX_ARROWS + 5
        )));
    }
}
