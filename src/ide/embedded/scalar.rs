//! Reading one YAML scalar — a literal (`|`) or folded (`>`) block, or a
//! double- or single-quoted flow scalar — into the string a YAML parser
//! gives (what the operator compiles), and a map from each byte of that
//! string back to the bytes of the file it was read from.
//!
//! Invariants: never panics on any text (a scalar it cannot read, such as an
//! unterminated quote or an unknown escape, is `None`, as a YAML parser would
//! reject it); the pieces cover the string in order, without gaps, and their
//! YAML ranges increase.

use std::ops::Range;

/// How the scalar is written, which decides how inserted text is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Literal,
    Folded,
    DoubleQuoted,
    SingleQuoted,
}

/// A stretch of the string and the YAML bytes it was read from: the same
/// bytes (`verbatim`), or YAML that the string has in another form — an
/// escape, a line break folded into a space, indentation and chomped breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub text: usize,
    pub text_len: usize,
    pub yaml: usize,
    pub yaml_len: usize,
    pub verbatim: bool,
}

/// The string read from a scalar, and its pieces.
#[derive(Debug, Default)]
pub(super) struct Read {
    pub text: String,
    pub pieces: Vec<Piece>,
}

impl Read {
    fn verbatim(&mut self, yaml: usize, s: &str) {
        if s.is_empty() {
            return;
        }
        let text = self.text.len();
        self.text.push_str(s);
        if let Some(last) = self.pieces.last_mut() {
            if last.verbatim
                && last.yaml + last.yaml_len == yaml
                && last.text + last.text_len == text
            {
                last.text_len += s.len();
                last.yaml_len += s.len();
                return;
            }
        }
        self.pieces.push(Piece {
            text,
            text_len: s.len(),
            yaml,
            yaml_len: s.len(),
            verbatim: true,
        });
    }

    fn replaced(&mut self, yaml: Range<usize>, s: &str) {
        if yaml.is_empty() && s.is_empty() {
            return;
        }
        self.pieces.push(Piece {
            text: self.text.len(),
            text_len: s.len(),
            yaml: yaml.start,
            yaml_len: yaml.len(),
            verbatim: false,
        });
        self.text.push_str(s);
    }

    /// A line break as the string has it: `\n`, whether the file's is `\n`
    /// or `\r\n` (YAML normalizes line breaks).
    fn line_break(&mut self, yaml: usize, file_break: &str) {
        match file_break {
            "" => {}
            "\n" => self.verbatim(yaml, "\n"),
            other => self.replaced(yaml..yaml + other.len(), "\n"),
        }
    }
}

/// How a block scalar's final line breaks are kept (`-` strip, `+` keep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chomping {
    Clip,
    Strip,
    Keep,
}

/// A line of a block scalar: empty, or content (its text after the block's
/// indentation), with where it and its line break stand in the file.
struct Line<'a> {
    offset: usize,
    body: Option<&'a str>,
    line_break: &'a str,
    break_at: usize,
}

/// The block scalar in `lines` (each with its offset in the file), below a
/// key indented by `parent`, read as `style` (literal or folded).
pub(super) fn block(
    lines: &[(usize, &str)],
    parent: usize,
    explicit: Option<usize>,
    style: Style,
    chomping: Chomping,
) -> (Read, usize) {
    let n = explicit.unwrap_or_else(|| {
        lines
            .iter()
            .map(|(_, line)| content(line))
            .find(|text| !text.trim_start_matches(' ').is_empty())
            .map_or(parent + 1, indent)
    });
    let mut block: Vec<Line> = Vec::new();
    for &(offset, line) in lines {
        let text = content(line);
        let empty = text.len() <= n && text.bytes().all(|b| b == b' ');
        if !empty && (indent(text) < n || n <= parent) {
            break;
        }
        block.push(Line {
            offset,
            body: (!empty).then(|| text.get(n..).unwrap_or("")),
            line_break: &line[text.len()..],
            break_at: offset + text.len(),
        });
    }
    let Some(last) = block.iter().rposition(|l| l.body.is_some()) else {
        return (Read::default(), n);
    };
    let mut read = Read::default();
    let mut previous: Option<&Line> = None;
    let mut empties: Vec<&Line> = Vec::new();
    for line in &block[..=last] {
        let Some(body) = line.body else {
            empties.push(line);
            continue;
        };
        match previous {
            // Leading empty lines are line breaks in both styles.
            None => empties
                .drain(..)
                .for_each(|e| read.line_break(e.break_at, e.line_break)),
            Some(prev) if style == Style::Folded && !spaced(prev) && !spaced(line) => {
                // Folding: one break between two lines is a space; with empty
                // lines between, the first break goes and each empty line's
                // is kept.
                let folded = if empties.is_empty() {
                    " ".to_string()
                } else {
                    "\n".repeat(empties.len())
                };
                read.replaced(prev.break_at..line.offset + n, &folded);
                empties.clear();
            }
            Some(prev) => {
                read.line_break(prev.break_at, prev.line_break);
                empties
                    .drain(..)
                    .for_each(|e| read.line_break(e.break_at, e.line_break));
            }
        }
        read.verbatim(line.offset + n, body);
        previous = Some(line);
    }
    let end = &block[last];
    match chomping {
        Chomping::Strip => read.replaced(end.break_at..end.break_at + end.line_break.len(), ""),
        Chomping::Clip => read.line_break(end.break_at, end.line_break),
        Chomping::Keep => {
            read.line_break(end.break_at, end.line_break);
            for line in &block[last + 1..] {
                read.line_break(line.break_at, line.line_break);
            }
        }
    }
    (read, n)
}

/// A more-indented line of a folded block: its breaks are never folded.
fn spaced(line: &Line) -> bool {
    line.body.is_some_and(|b| b.starts_with([' ', '\t']))
}

/// The quoted scalar whose opening quote is at `start` in `yaml`, read up to
/// its closing quote; `None` when it has none before `end` or holds an
/// escape YAML does not know.
pub(super) fn quoted(yaml: &str, start: usize, end: usize, style: Style) -> Option<Read> {
    let quote = if style == Style::DoubleQuoted {
        '"'
    } else {
        '\''
    };
    let source = yaml.get(..end)?;
    let mut read = Read::default();
    let mut chars = source
        .get(start..)?
        .char_indices()
        .map(|(i, c)| (start + i, c));
    if chars.next()?.1 != quote {
        return None;
    }
    let mut chars = chars.peekable();
    // Spaces and tabs not yet known to be content: those before a line
    // break are not (flow folding drops them).
    let mut blanks: Option<usize> = None;
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' => {
                blanks.get_or_insert(at);
                continue;
            }
            '\r' | '\n' => {
                let from = blanks.take().unwrap_or(at);
                let (to, empty_lines) = skip_line_breaks(source, at);
                let folded = if empty_lines == 0 {
                    " ".to_string()
                } else {
                    "\n".repeat(empty_lines)
                };
                read.replaced(from..to, &folded);
                while chars.peek().is_some_and(|&(i, _)| i < to) {
                    chars.next();
                }
                continue;
            }
            _ => {}
        }
        if let Some(from) = blanks.take() {
            read.verbatim(from, &source[from..at]);
        }
        if c == quote {
            if style == Style::SingleQuoted && chars.peek().is_some_and(|&(_, c)| c == '\'') {
                chars.next();
                read.replaced(at..at + 2, "'");
                continue;
            }
            return Some(read);
        }
        if c == '\\' && style == Style::DoubleQuoted {
            let (escape_at, escape) = chars.next()?;
            if escape == '\r' || escape == '\n' {
                // An escaped line break joins the lines without a space.
                let (to, empty_lines) = skip_line_breaks(source, escape_at);
                read.replaced(at..to, &"\n".repeat(empty_lines));
                while chars.peek().is_some_and(|&(i, _)| i < to) {
                    chars.next();
                }
                continue;
            }
            let (value, len) = unescape(escape, source.get(escape_at + escape.len_utf8()..)?)?;
            let to = escape_at + escape.len_utf8() + len;
            while chars.peek().is_some_and(|&(i, _)| i < to) {
                chars.next();
            }
            read.replaced(at..to, value.encode_utf8(&mut [0; 4]));
            continue;
        }
        read.verbatim(at, &source[at..at + c.len_utf8()]);
    }
    None
}

/// From the line break at `at`: the offset of the next line's first
/// character that is not a space or tab, past any empty lines, and how many
/// empty lines there were.
fn skip_line_breaks(source: &str, at: usize) -> (usize, usize) {
    let bytes = source.as_bytes();
    let mut i = at;
    let mut breaks: usize = 0;
    loop {
        match bytes.get(i) {
            Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => {
                i += 2;
                breaks += 1;
            }
            Some(b'\r' | b'\n') => {
                i += 1;
                breaks += 1;
            }
            Some(b' ' | b'\t') => i += 1,
            _ => return (i, breaks.saturating_sub(1)),
        }
    }
}

/// A double-quoted escape after its `\` and `letter`: the character, and how
/// many bytes of `rest` (hex digits) it used.
fn unescape(letter: char, rest: &str) -> Option<(char, usize)> {
    let simple = match letter {
        '0' => '\0',
        'a' => '\x07',
        'b' => '\x08',
        't' | '\t' => '\t',
        'n' => '\n',
        'v' => '\x0b',
        'f' => '\x0c',
        'r' => '\r',
        'e' => '\x1b',
        ' ' => ' ',
        '"' => '"',
        '/' => '/',
        '\\' => '\\',
        'N' => '\u{85}',
        '_' => '\u{a0}',
        'L' => '\u{2028}',
        'P' => '\u{2029}',
        'x' | 'u' | 'U' => {
            let digits = match letter {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = rest.get(..digits)?;
            // `from_str_radix` would take a sign too.
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let code = u32::from_str_radix(hex, 16).ok()?;
            return Some((char::from_u32(code)?, digits));
        }
        _ => return None,
    };
    Some((simple, 0))
}

/// A line without its line break.
pub(super) fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// A line's indentation, in spaces.
pub(super) fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}
