//! Typed access to one KDL node's arguments and properties, reporting every
//! misuse (unknown or repeated property, wrong type, missing argument) as a
//! problem rather than stopping at the first.

use kdl::{KdlNode, KdlValue};
use miette::SourceSpan;

use super::diagnostic::{Location, Problem};
use super::suggest::did_you_mean;
use crate::model::names::shown;

/// A value with the place it was written.
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub at: Location,
}

pub struct NodeReader<'a> {
    pub node: &'a KdlNode,
    pub file: usize,
    pub problems: &'a mut Vec<Problem>,
}

impl<'a> NodeReader<'a> {
    /// Checks the node's entries against what it accepts: `arguments` names
    /// the positional arguments in order, `properties` the allowed keys.
    pub fn new(
        node: &'a KdlNode,
        file: usize,
        problems: &'a mut Vec<Problem>,
        arguments: &[&str],
        properties: &[&str],
    ) -> Self {
        let shown_name = shown(node.name().value());
        let name = shown_name.as_str();
        let annotations = node
            .ty()
            .into_iter()
            .chain(node.entries().iter().filter_map(|e| e.ty()));
        for ty in annotations {
            problems.push(
                Problem::new(
                    "type-annotation",
                    Location::new(file, ty.span()),
                    format!("type annotation `({})` is not used by jumpgate", ty.value()),
                    "not used",
                )
                .with_help("remove the parenthesised type"),
            );
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut positional = 0;
        for entry in node.entries() {
            let at = Location::new(file, entry.span());
            match entry.name() {
                None => {
                    if positional >= arguments.len() {
                        let expected = match arguments {
                            [] => format!("`{name}` takes no argument"),
                            [one] => format!("`{name}` takes one argument, the {one}"),
                            many => format!("`{name}` takes {} arguments", many.len()),
                        };
                        problems.push(
                            Problem::new(
                                "extra-argument",
                                at,
                                format!("unexpected argument to `{name}`"),
                                "not expected here",
                            )
                            .with_help(format!("{expected}; settings are written as key=value")),
                        );
                    }
                    positional += 1;
                }
                Some(key) => {
                    let key = key.value();
                    let key_shown = shown(key);
                    if !properties.contains(&key) {
                        let mut problem = Problem::new(
                            "unknown-property",
                            at,
                            format!("unknown property `{key_shown}` on `{name}`"),
                            "unknown property",
                        );
                        problem.help = Some(match did_you_mean(key, properties) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None if properties.is_empty() => format!("`{name}` takes no property"),
                            None => format!("`{name}` accepts: {}", properties.join(", ")),
                        });
                        problems.push(problem);
                    } else if seen.contains(&key) {
                        problems.push(Problem::new(
                            "repeated-property",
                            at,
                            format!("property `{key}` is set twice on `{name}`"),
                            "set again here",
                        ));
                    }
                    seen.push(key);
                }
            }
        }
        Self {
            node,
            file,
            problems,
        }
    }

    pub fn name(&self) -> &str {
        self.node.name().value()
    }

    /// Where the node's name is written: the place node-level problems point to.
    pub fn at(&self) -> Location {
        Location::new(self.file, self.node.name().span())
    }

    /// The string argument at `index`, reporting it when missing or not a string.
    pub fn string_argument(&mut self, index: usize, what: &str) -> Option<Spanned<String>> {
        let entry = self
            .node
            .entries()
            .iter()
            .filter(|e| e.name().is_none())
            .nth(index);
        let Some(entry) = entry else {
            let problem = Problem::new(
                "missing-argument",
                self.at(),
                format!("`{}` needs its {what}", self.name()),
                format!("{what} missing"),
            )
            .with_help(format!(
                "write it after the node name: {} \"...\"",
                self.name()
            ));
            self.problems.push(problem);
            return None;
        };
        let at = Location::new(self.file, entry.span());
        self.expect_string(entry.value(), at, what)
    }

    fn property(&self, key: &str) -> Option<(&'a KdlValue, Location)> {
        let node: &'a KdlNode = self.node;
        // The last occurrence wins in KDL; a repeat was reported already.
        node.entries()
            .iter()
            .rev()
            .find(|e| e.name().is_some_and(|n| n.value() == key))
            .map(|e| (e.value(), Location::new(self.file, e.span())))
    }

    pub fn string(&mut self, key: &str) -> Option<Spanned<String>> {
        let (value, at) = self.property(key)?;
        self.expect_string(value, at, &format!("`{key}`"))
    }

    fn expect_string(
        &mut self,
        value: &KdlValue,
        at: Location,
        what: &str,
    ) -> Option<Spanned<String>> {
        match value {
            KdlValue::String(s) => Some(Spanned {
                value: s.clone(),
                at,
            }),
            other => {
                let shown = other.to_string();
                self.problems.push(
                    Problem::new(
                        "wrong-type",
                        at,
                        format!("{what} must be a string, not {}", type_name(other)),
                        "expected a string",
                    )
                    .with_help(format!("quote it: \"{}\"", shown.trim_start_matches('#'))),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, key: &str) -> Option<Spanned<bool>> {
        let (value, at) = self.property(key)?;
        match value {
            KdlValue::Bool(b) => Some(Spanned { value: *b, at }),
            other => {
                let mut problem = Problem::new(
                    "wrong-type",
                    at,
                    format!("`{key}` must be #true or #false, not {}", type_name(other)),
                    "expected #true or #false",
                );
                if let Some(s) = other.as_string().filter(|s| *s == "true" || *s == "false") {
                    problem = problem.with_help(format!("KDL v2 writes booleans as #{s}"));
                }
                self.problems.push(problem);
                None
            }
        }
    }

    /// An integer property within `min..=max`.
    pub fn integer(&mut self, key: &str, min: i128, max: i128) -> Option<Spanned<i128>> {
        let (value, at) = self.property(key)?;
        match value {
            KdlValue::Integer(n) if (min..=max).contains(n) => Some(Spanned { value: *n, at }),
            KdlValue::Integer(n) => {
                self.problems.push(Problem::new(
                    "out-of-range",
                    at,
                    format!("`{key}` is {n}; it must be between {min} and {max}"),
                    "out of range",
                ));
                None
            }
            other => {
                self.problems.push(Problem::new(
                    "wrong-type",
                    at,
                    format!("`{key}` must be a whole number, not {}", type_name(other)),
                    "expected a number",
                ));
                None
            }
        }
    }

    /// Reports children on a node that takes none.
    pub fn no_children(&mut self) {
        if let Some(children) = self.node.children() {
            let span: SourceSpan = children.span();
            self.problems.push(Problem::new(
                "unexpected-children",
                Location::new(self.file, span),
                format!("`{}` takes no child nodes", self.name()),
                "not allowed here",
            ));
        }
    }
}

fn type_name(value: &KdlValue) -> &'static str {
    match value {
        KdlValue::String(_) => "a string",
        KdlValue::Integer(_) => "a number",
        KdlValue::Float(_) => "a decimal number",
        KdlValue::Bool(_) => "a boolean",
        KdlValue::Null => "#null",
    }
}
