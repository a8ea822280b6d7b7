//! Lines, indentation, blank lines and comments: where each printed construct
//! goes, and which comments go with it.
//!
//! Invariants: every comment of the file is written exactly once, whatever the
//! tree looks like (each is given one place: the end of a code line, the lines
//! before one, or the end of the file); and the layout of the output, parsed
//! again, attaches every comment and blank line to the same construct, which is
//! what makes formatting idempotent.

use super::print;
use crate::syntax::ast::{Comment, File, Item};

const INDENT: &str = "  ";

/// One line of code in the output, and the source range it was printed from.
struct CodeLine {
    /// Where the construct starts in the source: comments ending before it and
    /// after the previous line's end are written above it.
    start: usize,
    /// Where its code ends: a comment after this on the same source line
    /// trails it.
    end: usize,
    role: Role,
    text: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    /// A `metric` or `patch` declaration.
    Declaration,
    /// A policy's header, `policy NAME {`.
    Header,
    /// A statement inside a policy body.
    Statement,
    /// A policy's closing `}`.
    Close,
}

/// Whether to write a blank line before an element.
#[derive(Clone, Copy)]
enum Blank {
    Never,
    /// Always, unless it is the first line of the output.
    Always,
    /// If the author had at least one blank line before it.
    AsWritten,
}

/// Lays out a parsed file; `source` is the text it was parsed from.
pub(super) fn file(file: &File, source: &str) -> String {
    let lines = code_lines(file, source);
    let mut leading: Vec<Vec<&Comment>> = lines.iter().map(|_| Vec::new()).collect();
    let mut trailing: Vec<Vec<&Comment>> = lines.iter().map(|_| Vec::new()).collect();
    let mut at_end = Vec::new();
    for comment in &file.comments {
        // Lines are in source order (as the parser gives items, statements
        // and comments), so both searches are binary.
        let before = lines.partition_point(|line| line.end <= comment.span.start);
        if let Some(prev) = before.checked_sub(1) {
            if same_line(source, lines[prev].end, comment.span.start) {
                trailing[prev].push(comment);
                continue;
            }
        }
        let next = lines.partition_point(|line| line.start < comment.span.end);
        match leading.get_mut(next) {
            Some(slot) => slot.push(comment),
            None => at_end.push(comment),
        }
    }

    let mut out = Writer::new(source);
    let mut prev_role = None;
    for ((line, above), after) in lines.iter().zip(&leading).zip(&trailing) {
        let after_header = prev_role == Some(Role::Header);
        // The first element of a group decides how it is separated from what
        // comes before; the rest of the group keeps the author's blank lines.
        let (first, indent) = match line.role {
            Role::Declaration | Role::Header => (Blank::Always, ""),
            Role::Statement | Role::Close if after_header => (Blank::Never, INDENT),
            Role::Statement | Role::Close => (Blank::AsWritten, INDENT),
        };
        let mut blank = first;
        for comment in above {
            out.comment(comment, indent, blank);
            blank = Blank::AsWritten;
        }
        let (indent, blank) = match line.role {
            Role::Close => ("", Blank::Never),
            _ => (indent, blank),
        };
        out.code(line, indent, blank, after);
        prev_role = Some(line.role);
    }
    for comment in at_end {
        out.comment(comment, "", Blank::AsWritten);
    }
    out.finish()
}

/// The code lines of `file`, in source order.
fn code_lines(file: &File, source: &str) -> Vec<CodeLine> {
    let mut lines = Vec::new();
    let end_of = |start: usize, end: usize| code_end(source, &file.comments, start, end);
    for item in &file.items {
        match item {
            Item::Metric(decl) => lines.push(CodeLine {
                start: decl.span.start,
                end: end_of(decl.span.start, decl.span.end),
                role: Role::Declaration,
                text: print::metric(decl),
            }),
            Item::Patch(decl) => lines.push(CodeLine {
                start: decl.span.start,
                end: end_of(decl.span.start, decl.span.end),
                role: Role::Declaration,
                text: print::patch(decl),
            }),
            Item::Policy(policy) => {
                // The grammar keeps `policy NAME {` on one line, so a comment
                // after the name on its line trails the header.
                lines.push(CodeLine {
                    start: policy.span.start,
                    end: policy.name.span.end,
                    role: Role::Header,
                    text: format!("policy {} {{", policy.name.name),
                });
                for statement in &policy.statements {
                    let span = statement.span();
                    lines.push(CodeLine {
                        start: span.start,
                        end: end_of(span.start, span.end),
                        role: Role::Statement,
                        text: print::statement(statement, source),
                    });
                }
                // The policy's span ends just past its `}`.
                let close = policy.span.end.saturating_sub(1).max(policy.name.span.end);
                lines.push(CodeLine {
                    start: close,
                    end: policy.span.end.max(close),
                    role: Role::Close,
                    text: "}".to_string(),
                });
            }
        }
    }
    lines
}

/// Where the code of a construct spanning `start..end` ends. The span of a
/// construct that ends in an optional part (`when … then delete`, whose
/// `priority` may follow) also covers the blanks and the comment after it, so
/// the end is moved back before them; a trailing comment then stays trailing.
fn code_end(source: &str, comments: &[Comment], start: usize, end: usize) -> usize {
    let first = comments.partition_point(|c| c.span.start < start);
    let end = match comments.get(first) {
        Some(comment) if comment.span.start < end => comment.span.start,
        _ => end,
    };
    source
        .get(start..end)
        .map_or(end, |code| start + code.trim_end_matches([' ', '\t']).len())
}

/// Whether no line break separates `from` and `to` in `source`.
fn same_line(source: &str, from: usize, to: usize) -> bool {
    source.get(from..to).is_some_and(|gap| !gap.contains('\n'))
}

/// The output being written, and where in the source its last element ended
/// (to tell whether the author had a blank line before the next one).
struct Writer<'s> {
    source: &'s str,
    out: String,
    last_end: Option<usize>,
}

impl<'s> Writer<'s> {
    fn new(source: &'s str) -> Self {
        Writer {
            source,
            out: String::new(),
            last_end: None,
        }
    }

    fn comment(&mut self, comment: &Comment, indent: &str, blank: Blank) {
        self.separate(comment.span.start, blank);
        self.out.push_str(indent);
        self.out.push_str(comment.text.trim_end());
        self.out.push('\n');
        self.last_end = Some(comment.span.end);
    }

    fn code(&mut self, line: &CodeLine, indent: &str, blank: Blank, trailing: &[&Comment]) {
        self.separate(line.start, blank);
        self.out.push_str(indent);
        self.out.push_str(&line.text);
        self.last_end = Some(line.end);
        for comment in trailing {
            self.out.push_str("  ");
            self.out.push_str(comment.text.trim_end());
            self.last_end = Some(comment.span.end);
        }
        self.out.push('\n');
    }

    fn separate(&mut self, start: usize, blank: Blank) {
        let wanted = match blank {
            Blank::Never => false,
            Blank::Always => !self.out.is_empty(),
            Blank::AsWritten => self.last_end.is_some_and(|end| {
                self.source
                    .get(end..start)
                    .is_some_and(|gap| gap.matches('\n').count() >= 2)
            }),
        };
        if wanted {
            self.out.push('\n');
        }
    }

    /// The text, ending with exactly one newline (or empty for an empty file).
    fn finish(self) -> String {
        self.out
    }
}
