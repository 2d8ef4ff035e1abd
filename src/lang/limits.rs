//! Guards run before the KDL parser sees a file. The parser is recursive
//! (child blocks, block comments, `/-` chains, type annotations), so a
//! hostile or corrupted file could overflow the stack and abort the process.
//! A desired-state file nests two levels at most; anything far beyond the
//! limits below is reported as a problem and the file is not parsed.

use miette::SourceSpan;

use super::diagnostic::{Location, Problem};

/// Child blocks (`{`) open at once; the language uses two.
pub const MAX_NESTING: usize = 64;
/// Parts (`*`, `/`, runs of other text, nested comments) of one block comment.
pub const MAX_COMMENT_PARTS: usize = 10_000;
/// Block comments open inside each other.
pub const MAX_COMMENT_NESTING: usize = 64;
/// `/-` markers in a row.
pub const MAX_SLASHDASH_RUN: usize = 16;
/// `(` open at once; a type annotation uses one.
pub const MAX_PARENS: usize = 16;

/// The first place in `text` that exceeds one of the limits, if any.
pub fn check(file: usize, text: &str) -> Option<Problem> {
    Scanner {
        bytes: text.as_bytes(),
        pos: 0,
    }
    .run()
    .map(|(offset, len, what)| {
        let (message, help) = what.describe();
        Problem::new(
            "too-complex",
            Location::new(file, SourceSpan::from((offset, len))),
            message,
            "limit exceeded here",
        )
        .with_help(format!("{help}; the file was not parsed"))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exceeded {
    Nesting,
    CommentParts,
    CommentNesting,
    Slashdash,
    Parens,
}

impl Exceeded {
    fn describe(self) -> (String, String) {
        match self {
            Exceeded::Nesting => (
                format!("child blocks are nested more than {MAX_NESTING} levels deep"),
                "jumpgate's nodes nest two levels at most (`project` > `account`, `user` > `access`)"
                    .to_owned(),
            ),
            Exceeded::CommentParts => (
                format!(
                    "this block comment has more than {MAX_COMMENT_PARTS} parts (`*`, `/` or text between them)"
                ),
                "shorten the comment or use `//` line comments".to_owned(),
            ),
            Exceeded::CommentNesting => (
                format!("block comments are nested more than {MAX_COMMENT_NESTING} levels deep"),
                "close each `/*` with `*/`".to_owned(),
            ),
            Exceeded::Slashdash => (
                format!("more than {MAX_SLASHDASH_RUN} `/-` markers in a row"),
                "one `/-` comments out the item after it".to_owned(),
            ),
            Exceeded::Parens => (
                format!("parentheses are nested more than {MAX_PARENS} levels deep"),
                "parentheses only enclose a type annotation such as `(u8)`".to_owned(),
            ),
        }
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

type Found = (usize, usize, Exceeded);

impl Scanner<'_> {
    fn at(&self, offset: usize, s: &[u8]) -> bool {
        self.bytes[offset.min(self.bytes.len())..].starts_with(s)
    }

    /// Walks the text as the KDL lexer would, closely enough to skip strings
    /// and comments. It works on bytes: every character that matters is ASCII
    /// and no byte of a multi-byte UTF-8 character is.
    fn run(&mut self) -> Option<Found> {
        let mut depth = 0usize;
        let mut parens = 0usize;
        let mut slashdashes = 0usize;
        while let Some(&b) = self.bytes.get(self.pos) {
            let start = self.pos;
            match b {
                b'"' => {
                    self.skip_quoted();
                    slashdashes = 0;
                }
                b'#' => {
                    let hashes = self.bytes[start..]
                        .iter()
                        .take_while(|&&c| c == b'#')
                        .count();
                    if self.at(start + hashes, b"\"") {
                        self.pos = start + hashes;
                        self.skip_raw(hashes);
                    } else {
                        self.pos = start + hashes;
                    }
                    slashdashes = 0;
                }
                b'/' if self.at(start, b"//") => self.skip_line(),
                b'/' if self.at(start, b"/*") => {
                    if let Some(found) = self.skip_block_comment() {
                        return Some(found);
                    }
                }
                b'/' if self.at(start, b"/-") => {
                    slashdashes += 1;
                    if slashdashes > MAX_SLASHDASH_RUN {
                        return Some((start, 2, Exceeded::Slashdash));
                    }
                    self.pos += 2;
                }
                // Blocks and parentheses nest alike, each kind against its own limit.
                b'{' | b'(' => {
                    let (open, max, exceeded) = if b == b'{' {
                        (&mut depth, MAX_NESTING, Exceeded::Nesting)
                    } else {
                        (&mut parens, MAX_PARENS, Exceeded::Parens)
                    };
                    *open += 1;
                    if *open > max {
                        return Some((start, 1, exceeded));
                    }
                    slashdashes = 0;
                    self.pos += 1;
                }
                b'}' | b')' => {
                    let open = if b == b'}' { &mut depth } else { &mut parens };
                    *open = open.saturating_sub(1);
                    slashdashes = 0;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | b'\n' | b'\\' => self.pos += 1,
                _ => {
                    slashdashes = 0;
                    self.pos += 1;
                }
            }
        }
        None
    }

    fn skip_line(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            self.pos += 1;
            if b == b'\n' {
                break;
            }
        }
    }

    /// A `"…"` or `"""…"""` string, with backslash escapes. A single-line
    /// string also ends at a newline (a syntax error the parser will report).
    fn skip_quoted(&mut self) {
        let multiline = self.at(self.pos, b"\"\"\"");
        self.pos += if multiline { 3 } else { 1 };
        while let Some(&b) = self.bytes.get(self.pos) {
            match b {
                b'\\' => self.pos += 2,
                b'"' if !multiline => {
                    self.pos += 1;
                    return;
                }
                b'"' if self.at(self.pos, b"\"\"\"") => {
                    self.pos += 3;
                    return;
                }
                b'\n' if !multiline => return,
                _ => self.pos += 1,
            }
        }
    }

    /// A raw string `#"…"#` (or `#"""…"""#`), `self.pos` at its first quote.
    fn skip_raw(&mut self, hashes: usize) {
        let multiline = self.at(self.pos, b"\"\"\"");
        let quotes = if multiline { 3 } else { 1 };
        self.pos += quotes;
        while self.pos < self.bytes.len() {
            let closing = self.bytes[self.pos..].starts_with(&b"\"\"\""[..quotes])
                && self.bytes[self.pos + quotes..]
                    .iter()
                    .take(hashes)
                    .filter(|&&c| c == b'#')
                    .count()
                    == hashes;
            if closing {
                self.pos += quotes + hashes;
                return;
            }
            if !multiline && self.bytes[self.pos] == b'\n' {
                return;
            }
            self.pos += 1;
        }
    }

    /// A block comment, nested ones included, counting the parts the parser
    /// recurses on.
    fn skip_block_comment(&mut self) -> Option<Found> {
        let start = self.pos;
        let mut nesting = 0usize;
        let mut parts = 0usize;
        while self.pos < self.bytes.len() {
            if self.at(self.pos, b"/*") {
                nesting += 1;
                if nesting > MAX_COMMENT_NESTING {
                    return Some((self.pos, 2, Exceeded::CommentNesting));
                }
                self.pos += 2;
            } else if self.at(self.pos, b"*/") {
                nesting -= 1;
                self.pos += 2;
                if nesting == 0 {
                    return None;
                }
            } else {
                if !matches!(self.bytes[self.pos], b'*' | b'/') {
                    while self
                        .bytes
                        .get(self.pos + 1)
                        .is_some_and(|b| !matches!(b, b'*' | b'/'))
                    {
                        self.pos += 1;
                    }
                }
                self.pos += 1;
            }
            parts += 1;
            if parts > MAX_COMMENT_PARTS {
                return Some((start, 2, Exceeded::CommentParts));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exceeded(text: &str) -> Option<(usize, Exceeded)> {
        Scanner {
            bytes: text.as_bytes(),
            pos: 0,
        }
        .run()
        .map(|(offset, _, what)| (offset, what))
    }

    #[test]
    fn ordinary_files_pass() {
        let text = r##"
            jump-account id="1" { password-policy min-length=14 }
            /* a /* nested */ comment ** // */
            user "a{{{{" note=#"raw "{{{{" string"# { access "admin" }
            user "b" text="""
                {{{{ "" }}}}
                """ /- ignored=1
            // {{{{{{
            (ty)node
        "##;
        assert_eq!(exceeded(text), None);
    }

    #[test]
    fn deep_nesting_is_found_where_it_starts() {
        let text = "a {".repeat(10_000);
        assert_eq!(
            exceeded(&text),
            Some((3 * MAX_NESTING + 2, Exceeded::Nesting))
        );
        // Balanced blocks only count while open.
        assert_eq!(exceeded(&"a { }\n".repeat(10_000)), None);
    }

    #[test]
    fn other_recursive_constructs_are_bounded() {
        let stars = format!("/*{}*/", "*".repeat(MAX_COMMENT_PARTS + 1));
        assert_eq!(exceeded(&stars), Some((0, Exceeded::CommentParts)));
        let nested = "/*".repeat(1000);
        assert!(matches!(
            exceeded(&nested),
            Some((_, Exceeded::CommentNesting))
        ));
        let slashdashes = format!("a {} 1", "/-".repeat(1000));
        assert!(matches!(
            exceeded(&slashdashes),
            Some((_, Exceeded::Slashdash))
        ));
        let parens = format!("a {}", "(".repeat(1000));
        assert!(matches!(exceeded(&parens), Some((_, Exceeded::Parens))));
    }
}
