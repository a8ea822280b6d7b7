//! A forgiving tokenizer for editor features that must work on any text,
//! including text that does not parse and the half-typed line at the cursor:
//! completion context, hover and semantic tokens.
//!
//! Invariants: total (every byte of the input is in exactly one token or is
//! whitespace), spans are on character boundaries, and it never looks past the
//! text it is given, so a caller can lex one line of a large file cheaply.

/// What a token is, as far as its characters tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lexeme {
    /// A name or keyword; label keys (`app.kubernetes.io/name`) included.
    Word,
    /// A number with its suffix and `/per` unit: `85`, `3m`, `1.5Gi`, `2%/min`.
    Number,
    /// A double-quoted string; the closing quote may be missing.
    String,
    Comment,
    /// `\n` or `;`: the end of a statement.
    End,
    /// An operator or bracket: `>=`, `(`, `,`, `{`, …
    Punct,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tok {
    pub kind: Lexeme,
    pub start: usize,
    pub end: usize,
}

impl Tok {
    pub fn text(self, source: &str) -> &str {
        source.get(self.start..self.end).unwrap_or("")
    }
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/')
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

/// Advances while `pred` holds; returns the end of what was taken.
fn take_while(chars: &mut Chars<'_>, text: &str, pred: &dyn Fn(char) -> bool) -> usize {
    while let Some(&(_, next)) = chars.peek() {
        if !pred(next) {
            break;
        }
        chars.next();
    }
    chars.peek().map_or(text.len(), |&(i, _)| i)
}

/// The tokens of `text`, in order.
pub(crate) fn lex(text: &str) -> Vec<Tok> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let (kind, end) = match c {
            '\n' | ';' => (Lexeme::End, start + 1),
            c if c.is_whitespace() => continue,
            '#' => (
                Lexeme::Comment,
                // Not the `\r` of a `\r\n` line break.
                take_while(&mut chars, text, &|c| c != '\n' && c != '\r'),
            ),
            '"' => {
                let mut end = text.len();
                let mut escaped = false;
                while let Some(&(i, next)) = chars.peek() {
                    if next == '\n' {
                        end = i;
                        break;
                    }
                    chars.next();
                    if escaped {
                        escaped = false;
                    } else if next == '\\' {
                        escaped = true;
                    } else if next == '"' {
                        end = i + 1;
                        break;
                    }
                }
                (Lexeme::String, end)
            }
            c if c.is_ascii_digit() => {
                let mut end = take_while(&mut chars, text, &|c| c.is_ascii_digit() || c == '.');
                end = match bytes.get(end) {
                    Some(b'%') => {
                        chars.next();
                        end + 1
                    }
                    Some(b) if b.is_ascii_alphabetic() => {
                        take_while(&mut chars, text, &|c| c.is_ascii_alphanumeric())
                    }
                    _ => end,
                };
                if bytes.get(end) == Some(&b'/')
                    && bytes.get(end + 1).is_some_and(u8::is_ascii_alphabetic)
                {
                    chars.next();
                    end = take_while(&mut chars, text, &|c| c.is_ascii_alphabetic());
                }
                (Lexeme::Number, end)
            }
            c if is_word_start(c) => (Lexeme::Word, take_while(&mut chars, text, &is_word_char)),
            '>' | '<' | '=' | '!' if chars.peek().is_some_and(|&(_, n)| n == '=') => {
                chars.next();
                (Lexeme::Punct, start + 2)
            }
            c => (Lexeme::Punct, start + c.len_utf8()),
        };
        tokens.push(Tok { kind, start, end });
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Lexeme, &str)> {
        lex(text)
            .into_iter()
            .map(|t| (t.kind, t.text(text)))
            .collect()
    }

    #[test]
    fn a_rule_line() {
        use Lexeme::*;
        assert_eq!(
            kinds("when avg(cpu_percent, 5m) >= 80% then notify \"a \\\" b\" # hi\n"),
            [
                (Word, "when"),
                (Word, "avg"),
                (Punct, "("),
                (Word, "cpu_percent"),
                (Punct, ","),
                (Number, "5m"),
                (Punct, ")"),
                (Punct, ">="),
                (Number, "80%"),
                (Word, "then"),
                (Word, "notify"),
                (String, "\"a \\\" b\""),
                (Comment, "# hi"),
                (End, "\n"),
            ]
        );
        assert_eq!(
            kinds("2%/min 1.5Gi"),
            [(Number, "2%/min"), (Number, "1.5Gi")]
        );
    }

    #[test]
    fn unterminated_strings_and_odd_characters() {
        use Lexeme::*;
        assert_eq!(
            kinds("\"abc\nx"),
            [(String, "\"abc"), (End, "\n"), (Word, "x")]
        );
        assert_eq!(kinds("é5"), [(Punct, "é"), (Number, "5")]);
        assert_eq!(kinds("\"\\"), [(String, "\"\\")]);
    }

    #[test]
    fn crlf_line_breaks_are_not_in_comments() {
        use Lexeme::*;
        assert_eq!(
            kinds("# hi\r\nx"),
            [(Comment, "# hi"), (End, "\n"), (Word, "x")]
        );
    }
}
