//! A lexical pass ahead of the grammar: it finds the comments (for the
//! formatter), the top-level declarations (so the parser can recover from an
//! error in one of them and go on with the next) and the lines of a policy body
//! (so it can recover per statement line). It only knows strings, comments and
//! braces, so it cannot fail.

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
            b'\n' => in_string = false,
            b'#' if !in_string => {
                let end = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |n| i + n);
                let code_end = if end > i && bytes[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                out.push(Comment {
                    text: source[i..code_end].to_string(),
                    span: Span::new(i, code_end),
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
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'{' => depth += 1,
            b'}' => depth = depth.saturating_sub(1),
            b'\n' => line_start = i + 1,
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

/// The deepest bracket nesting of one line allowed: parsing, building and
/// checking recurse once per level, and a debug build on a 2 MiB thread stack
/// overflows past about 54 parentheses.
pub(crate) const MAX_NESTING: usize = 40;

/// The most `and`/`or`/`not` words one line may hold: each nests the
/// condition tree one level deeper (cheaper levels than brackets).
pub(crate) const MAX_OPERATORS: usize = 100;

/// The first line of `text` nested too deeply (brackets outside strings and
/// comments, or `and`/`or`/`not` words), as a span.
pub(crate) fn too_deep(text: &str) -> Option<Span> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        if line_too_deep(line) {
            return Some(Span::new(line_start, line_start + line.trim_end().len()));
        }
        line_start += line.len();
    }
    None
}

fn line_too_deep(line: &str) -> bool {
    let (mut depth, mut deepest, mut operators) = (0usize, 0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    let mut word_start = None;
    let bytes = line.as_bytes();
    // Bytes are enough: every character that matters is ASCII, and a byte of
    // a multi-byte character is never one of them.
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if b.is_ascii_alphanumeric() {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = word_start.take() {
            operators += usize::from(matches!(&bytes[start..i], b"and" | b"or" | b"not"));
        }
        match b {
            b'"' => in_string = true,
            b'#' => break,
            b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if let Some(start) = word_start {
        operators += usize::from(matches!(&bytes[start..], b"and" | b"or" | b"not"));
    }
    deepest > MAX_NESTING || operators > MAX_OPERATORS
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
    for_each_code_byte(chunk, |offset, b| {
        if b == b'{' && open.is_none() {
            open = Some(offset);
        } else if b == b'}' && open.is_some() {
            close = Some(offset);
        }
    });
    let open = open?;
    let end = close.unwrap_or(chunk.len());
    Some((open + 1, Span::new(open + 1, end)))
}

/// Calls `f` with the offset of each byte of code in `source`, skipping
/// strings and comments. Bytes are enough: every character that matters here
/// is ASCII, and no byte of a multi-byte character is ASCII.
fn for_each_code_byte(source: &str, mut f: impl FnMut(usize, u8)) {
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'\n' => in_string = false,
            b'#' if !in_string => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ if in_string => {}
            _ => f(i, b),
        }
        i += 1;
    }
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
        assert!(too_deep(&deep).is_some());
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
    }

    #[test]
    fn finds_comments_outside_strings() {
        let found = comments("a \"# no\" # yes\r\n# two");
        let texts: Vec<_> = found.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# yes", "# two"]);
    }
}
