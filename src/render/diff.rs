//! The one differ: what an update changes, as typed differences that every
//! renderer draws its own way (text lines, a Markdown `diff` block, JSON).

use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};

use crate::plan::{Action, Change, Kind};
use crate::policy::{PolicyDocument, sort_keys};

/// Lines of unchanged template shown around each changed one.
const TEMPLATE_CONTEXT: usize = 2;

/// One difference between a change's `before` and `after`.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// A top-level field whose value differs (absent on one side: `None`).
    Field {
        name: String,
        before: Option<Value>,
        after: Option<Value>,
    },
    /// Values that are not objects, compared whole.
    Value {
        before: Option<Value>,
        after: Option<Value>,
    },
    /// A policy document, one normalised statement per block, so a reviewer
    /// sees which statements changed rather than a reflowed blob.
    Statements(Vec<Line>),
    /// A CloudFormation template, pretty-printed with sorted keys, the
    /// changed lines with a little context; `None` separates hunks.
    Template(Vec<Option<Line>>),
}

/// One line of a line diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tag: Tag,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    Added,
    Removed,
    Kept,
}

impl Tag {
    /// The unified-diff prefix.
    pub fn symbol(self) -> char {
        match self {
            Tag::Added => '+',
            Tag::Removed => '-',
            Tag::Kept => ' ',
        }
    }
}

/// What `change` changes; empty unless it is an update.
pub fn differences(change: &Change) -> Vec<Difference> {
    if change.action != Action::Update {
        return Vec::new();
    }
    let (before, after) = (change.before.as_ref(), change.after.as_ref());
    match change.kind() {
        Kind::GroupPolicy | Kind::ManagedPolicy => {
            vec![Difference::Statements(statement_diff(before, after))]
        }
        Kind::Stack | Kind::StackSet => {
            let mut differences = fields(before, after, &["template"]);
            let (old, new) = (template(before), template(after));
            if old != new {
                differences.push(Difference::Template(json_diff(old, new)));
            }
            differences
        }
        _ => fields(before, after, &[]),
    }
}

fn template(value: Option<&Value>) -> Option<&Value> {
    value.and_then(|v| v.get("template"))
}

/// A difference for each top-level field that differs, in the order of
/// `before`'s fields then the new ones of `after`.
fn fields(before: Option<&Value>, after: Option<&Value>, skip: &[&str]) -> Vec<Difference> {
    let empty = Map::new();
    let (Some(old), Some(new)) = (
        before.map(|v| v.as_object().unwrap_or(&empty)),
        after.map(|v| v.as_object().unwrap_or(&empty)),
    ) else {
        return Vec::new();
    };
    if old.is_empty() && new.is_empty() {
        return vec![Difference::Value {
            before: before.cloned(),
            after: after.cloned(),
        }];
    }
    old.keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)))
        .filter(|k| !skip.contains(&k.as_str()))
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| Difference::Field {
            name: k.clone(),
            before: old.get(k).cloned(),
            after: new.get(k).cloned(),
        })
        .collect()
}

fn statement_diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Line> {
    let render = |doc: Option<&Value>| -> String {
        let Some(doc) = doc else { return String::new() };
        // `before` and `after` are display data: the document is read back from them.
        PolicyDocument::from(doc.clone())
            .normalised()
            .statements()
            .into_iter()
            .map(|s| serde_json::to_string_pretty(s).unwrap_or_default() + "\n")
            .collect()
    };
    let (old, new) = (render(before), render(after));
    TextDiff::from_lines(&old, &new)
        .iter_all_changes()
        .map(|change| line(change.tag(), change.value()))
        .collect()
}

fn json_diff(before: Option<&Value>, after: Option<&Value>) -> Vec<Option<Line>> {
    let pretty = |v: Option<&Value>| {
        v.map(|v| serde_json::to_string_pretty(&sort_keys(v)).unwrap_or_default() + "\n")
            .unwrap_or_default()
    };
    let (old, new) = (pretty(before), pretty(after));
    let diff = TextDiff::from_lines(&old, &new);
    let mut lines = Vec::new();
    for (index, group) in diff.grouped_ops(TEMPLATE_CONTEXT).iter().enumerate() {
        if index > 0 {
            lines.push(None);
        }
        for op in group {
            lines.extend(
                diff.iter_changes(op)
                    .map(|change| Some(line(change.tag(), change.value()))),
            );
        }
    }
    lines
}

fn line(tag: ChangeTag, text: &str) -> Line {
    Line {
        tag: match tag {
            ChangeTag::Insert => Tag::Added,
            ChangeTag::Delete => Tag::Removed,
            ChangeTag::Equal => Tag::Kept,
        },
        text: text.trim_end_matches('\n').to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn policy_diffs_show_changed_statements_only() {
        let before = json!({"Statement": [{"Effect": "Allow", "Action": "a:A", "Resource": "*"}]});
        let after = json!({"Statement": [{"Effect": "Allow", "Action": "a:A", "Resource": "*"},
            {"Effect": "Deny", "Action": "b:B", "Resource": "*"}]});
        let lines = statement_diff(Some(&before), Some(&after));
        let has = |tag, text: &str| lines.iter().any(|l| l.tag == tag && l.text == text);
        assert!(has(Tag::Added, "  \"Effect\": \"Deny\","), "{lines:?}");
        assert!(!has(Tag::Removed, "  \"Effect\": \"Allow\","), "{lines:?}");
    }

    #[test]
    fn fields_that_differ_are_listed_in_order_and_the_same_are_not() {
        let before = json!({"name": "a", "path": "/", "tags": {}});
        let after = json!({"name": "a", "path": "/jumpgate/", "renamed_from": "A"});
        let names: Vec<String> = fields(Some(&before), Some(&after), &[])
            .into_iter()
            .map(|d| match d {
                Difference::Field { name, .. } => name,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["path", "tags", "renamed_from"]);
    }
}
