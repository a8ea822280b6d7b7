//! A lexical pass ahead of the grammar: it finds the comments (for the
//! formatter), the top-level declarations (so the parser can recover from an
//! error in one of them and go on with the next) and the lines of a policy body
//! (so it can recover per statement line); and it bounds how deeply a text
//! nests before pest, which has no bound of its own, recurses into it. It only
//! knows strings, comments, brackets and line breaks, so it cannot fail.

use crate::span::Span;

use super::ast::Comment;

/// The comments of `source`, in order.
pub(crate) fn comments(source: &str) -> Vec<Comment> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            // `\n`, `\r\n` and a lone `\r` all end a line, as the grammar's
            // NEWLINE does.
            b'\n' | b'\r' => in_string = false,
            b'#' if !in_string => {
                let end = comment_end(bytes, i);
                out.push(Comment {
                    text: source[i..end].to_string(),
                    span: Span::new(i, end),
                });
                i = end;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Splits `source` into chunks that each hold at most one top-level declaration
/// (plus the blank lines and comments before it). A chunk starts at a line whose
/// first word is `policy`, `metric` or `patch` outside any braces, or at such a
/// line that is not indented even inside braces: a policy missing its `}` then
/// does not swallow the declarations after it.
pub(crate) fn declaration_chunks(source: &str) -> Vec<Span> {
    let mut starts = vec![0];
    let mut depth = 0usize;
    let mut line_start = 0;
    let mut in_string = false;
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                b'\n' => in_string = false,
                _ => {}
            }
            if b == b'\n' {
                line_start = i + 1;
            }
            i += 1;
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'#' => {
                i = comment_end(bytes, i);
                continue;
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            // A lone `\r` ends a line too, as the grammar's NEWLINE does.
            b'\n' => line_start = i + 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => line_start = i + 1,
            b' ' | b'\t' | b'\r' => {}
            // Only ASCII letters start a keyword, and slicing at them is safe:
            // a byte of a multi-byte character is never one.
            _ if b.is_ascii_alphabetic() && only_blanks_since(bytes, line_start, i) => {
                let word_end = source[i..]
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                    .map_or(source.len(), |n| i + n);
                let word = &source[i..word_end];
                let declares = matches!(word, "policy" | "metric" | "patch");
                if declares && (depth == 0 || i == line_start) {
                    depth = 0;
                    if line_start > 0 {
                        starts.push(line_start);
                    }
                }
                i = word_end.max(i + 1);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    let mut chunks: Vec<Span> = starts.windows(2).map(|w| Span::new(w[0], w[1])).collect();
    if let Some(&last) = starts.last() {
        chunks.push(Span::new(last, source.len()));
    }
    chunks.retain(|chunk| has_code(&source[chunk.start..chunk.end]));
    chunks
}

/// The deepest bracket nesting of one line allowed: pest recurses once per
/// bracket, and `syntax::build` refuses trees deeper than
/// [`super::MAX_DEPTH`], which a line within these bounds never reaches.
pub(crate) const MAX_NESTING: usize = 40;

/// The most `and`/`or`/`not` words one line may hold: each `not` is a level
/// of pest's recursion, and each word nests the condition tree one level
/// deeper (cheaper levels than brackets).
pub(crate) const MAX_OPERATORS: usize = 100;

/// The first place in `text` where a line nests too deeply (brackets outside
/// strings and comments, or `and`/`or`/`not` words), as the span of the
/// bracket or word that goes past the bound.
///
/// This is the only guard in front of pest, which has no depth limit of its
/// own, so it lexes exactly as the grammar does; every text handed to pest
/// must pass it (see `syntax::pest_parse`). What the grammar's lexing implies:
/// - a string runs to its closing `"`, and `\` takes any one character with
///   it, a line break included, so a string continued with `\` carries over
///   to the next line and its closing `"` opens nothing;
/// - an unescaped line break ends a string as a failure: the grammar cannot
///   go past the opening `"`, so counting what follows as code only counts
///   more than pest can reach;
/// - a comment runs to the next line break, and a lone `\r` is one too;
/// - a line break outside strings ends the statement, and no condition
///   continues past it, so the counts start again.
pub(crate) fn too_deep(text: &str) -> Option<Span> {
    let bytes = text.as_bytes();
    let mut nesting = Nesting::default();
    for_each_code_byte(text, |i, b| nesting.push(bytes, i, b))
        .and_then(|()| nesting.end_word(bytes))
        .err()
}

/// How deep the line being scanned nests so far.
#[derive(Default)]
struct Nesting {
    depth: usize,
    operators: usize,
    /// The word being read, as the offsets of its first and last bytes.
    word: Option<(usize, usize)>,
}

impl Nesting {
    /// Takes in the byte of code at `i`; the error is where a bound is passed.
    fn push(&mut self, bytes: &[u8], i: usize, b: u8) -> Result<(), Span> {
        if b.is_ascii_alphanumeric() {
            match &mut self.word {
                Some((_, last)) if *last + 1 == i => *last = i,
                _ => {
                    self.end_word(bytes)?;
                    self.word = Some((i, i));
                }
            }
            return Ok(());
        }
        self.end_word(bytes)?;
        match b {
            b'\n' | b'\r' => (self.depth, self.operators) = (0, 0),
            b'(' | b'[' => {
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err(Span::new(i, i + 1));
                }
            }
            b')' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(())
    }

    /// Counts the word just read if it is `and`, `or` or `not`.
    fn end_word(&mut self, bytes: &[u8]) -> Result<(), Span> {
        let Some((start, last)) = self.word.take() else {
            return Ok(());
        };
        if matches!(&bytes[start..=last], b"and" | b"or" | b"not") {
            self.operators += 1;
            if self.operators > MAX_OPERATORS {
                return Err(Span::new(start, last + 1));
            }
        }
        Ok(())
    }
}

/// Calls `f` with the offset of each byte of code in `text` — outside strings
/// and comments, line breaks included — as the grammar lexes them, until `f`
/// returns an error. Bytes are enough: every character that matters here is
/// ASCII, and no byte of a multi-byte character is ASCII.
fn for_each_code_byte(
    text: &str,
    mut f: impl FnMut(usize, u8) -> Result<(), Span>,
) -> Result<(), Span> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = string_end(bytes, i + 1),
            b'#' => {
                i = comment_end(bytes, i);
            }
            b => {
                f(i, b)?;
                i += 1;
            }
        }
    }
    Ok(())
}

/// Where the string whose body starts at `start` ends, as the grammar's
/// `string` rule reads it: just past its closing `"`, or at the unescaped line
/// break (or end of text) where the rule fails.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => return i + 1,
            // `"\\" ~ ANY`: a character of any length; skipping one byte of a
            // multi-byte one is the same, as its other bytes are not ASCII. Of
            // `\r\n`, ANY takes only the `\r`, and the `\n` then ends the string.
            b'\\' => i += 2,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Where the comment starting at `start` ends: at the line break after it
/// (`\n`, or `\r` alone or before `\n`, as the grammar's NEWLINE), or at the end.
fn comment_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(bytes.len(), |n| start + n)
}

/// Whether `bytes[start..end]` holds only blanks. Called for the first letter of
/// each word; words past the first of a line stop at their first non-blank, so
/// a line is scanned about once.
fn only_blanks_since(bytes: &[u8], start: usize, end: usize) -> bool {
    bytes[start..end]
        .iter()
        .rev()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// Whether `text` holds anything but blanks and comments.
pub(crate) fn has_code(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start();
        !line.is_empty() && !line.starts_with('#')
    })
}

/// Where a policy's body lies: after the first `{` up to its last `}` (or the end
/// of the chunk when the `}` is missing). Returns `(header_end, body)`, where
/// `header_end` is the offset just past the `{`.
pub(crate) fn policy_body(chunk: &str) -> Option<(usize, Span)> {
    let mut open = None;
    let mut close = None;
    let _ = for_each_code_byte(chunk, |offset, b| {
        if b == b'{' && open.is_none() {
            open = Some(offset);
        } else if b == b'}' && open.is_some() {
            close = Some(offset);
        }
        Ok(())
    });
    let open = open?;
    let end = close.unwrap_or(chunk.len());
    Some((open + 1, Span::new(open + 1, end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk_texts(source: &str) -> Vec<&str> {
        declaration_chunks(source)
            .into_iter()
            .map(|s| &source[s.start..s.end])
            .collect()
    }

    #[test]
    fn a_comment_and_a_line_end_at_a_lone_carriage_return() {
        let source = "# a\rpolicy p {\n}\rmetric m: count = promql \"x\"\n";
        assert_eq!(
            chunk_texts(source),
            ["policy p {\n}\r", "metric m: count = promql \"x\"\n"]
        );
        let texts: Vec<String> = comments(source).into_iter().map(|c| c.text).collect();
        assert_eq!(texts, ["# a"]);
    }

    #[test]
    fn splits_at_each_declaration() {
        // Chunks only steer parsing: comments are collected on their own, so a
        // comment may end the previous chunk, and a chunk of comments alone is
        // dropped.
        let source =
            "# top\npolicy a {\n  when x > 1 then patch p\n}\n# about p\npatch p: merge \"{}\"\n";
        assert_eq!(
            chunk_texts(source),
            [
                "policy a {\n  when x > 1 then patch p\n}\n# about p\n",
                "patch p: merge \"{}\"\n"
            ]
        );
    }

    #[test]
    fn an_unclosed_policy_does_not_swallow_the_next_one() {
        let source = "policy a {\n  select pods\npolicy b {\n}\n";
        assert_eq!(chunk_texts(source).len(), 2);
    }

    #[test]
    fn keywords_in_strings_and_comments_are_not_declarations() {
        let source = "policy a {\n  when x > 1 then notify \"\npolicy\"\n  # policy b\n}\n";
        assert_eq!(chunk_texts(source).len(), 2, "a string ends at its line");
        let source = "policy a {\n  # policy b {\n}\n";
        assert_eq!(chunk_texts(source).len(), 1);
    }

    #[test]
    fn nesting_counts_only_code() {
        let deep = format!(
            "when {}x > 1{} then restart",
            "(".repeat(41),
            ")".repeat(41)
        );
        assert_eq!(too_deep(&deep), Some(Span::new(45, 46)), "the 41st `(`");
        let quoted = format!("when x > 1 then notify \"{}\"", "(".repeat(200));
        assert!(
            too_deep(&quoted).is_none(),
            "brackets in strings do not nest"
        );
        let hidden = format!(
            "select pods where app = \"#\"; when {}x > 1{} then restart",
            "(".repeat(41),
            ")".repeat(41)
        );
        assert!(
            too_deep(&hidden).is_some(),
            "a # in a string does not end the code"
        );
        assert!(too_deep(&format!("when {} then x", "(".repeat(41)).replace('(', "# (")).is_none());
        let words = format!("when {}x then y", "not ".repeat(101));
        assert_eq!(
            too_deep(&words),
            Some(Span::new(405, 408)),
            "the 101st `not`"
        );
        assert!(too_deep(&format!("when {}x then y", "note ".repeat(101))).is_none());
    }

    /// Formerly the way past the guard (issue 13): a string continued with
    /// `\` over a line break made the next line start outside the string, so
    /// its closing `"` opened one that hid the rest of that line.
    #[test]
    fn a_string_continued_over_a_line_break_carries_over() {
        let parens = |n| format!("when {}x > 1{} then restart", "(".repeat(n), ")".repeat(n));
        let continued = format!("select pods where app = \"\\\n\"; {}", parens(41));
        assert!(too_deep(&continued).is_some());
        let twice = format!("notify \"a\\\nb\\\n\"; {}", parens(41));
        assert!(too_deep(&twice).is_some());
        // Brackets inside the continued string are not code.
        let inside = format!(
            "notify \"\\\n{}\"; when x > 1 then restart",
            "(".repeat(500)
        );
        assert!(too_deep(&inside).is_none());
        // A lone `\r` is a line break too, and so is `\r\n`, whose `\r` alone
        // a `\` escapes: the string then ends there, unterminated.
        let cr = format!("notify \"\\\r\"; {}", parens(41));
        assert!(too_deep(&cr).is_some());
        let crlf = format!("notify \"\\\r\n{}\"", "(".repeat(41));
        assert!(too_deep(&crlf).is_some(), "the string ended at the \\n");
        // Escaped quotes and backslashes do not end a string early or late.
        let escapes = format!("notify \"a\\\"b\\\\\"; {}", parens(41));
        assert!(too_deep(&escapes).is_some());
    }

    /// A comment ends at a lone `\r` as at `\n`, as NEWLINE does in the
    /// grammar: cutting each `\n`-line at its `#` hid what followed a `\r`.
    #[test]
    fn a_comment_ends_at_a_carriage_return() {
        let text = format!(
            "when x > 1 then restart # c\rwhen {}x > 1 then y",
            "(".repeat(41)
        );
        assert!(too_deep(&text).is_some());
    }

    #[test]
    fn counts_start_again_on_each_line_but_not_within_a_string() {
        let lines = format!("when {}x then y\n", "not ".repeat(60)).repeat(3);
        assert!(too_deep(&lines).is_none());
        let joined = format!(
            "when {}x then notify \"\\\n\" and {}y",
            "not ".repeat(60),
            "not ".repeat(40)
        );
        assert_eq!(
            too_deep(&joined).map(|s| &joined[s.start..s.end]),
            Some("not")
        );
    }

    /// `too_deep` sees code where the grammar does: every byte it takes for
    /// code outside strings and comments is one the grammar's own lexing
    /// (the test-only `test_lexing` rule, made of the grammar's `string`,
    /// `COMMENT`, `WHITESPACE` and `NEWLINE`) leaves as code, up to the first
    /// string that does not end (which the grammar never gets past).
    mod lexes_as_the_grammar {
        use super::super::for_each_code_byte;
        use crate::syntax::grammar::{Rule, SkippyParser};
        use pest::Parser as _;
        use proptest::prelude::*;

        fn grammar_code(text: &str) -> (Vec<usize>, usize) {
            let mut code = Vec::new();
            let mut until = text.len();
            let pairs = SkippyParser::parse(Rule::test_lexing, text).expect("any text lexes");
            for pair in pairs.flatten() {
                let span = pair.as_span();
                match pair.as_rule() {
                    Rule::test_code if span.as_str() == "\"" => {
                        until = until.min(span.start());
                    }
                    Rule::test_code | Rule::test_line_break => {
                        code.extend(span.start()..span.end())
                    }
                    _ => {}
                }
            }
            code.retain(|&i| i < until);
            (code, until)
        }

        fn scanner_code(text: &str, until: usize) -> Vec<usize> {
            let mut code = Vec::new();
            let _ = for_each_code_byte(text, |i, _| {
                code.push(i);
                Ok(())
            });
            // The grammar skips blanks between tokens; they are not code to
            // either, as no bracket or word is one.
            let blank: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| matches!(c, ' ' | '\t' | '\u{FEFF}'))
                .flat_map(|(i, c)| i..i + c.len_utf8())
                .collect();
            code.retain(|&i| i < until && !blank.contains(&i));
            code
        }

        fn piece() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "\"", "\\", "\n", "\r", "\r\n", "#", "(", ")", "[", "]", " ", "\t", "x", "not",
                "é", "\u{FEFF}", ";", "\"\\\n", "\\\"",
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn code_bytes_match(pieces in prop::collection::vec(piece(), 0..60)) {
                let text = pieces.concat();
                let (grammar, until) = grammar_code(&text);
                prop_assert_eq!(scanner_code(&text, until), grammar, "{:?}", text);
            }
        }
    }

    #[test]
    fn finds_comments_outside_strings() {
        let found = comments("a \"# no\" # yes\r\n# two");
        let texts: Vec<_> = found.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# yes", "# two"]);
    }

    /// A lone `\r` ends a comment as NEWLINE does in the grammar: the text
    /// after it is code, which the formatter must not fold into the comment
    /// (found by the `fmt_roundtrip` fuzz target).
    #[test]
    fn a_lone_carriage_return_ends_a_comment_and_a_string() {
        let found = comments("# one\rpolicy p { # two\r\n\"open\r# three");
        let texts: Vec<_> = found.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# one", "# two", "# three"]);
    }
}
