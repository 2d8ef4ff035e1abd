//! `jumpgate fmt`: the canonical layout of a KDL file, comments kept.
//!
//! The parser gives the nodes and their spans; everything between two nodes
//! (comments, blank lines, `/-` slashdashed nodes) is read back from the
//! source text, because the parser's own format records drop some comments
//! (one after a closing `}`, for instance). The canonical form:
//!
//! - four spaces per level, one node per line, a single space between
//!   entries, `key=value` without spaces, ` {` on the node's line;
//! - node names and property keys bare where KDL allows, string values
//!   always quoted, numbers and keywords as KDL prints them;
//! - at most one blank line in a row, none at the start or end of a block;
//! - consecutive nodes of one name (without children, comments or blank
//!   lines between them) aligned as a table: each entry starts in the same
//!   column; trailing `//` comments of consecutive lines aligned too;
//! - a node longer than [`MAX_WIDTH`] wrapped with `\` continuations;
//! - a node with comments or type annotations among its entries is kept as
//!   written (re-indented only), so no comment is ever lost or moved.

use kdl::{KdlDocument, KdlEntry, KdlNode, KdlValue};

use super::diagnostic::Problem;
use super::syntax;

/// Indentation of one level.
const INDENT: &str = "    ";

/// Lines longer than this are wrapped between entries.
pub const MAX_WIDTH: usize = 100;

/// The canonical form of one file's text, or the problems that stop it from
/// parsing (`file` is the index problems refer to).
pub fn format(file: usize, text: &str) -> Result<String, Vec<Problem>> {
    let document = syntax::parse(file, text)?;
    Ok(format_document(text, &document))
}

/// The canonical form of an already parsed document whose spans point into `text`.
pub fn format_document(text: &str, document: &KdlDocument) -> String {
    let mut out = String::new();
    let (_, lines) = block_lines(text, document.nodes(), 0..text.len(), 0, BlockStart::File);
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Where a block's first gap starts: text on its first line belongs to the
/// `{` line inside a block, to nothing at the top of a file.
#[derive(Clone, Copy, PartialEq)]
enum BlockStart {
    File,
    Brace,
}

/// One node as laid out before alignment.
struct Row {
    /// Comment and blank lines before the node, already indented.
    before: Vec<String>,
    /// Name and entries, one token each; `None` when the header is kept as written.
    tokens: Option<Vec<String>>,
    /// The header as written, used when `tokens` is `None`.
    verbatim: String,
    /// The child block's lines (without the closing brace), if any.
    children: Option<Children>,
    /// A comment after the node on its last line.
    trailing: Option<String>,
}

struct Children {
    /// A comment on the `{` line.
    on_brace: Option<String>,
    lines: Vec<String>,
}

/// The lines of a block's content at `depth` (without its braces), after
/// the comment on the `{` line if there is one.
fn block_lines(
    text: &str,
    nodes: &[KdlNode],
    region: std::ops::Range<usize>,
    depth: usize,
    start: BlockStart,
) -> (Option<String>, Vec<String>) {
    let indent = INDENT.repeat(depth);
    let mut rows: Vec<Row> = Vec::new();
    let mut cursor = region.start;
    let mut head_comment = None;
    for (index, node) in nodes.iter().enumerate() {
        let node_start = node.span().offset();
        let gap = Gap::read(&text[cursor..node_start]);
        let first_gap = index == 0;
        let (same_line, mut before) = gap.split(&indent, first_gap && start == BlockStart::File);
        if first_gap {
            head_comment = same_line;
            // No blank line at the start of a block.
            while before.first().is_some_and(|l| l.is_empty()) {
                before.remove(0);
            }
        } else if let Some(previous) = rows.last_mut() {
            previous.trailing = same_line;
        }
        let (row, end) = node_row(text, node, depth, before);
        rows.push(row);
        cursor = end;
    }
    let tail = Gap::read(&text[cursor..region.end]);
    let (same_line, mut after) = tail.split(&indent, rows.is_empty() && start == BlockStart::File);
    match rows.last_mut() {
        Some(last) => last.trailing = same_line,
        None => head_comment = same_line,
    }
    while after.last().is_some_and(|l| l.is_empty()) {
        after.pop();
    }
    // Nor at the start of a block that holds only comments.
    while rows.is_empty() && after.first().is_some_and(|l| l.is_empty()) {
        after.remove(0);
    }

    let mut lines = Vec::new();
    lay_out(&rows, &indent, &mut lines);
    lines.extend(after);
    (head_comment, lines)
}

/// Lays out rows: alignment of runs, trailing comments, child blocks.
fn lay_out(rows: &[Row], indent: &str, lines: &mut Vec<String>) {
    let headers = aligned_headers(rows, indent);
    // Trailing comments of consecutive one-line nodes share a column.
    let mut comment_column = vec![None; rows.len()];
    let mut i = 0;
    while i < rows.len() {
        let mut j = i;
        while j < rows.len()
            && rows[j].children.is_none()
            && !headers[j].contains('\n')
            && (j == i || rows[j].before.is_empty())
        {
            j += 1;
        }
        if j == i {
            i += 1;
            continue;
        }
        let width = (i..j)
            .filter(|&k| rows[k].trailing.is_some())
            .map(|k| headers[k].chars().count())
            .max();
        for column in &mut comment_column[i..j] {
            *column = width;
        }
        i = j;
    }
    for (k, row) in rows.iter().enumerate() {
        lines.extend(row.before.iter().cloned());
        let mut header = headers[k].clone();
        if let Some(children) = &row.children {
            header = open_block(&header, indent);
            if children.lines.is_empty() && children.on_brace.is_none() {
                header.push('}');
            } else {
                if let Some(comment) = &children.on_brace {
                    header.push(' ');
                    header.push_str(comment);
                }
                lines.push(header);
                lines.extend(children.lines.iter().cloned());
                header = format!("{indent}}}");
            }
        }
        if let Some(comment) = &row.trailing {
            let width = comment_column[k].unwrap_or(0);
            let pad = width.saturating_sub(header.chars().count());
            header.push_str(&" ".repeat(pad));
            header.push(' ');
            header.push_str(comment);
        }
        lines.push(header);
    }
}

/// A header followed by its block's `{`. A header kept as written may end
/// in a line continuation, dropped before ` {`, or in a continuation with a
/// `//` comment, after which the brace goes on the next line.
fn open_block(header: &str, indent: &str) -> String {
    let header = header.trim_end();
    let last_line = header.rsplit('\n').next().unwrap_or(header);
    if has_line_comment(last_line) {
        return format!("{header}\n{indent}{INDENT}{{");
    }
    let header = header.strip_suffix('\\').map_or(header, str::trim_end);
    format!("{header} {{")
}

/// Whether a line holds a `//` comment outside its strings.
fn has_line_comment(line: &str) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(line, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = block_comment_end(line, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => return true,
            _ => i += 1,
        }
    }
    false
}

/// Each row's header line (indented); runs of same-named one-line nodes are
/// aligned column by column.
fn aligned_headers(rows: &[Row], indent: &str) -> Vec<String> {
    let mut headers: Vec<String> = rows.iter().map(|row| header(row, indent)).collect();
    let alignable = |row: &Row| row.children.is_none() && row.tokens.is_some();
    let mut i = 0;
    while i < rows.len() {
        if !alignable(&rows[i]) || headers[i].contains('\n') {
            i += 1;
            continue;
        }
        let name = &rows[i].tokens.as_ref().expect("alignable")[0];
        let mut j = i + 1;
        while j < rows.len()
            && alignable(&rows[j])
            && rows[j].before.is_empty()
            && !headers[j].contains('\n')
            && rows[j].tokens.as_ref().expect("alignable")[0] == *name
        {
            j += 1;
        }
        if j - i > 1 {
            let run: Vec<&Vec<String>> = rows[i..j]
                .iter()
                .map(|r| r.tokens.as_ref().expect("alignable"))
                .collect();
            let columns = run.iter().map(|t| t.len()).max().unwrap_or(0);
            // A column's width counts only tokens that something follows:
            // the last token of a line needs no padding.
            let widths: Vec<usize> = (0..columns)
                .map(|c| {
                    run.iter()
                        .filter(|t| t.len() > c + 1)
                        .map(|t| t[c].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let aligned: Vec<String> = run
                .iter()
                .map(|tokens| {
                    let mut line = indent.to_owned();
                    for (c, token) in tokens.iter().enumerate() {
                        line.push_str(token);
                        if c + 1 < tokens.len() {
                            let pad = widths[c].saturating_sub(token.chars().count());
                            line.push_str(&" ".repeat(pad + 1));
                        }
                    }
                    line
                })
                .collect();
            // Alignment never makes a line too long: such a run stays unaligned.
            if aligned.iter().all(|l| l.chars().count() <= MAX_WIDTH) {
                headers.splice(i..j, aligned);
            }
        }
        i = j;
    }
    headers
}

/// A row's header, indented, wrapped with `\` continuations if too long.
fn header(row: &Row, indent: &str) -> String {
    let Some(tokens) = &row.tokens else {
        return format!("{indent}{}", row.verbatim);
    };
    let one_line = format!("{indent}{}", tokens.join(" "));
    if one_line.chars().count() <= MAX_WIDTH || tokens.len() < 3 {
        return one_line;
    }
    let continuation = format!("{indent}{INDENT}");
    let mut out = format!("{indent}{}", tokens[0]);
    let mut width = out.chars().count();
    for (k, token) in tokens[1..].iter().enumerate() {
        let len = token.chars().count();
        // Keep room for the " \" that ends a continued line.
        if k > 0 && width + 1 + len + 2 > MAX_WIDTH {
            out.push_str(" \\\n");
            out.push_str(&continuation);
            out.push_str(token);
            width = continuation.chars().count() + len;
        } else {
            out.push(' ');
            out.push_str(token);
            width += 1 + len;
        }
    }
    out
}

/// One node's row and the offset where it ends in `text`.
fn node_row(text: &str, node: &KdlNode, depth: usize, before: Vec<String>) -> (Row, usize) {
    let span = node.span();
    let node_end = trimmed_end(text, span.offset(), span.offset() + span.len());
    let header_end = match node.children() {
        Some(_) => open_brace(text, after_entries(node), node_end),
        None => node_end,
    };
    let header_text = text[span.offset()..header_end].trim_end();
    let tokens = canonical_tokens(node, header_text);
    let children = node.children().map(|children| {
        // Between `{` and the closing `}`.
        let inner = header_end + 1..node_end - 1;
        let (on_brace, lines) =
            block_lines(text, children.nodes(), inner, depth + 1, BlockStart::Brace);
        Children { on_brace, lines }
    });
    let row = Row {
        before,
        tokens,
        verbatim: header_text.to_owned(),
        children,
        trailing: None,
    };
    (row, node_end)
}

/// The end of the header's written entries: the last entry's end, or the name's.
fn after_entries(node: &KdlNode) -> usize {
    node.entries()
        .last()
        .map(|e| e.span().offset() + e.span().len())
        .unwrap_or_else(|| node.name().span().offset() + node.name().span().len())
}

/// The offset of a node's `{`, scanning from `from` past whitespace,
/// comments and slashdashed entries.
fn open_brace(text: &str, from: usize, limit: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < limit {
        match bytes[i] {
            b'{' => return i,
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = line_end(text, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = block_comment_end(text, i),
            b'/' if bytes.get(i + 1) == Some(&b'-') => {
                i += 2;
                while i < limit && (bytes[i] == b' ' || bytes[i] == b'\t') {
                    i += 1;
                }
                // A slashdashed child block is skipped whole; an entry up to whitespace.
                if bytes.get(i) == Some(&b'{') {
                    i = balanced_end(text, i);
                } else {
                    i = token_end(text, i);
                }
            }
            _ => i += 1,
        }
    }
    limit
}

/// Name and entries in canonical spelling, or `None` when the header holds
/// something the canonical form would lose (comments, slashdashed entries,
/// type annotations).
fn canonical_tokens(node: &KdlNode, header_text: &str) -> Option<Vec<String>> {
    if node.ty().is_some() || node.entries().iter().any(|e| e.ty().is_some()) {
        return None;
    }
    // Everything in the header that is not an entry or the name must be
    // whitespace or a line continuation.
    let base = node.span().offset();
    let mut covered = node.name().span().offset() - base + node.name().span().len();
    let mut spans: Vec<(usize, usize)> = node
        .entries()
        .iter()
        .map(|e| (e.span().offset() - base, e.span().len()))
        .collect();
    spans.sort_unstable();
    let plain = |s: &str| s.chars().all(|c| c.is_whitespace() || c == '\\');
    if !plain(&header_text[..node.name().span().offset() - base]) {
        return None;
    }
    for (offset, len) in spans {
        if !plain(header_text.get(covered..offset)?) {
            return None;
        }
        covered = offset + len;
    }
    if !plain(header_text.get(covered..)?) {
        return None;
    }
    let mut tokens = vec![node.name().value().to_owned()]
        .into_iter()
        .map(|name| identifier(&name))
        .collect::<Vec<_>>();
    tokens.extend(node.entries().iter().map(entry));
    Some(tokens)
}

fn entry(entry: &KdlEntry) -> String {
    let value = value(entry.value());
    match entry.name() {
        Some(name) => format!("{}={value}", identifier(name.value())),
        None => value,
    }
}

/// A node name or property key: bare where KDL allows it.
fn identifier(name: &str) -> String {
    KdlValue::String(name.to_owned()).to_string()
}

/// A value: strings always quoted, the rest as KDL prints them.
fn value(value: &KdlValue) -> String {
    let printed = value.to_string();
    match value {
        // Bare identifiers need no escapes: quoting them is enough.
        KdlValue::String(_) if !printed.starts_with('"') => format!("\"{printed}\""),
        _ => printed,
    }
}

/// The end of a span, less trailing whitespace (node spans include it).
fn trimmed_end(text: &str, start: usize, end: usize) -> usize {
    start + text[start..end].trim_end().len()
}

/// What lies between two nodes: comments, slashdashed nodes and line breaks.
struct Gap<'a> {
    pieces: Vec<Piece<'a>>,
}

#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Newline,
    /// A comment or slashdashed node, as written.
    Comment(&'a str),
}

impl<'a> Gap<'a> {
    fn read(gap: &'a str) -> Self {
        let bytes = gap.as_bytes();
        let mut pieces = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let rest = &gap[i..];
            let end = if rest.starts_with("//") {
                line_end(gap, i)
            } else if rest.starts_with("/*") {
                block_comment_end(gap, i)
            } else if rest.starts_with("/-") {
                slashdash_end(gap, i)
            } else {
                let c = rest.chars().next().expect("not at the end");
                if is_newline(c) {
                    // \r\n is one line break.
                    if !(c == '\r' && rest[1..].starts_with('\n')) {
                        pieces.push(Piece::Newline);
                    }
                } else if !(c.is_whitespace() || c == ';' || c == '\\' || c == '\u{feff}') {
                    // Nothing else can stand between nodes; keep it as written.
                    let end = line_end(gap, i);
                    pieces.push(Piece::Comment(gap[i..end].trim_end()));
                    i = end;
                    continue;
                }
                i += c.len_utf8();
                continue;
            };
            pieces.push(Piece::Comment(gap[i..end].trim_end()));
            i = end;
        }
        Gap { pieces }
    }

    /// The comment on the line where the gap starts (after the previous
    /// node or `{`), and the lines after it: comment lines indented, at most
    /// one blank line in a row. At the top of a file (`own_lines`) the first
    /// line is a line of its own.
    fn split(&self, indent: &str, own_lines: bool) -> (Option<String>, Vec<String>) {
        let mut same_line = Vec::new();
        let mut lines: Vec<String> = Vec::new();
        let mut current: Vec<&str> = Vec::new();
        let mut on_first_line = !own_lines;
        let mut blank_run = 0;
        for piece in &self.pieces {
            match piece {
                Piece::Comment(text) if on_first_line => same_line.push(*text),
                Piece::Comment(text) => current.push(text),
                Piece::Newline if on_first_line => on_first_line = false,
                Piece::Newline => {
                    if current.is_empty() {
                        blank_run += 1;
                        if blank_run == 1 {
                            lines.push(String::new());
                        }
                    } else {
                        lines.push(format!("{indent}{}", current.join(" ")));
                        current.clear();
                        blank_run = 0;
                    }
                }
            }
        }
        if !current.is_empty() {
            // Text with no line break before the node: the node moves to the
            // next line, the comment stays on its own.
            lines.push(format!("{indent}{}", current.join(" ")));
        }
        let same_line = (!same_line.is_empty()).then(|| same_line.join(" "));
        (same_line, lines)
    }
}

fn is_newline(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{85}' | '\u{0b}' | '\u{0c}' | '\u{2028}' | '\u{2029}'
    )
}

/// The offset of the line break ending the line at `i` (or the end).
fn line_end(text: &str, i: usize) -> usize {
    text[i..]
        .find(is_newline)
        .map_or(text.len(), |offset| i + offset)
}

/// The end of the (nestable) block comment starting at `i`.
fn block_comment_end(text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0;
    let mut j = i;
    while j + 1 < bytes.len() {
        if bytes[j] == b'/' && bytes[j + 1] == b'*' {
            depth += 1;
            j += 2;
        } else if bytes[j] == b'*' && bytes[j + 1] == b'/' {
            depth -= 1;
            j += 2;
            if depth == 0 {
                return j;
            }
        } else {
            j += 1;
        }
    }
    text.len()
}

/// The end of a slashdashed node starting at `i`: its line, or past its
/// child block, strings skipped.
fn slashdash_end(text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    let mut j = i + 2;
    let mut depth = 0usize;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => j = string_end(text, j),
            b'{' => {
                depth += 1;
                j += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                j += 1;
            }
            b'\\' => j = line_end(text, j).saturating_add(1).min(text.len()),
            b'\n' | b';' if depth == 0 => return j,
            _ => j += 1,
        }
    }
    text.len()
}

/// The end of the `{…}` block starting at `i`.
fn balanced_end(text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut j = i;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => {
                j = string_end(text, j);
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    text.len()
}

/// The end of a token (an entry) starting at `i`: the next whitespace
/// outside a string.
fn token_end(text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    let mut j = i;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => j = string_end(text, j),
            b' ' | b'\t' | b'\n' | b'\r' | b'{' | b';' => return j,
            _ => j += 1,
        }
    }
    text.len()
}

/// The end of the quoted string starting at `i` (escapes skipped).
fn string_end(text: &str, i: usize) -> usize {
    let bytes = text.as_bytes();
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    text.len()
}
