//! A lexical pass ahead of the grammar: it finds the comments (for the
//! formatter), the top-level declarations (so the parser can recover from an
//! error in one of them and go on with the next) and the lines of a policy body
//! (so it can recover per statement line). It only knows strings, comments and
//! braces, so it cannot fail.

use crate::span::Span;

use super::ast::Comment;

/// The comments of `source`, in order.
pub(crate) fn comments(source: &str) -> Vec<Comment> {
    let mut out = Vec::new();
    for_each_code_char(source, |event| {
        if let Event::Comment(span) = event {
            out.push(Comment {
                text: source[span.start..span.end].to_string(),
                span,
            });
        }
    });
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
            _ if b.is_ascii_alphabetic()
                && (i == line_start || source[line_start..i].trim().is_empty()) =>
            {
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
const MAX_OPERATORS: usize = 100;

/// The first line of `text` nested too deeply (brackets outside strings and
/// comments, or `and`/`or`/`not` words), as a span.
pub(crate) fn too_deep(text: &str) -> Option<Span> {
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let mut code = String::with_capacity(line.len());
        let (mut in_string, mut escaped) = (false, false);
        for c in line.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_string => escaped = true,
                '"' => in_string = !in_string,
                '#' if !in_string => break,
                _ if in_string => {}
                _ => code.push(c),
            }
        }
        let mut depth = 0usize;
        let mut deepest = 0usize;
        for c in code.chars() {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            deepest = deepest.max(depth);
        }
        let words = code
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| matches!(*w, "and" | "or" | "not"))
            .count();
        if deepest > MAX_NESTING || words > MAX_OPERATORS {
            return Some(Span::new(line_start, line_start + line.trim_end().len()));
        }
        line_start += line.len();
    }
    None
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
    for_each_code_char(chunk, |event| {
        if let Event::Code(offset, ch) = event {
            if ch == '{' && open.is_none() {
                open = Some(offset);
            } else if ch == '}' && open.is_some() {
                close = Some(offset);
            }
        }
    });
    let open = open?;
    let end = close.unwrap_or(chunk.len());
    Some((open + 1, Span::new(open + 1, end)))
}

enum Event {
    Code(usize, char),
    Comment(Span),
}

fn for_each_code_char(source: &str, mut f: impl FnMut(Event)) {
    let mut chars = source.char_indices().peekable();
    let mut in_string = false;
    while let Some((i, ch)) = chars.next() {
        if in_string {
            match ch {
                '\\' => {
                    chars.next();
                }
                '"' | '\n' => in_string = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_string = true,
            '#' => {
                let mut end = source.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c == '\n' {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                let end = if source[i..end].ends_with('\r') {
                    end - 1
                } else {
                    end
                };
                f(Event::Comment(Span::new(i, end)));
            }
            _ => f(Event::Code(i, ch)),
        }
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
