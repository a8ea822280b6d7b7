//! The abstract syntax tree of a `.skippy` file.
//!
//! Invariants: every node carries the byte span of its source text; nothing here
//! has been resolved or type-checked (names are plain strings, literals keep their
//! raw text). The formatter prints from this tree and the checker lowers it to IR.
//! A tree nests at most [`super::MAX_DEPTH`] levels: the parser builds no deeper
//! one, and the derived `Clone`, `PartialEq`, `Debug` and `Drop` recurse once
//! per level, so a deeper tree built by hand is the caller's to keep away.

use crate::span::Span;

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A whole file: declarations in source order, and its comments (kept aside so
/// the formatter can put them back).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
    pub comments: Vec<Comment>,
}

/// A `#` comment. `span` covers the `#` up to the end of the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub text: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Policy(Policy),
    Metric(MetricDecl),
    Patch(PatchDecl),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Policy(p) => p.span,
            Item::Metric(m) => m.span,
            Item::Patch(p) => p.span,
        }
    }
}

/// `metric NAME: [unbounded | counter] UNIT = promql "QUERY"`
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDecl {
    pub name: Ident,
    /// `unbounded ratio`: the ratio may pass 1.
    pub unbounded: Option<Span>,
    /// `counter count`: the series only grows and resets.
    pub counter: Option<Span>,
    pub unit: Ident,
    pub query: StringLit,
    pub span: Span,
}

/// `patch NAME: merge|strategic "JSON"`
#[derive(Debug, Clone, PartialEq)]
pub struct PatchDecl {
    pub name: Ident,
    pub patch_type: Ident,
    pub body: StringLit,
    pub span: Span,
}

/// `policy NAME { statements }`
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: Ident,
    pub statements: Vec<Statement>,
    pub span: Span,
    /// Set when part of the body did not parse and was skipped: the checker then
    /// stays quiet about what may only be missing because of the syntax error.
    pub recovered: bool,
}

// Statements are built once per parse and never moved in a hot loop, so the
// size of the largest variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    Select(Select),
    Mode(Ident, Span),
    Limit {
        count: Literal,
        per: Literal,
        span: Span,
    },
    Cooldown(Literal, Span),
    Rule(Rule),
}

impl Statement {
    pub fn span(&self) -> Span {
        match self {
            Statement::Select(s) => s.span,
            Statement::Mode(_, span) | Statement::Cooldown(_, span) => *span,
            Statement::Limit { span, .. } => *span,
            Statement::Rule(r) => r.span,
        }
    }
}

/// `select KIND [in NS, … | in any] [where LABEL-MATCH, …]`
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    pub kind: Ident,
    pub namespaces: Option<Namespaces>,
    pub labels: Vec<LabelMatch>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Namespaces {
    Any(Span),
    Named(Vec<Ident>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelMatch {
    pub key: Ident,
    pub op: LabelOp,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LabelOp {
    Equals(StringLit),
    NotEquals(StringLit),
    In(Vec<StringLit>),
    Exists,
    NotExists,
}

/// `when CONDITION [for DURATION] then ACTION [priority N]`
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub condition: Condition,
    pub for_duration: Option<Literal>,
    pub action: Action,
    pub priority: Option<Literal>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Or(Box<Condition>, Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Not(Box<Condition>, Span),
    /// Parentheses are kept so the formatter can print them back.
    Paren(Box<Condition>, Span),
    Status {
        reason: Ident,
        span: Span,
    },
    /// `status was REASON within D`: the status held at some evaluation of
    /// the last `D`.
    StatusWas {
        reason: Ident,
        within: Literal,
        span: Span,
    },
    /// `CLAUSE for D` inside `and` or `or`: the clause alone must have held
    /// for `D`. A `for` right before `then` is the rule's, never this.
    Held {
        inner: Box<Condition>,
        hold: Literal,
        span: Span,
    },
    Event {
        reason: Ident,
        op: CmpOp,
        count: Literal,
        within: Literal,
        span: Span,
    },
    Compare {
        metric: MetricExpr,
        op: CmpOp,
        op_span: Span,
        value: Value,
    },
}

impl Condition {
    pub fn span(&self) -> Span {
        // An `and`/`or` chain runs from its first operand to its last: found
        // by loops, as such chains are the deepest trees users write.
        let mut first = self;
        while let Condition::Or(a, _) | Condition::And(a, _) = first {
            first = a;
        }
        let mut last = self;
        while let Condition::Or(_, b) | Condition::And(_, b) = last {
            last = b;
        }
        first.own_span().to(last.own_span())
    }

    /// The span of a condition that is not an `and`/`or`.
    fn own_span(&self) -> Span {
        match self {
            Condition::Not(_, span) | Condition::Paren(_, span) => *span,
            Condition::Status { span, .. }
            | Condition::StatusWas { span, .. }
            | Condition::Held { span, .. }
            | Condition::Event { span, .. } => *span,
            Condition::Compare { metric, value, .. } => metric.span().to(value.span()),
            Condition::Or(a, b) | Condition::And(a, b) => a.span().to(b.span()),
        }
    }
}

pub use crate::ir::CmpOp;

/// One side of a comparison: a metric, a window function applied to one
/// (`avg(cpu_percent, 5m)`), a number, or arithmetic over these
/// (`available_replicas / replicas`).
#[derive(Debug, Clone, PartialEq)]
pub enum MetricExpr {
    Metric(Ident),
    Call {
        function: Ident,
        arg: Box<MetricExpr>,
        window: Literal,
        /// `predict`'s look-ahead, when it differs from its window:
        /// `predict(m, 6h, 4d)`. Boxed, as is [`Value::Expr`]: a condition
        /// is held by value in every frame of the walks over its tree.
        horizon: Option<Box<Literal>>,
        span: Span,
    },
    /// A number inside arithmetic (`100 - x`, `x * 2`); a comparison's
    /// right side that is one number is a [`Value::Literal`].
    Number(Literal),
    Binary {
        op: ArithOp,
        op_span: Span,
        left: Box<MetricExpr>,
        right: Box<MetricExpr>,
    },
    /// Parentheses are kept so the formatter can print them back.
    Paren(Box<MetricExpr>, Span),
}

impl MetricExpr {
    pub fn span(&self) -> Span {
        match self {
            MetricExpr::Metric(id) => id.span,
            MetricExpr::Call { span, .. } | MetricExpr::Paren(_, span) => *span,
            MetricExpr::Number(lit) => lit.span,
            MetricExpr::Binary { left, right, .. } => left.span().to(right.span()),
        }
    }
}

pub use crate::ir::ArithOp;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool, Span),
    Literal(Literal),
    /// Arithmetic or a metric: `available_replicas != replicas`.
    Expr(Box<MetricExpr>),
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Bool(_, span) => *span,
            Value::Literal(lit) => lit.span,
            Value::Expr(expr) => expr.span(),
        }
    }
}

/// A number with an optional suffix and `/per` unit, as written: `85`, `3m`,
/// `1.5Gi`, `2%/min`. Its unit is decided by the checker from the context.
#[derive(Debug, Clone, PartialEq)]
pub struct Literal {
    /// The number as written, without its suffix.
    pub number: String,
    pub suffix: Option<String>,
    pub per: Option<String>,
    pub span: Span,
}

impl Literal {
    /// The literal's text exactly as it stands in the source.
    pub fn text(&self) -> String {
        let mut text = self.number.clone();
        if let Some(suffix) = &self.suffix {
            text.push_str(suffix);
        }
        if let Some(per) = &self.per {
            text.push('/');
            text.push_str(per);
        }
        text
    }
}

/// A double-quoted string: `value` is unescaped, `span` covers the quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLit {
    pub value: String,
    pub span: Span,
}

impl StringLit {
    /// The source offset of the byte at `index` of the unescaped value, so that
    /// an error inside embedded JSON or PromQL points into the file.
    pub fn source_offset(&self, source: &str, index: usize) -> usize {
        let inner_start = self.span.start + 1;
        let raw = source
            .get(inner_start..self.span.end.saturating_sub(1))
            .unwrap_or("");
        let mut unescaped = 0;
        let mut chars = raw.char_indices().peekable();
        while let Some((offset, ch)) = chars.next() {
            if unescaped >= index {
                return inner_start + offset;
            }
            // Only `\"` and `\\` are escapes (see the parser's `unescape`).
            if ch == '\\' && matches!(chars.peek(), Some((_, '"' | '\\'))) {
                chars.next();
                unescaped += 1;
            } else {
                unescaped += ch.len_utf8();
            }
        }
        inner_start + raw.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Restart {
        mode: Option<Ident>,
        span: Span,
    },
    Delete(Span),
    ScaleUp {
        by: Literal,
        max: Option<Literal>,
        span: Span,
    },
    ScaleDown {
        by: Literal,
        min: Option<Literal>,
        span: Span,
    },
    ScaleTo {
        replicas: Literal,
        span: Span,
    },
    Patch {
        name: Ident,
        span: Span,
    },
    Set {
        resource: Ident,
        value: SetValue,
        max: Option<Literal>,
        span: Span,
    },
    Rollback(Span),
    Cordon(Span),
    Drain(Span),
    Rerun(Span),
    /// `expand to 50Gi`, `expand to current * 1.5 max 200Gi`.
    Expand {
        value: SetValue,
        max: Option<Literal>,
        span: Span,
    },
    Notify {
        message: StringLit,
        span: Span,
    },
    AskAi {
        among: Option<Vec<Action>>,
        span: Span,
    },
    /// A word the grammar does not know as an action; the checker reports it.
    Unknown {
        name: Ident,
        span: Span,
    },
}

impl Action {
    pub fn span(&self) -> Span {
        match self {
            Action::Delete(span)
            | Action::Rollback(span)
            | Action::Cordon(span)
            | Action::Drain(span)
            | Action::Rerun(span) => *span,
            Action::Restart { span, .. }
            | Action::ScaleUp { span, .. }
            | Action::ScaleDown { span, .. }
            | Action::ScaleTo { span, .. }
            | Action::Patch { span, .. }
            | Action::Set { span, .. }
            | Action::Expand { span, .. }
            | Action::Notify { span, .. }
            | Action::AskAi { span, .. }
            | Action::Unknown { span, .. } => *span,
        }
    }
}

/// The right-hand side of `set memory_limit = …`.
#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Absolute(Literal),
    /// `current * FACTOR`
    Factor(Literal, Span),
}
