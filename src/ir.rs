//! The typed, compiled form of a Skippy file: what the engine evaluates and the
//! operator carries out.
//!
//! Invariants:
//! - everything is resolved: metrics are indices into [`Program::metrics`],
//!   patches into [`Program::patches`] (the checker never makes a foreign one;
//!   the accessors still return `Option`, as a program read back from JSON is
//!   data), status reasons are the catalog's, actions carry what they act on
//!   and their safety class; nothing here is re-parsed or looked up by name
//!   later;
//! - every number is in its unit's canonical form (see [`crate::catalog::Unit`]):
//!   percent in points, ratios as fractions, bytes, cores, seconds, rates per
//!   second;
//! - no source spans: the IR of a file equals the IR of the same file formatted
//!   (the checker keeps spans aside for tools that need them);
//! - serializable, so the operator can cache it and tools can print it as JSON,
//!   with its schema [`VERSION`].

mod action;
mod metric;
mod render;
mod status;

pub use action::{Action, Choice, LimitValue, Resource, RestartMode, SafetyClass, Scale};
pub use metric::{Metric, Read};
pub use render::{render_threshold, render_value};
pub use status::StatusReason;

use crate::catalog::{Effect, Kind, Unit};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The version of the IR's schema. A consumer of serialized IR (the operator's
/// cache, tools reading `kubeskippy explain --json`) compares it with the
/// `version` it reads and recompiles on a mismatch; it changes whenever a
/// field changes meaning or shape.
pub const VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    /// The schema version this program was written with: [`VERSION`].
    pub version: u32,
    pub policies: Vec<Policy>,
    pub metrics: Vec<Metric>,
    pub patches: Vec<Patch>,
}

impl Default for Program {
    fn default() -> Self {
        Program {
            version: VERSION,
            policies: Vec::new(),
            metrics: Vec::new(),
            patches: Vec::new(),
        }
    }
}

impl Program {
    /// The metric of `id`; `None` for an id of another program (a program read
    /// from JSON is data, and its ids are not trusted).
    pub fn metric(&self, id: MetricId) -> Option<&Metric> {
        self.metrics.get(id.0)
    }

    /// Whether a policy of the program selects `kind`.
    pub fn selects(&self, kind: crate::catalog::Kind) -> bool {
        self.policies.iter().any(|p| p.selector.kind == kind)
    }

    /// The longest window or event span any rule reads, in seconds: how
    /// far back an observer keeps samples and events for it.
    pub fn longest_window(&self) -> u64 {
        fn walk(c: &Condition, longest: &mut u64) {
            match c {
                Condition::Compare { .. } | Condition::Relation { .. } => {
                    c.for_each_metric_expr(&mut |expr| {
                        if let Some(w) = expr.window {
                            *longest = (*longest).max(w.range.0);
                        }
                    });
                }
                Condition::Event { within, .. } | Condition::StatusWas { within, .. } => {
                    *longest = (*longest).max(within.0)
                }
                Condition::Status(_) => {}
                Condition::And(a, b) | Condition::Or(a, b) => {
                    walk(a, longest);
                    walk(b, longest);
                }
                Condition::Not(a) | Condition::Held { condition: a, .. } => walk(a, longest),
            }
        }
        let mut longest = 0;
        for rule in self.policies.iter().flat_map(|p| &p.rules) {
            walk(&rule.condition, &mut longest);
        }
        longest
    }

    /// The status reasons some rule reads over a window (`status was R
    /// within D`): an observer keeps a history of these alone, as it keeps
    /// samples only of the metrics programs read.
    pub fn status_windows(&self) -> std::collections::BTreeSet<&'static str> {
        let mut reasons = std::collections::BTreeSet::new();
        for rule in self.policies.iter().flat_map(|p| &p.rules) {
            rule.condition.for_each_leaf(&mut |c| {
                if let Condition::StatusWas { reason, .. } = c {
                    reasons.insert(reason.name());
                }
            });
        }
        reasons
    }

    /// The patch of `id`; `None` for an id of another program.
    pub fn patch(&self, id: PatchId) -> Option<&Patch> {
        self.patches.get(id.0)
    }
}

/// An index into [`Program::metrics`]; valid for the program that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MetricId(pub usize);

/// An index into [`Program::patches`]; valid for the program that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PatchId(pub usize);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patch {
    pub name: String,
    pub patch_type: PatchType,
    /// The parsed patch document.
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    Merge,
    Strategic,
    /// A JSON patch (RFC 6902): a list of operations on paths.
    Json,
}

impl PatchType {
    pub const ALL: [PatchType; 3] = [PatchType::Merge, PatchType::Strategic, PatchType::Json];

    /// How a `patch` declaration names it.
    pub fn keyword(self) -> &'static str {
        match self {
            PatchType::Merge => "merge",
            PatchType::Strategic => "strategic",
            PatchType::Json => "json",
        }
    }

    pub fn from_keyword(word: &str) -> Option<PatchType> {
        PatchType::ALL.into_iter().find(|t| t.keyword() == word)
    }
}

/// A whole number of seconds.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Seconds(pub u64);

impl Seconds {
    /// Spelled in every unit it spans, as a clock reads: `0s`, `45s`,
    /// `14m45s`, `1h2m`. Display gives the single unit a policy writes.
    pub fn spelled(self) -> String {
        let mut rest = self.0;
        if rest == 0 {
            return "0s".into();
        }
        let mut out = String::new();
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            if rest >= size {
                out.push_str(&format!("{}{unit}", rest / size));
                rest %= size;
            }
        }
        out
    }
}

impl fmt::Display for Seconds {
    /// The largest exact unit: `90s` prints as `90s`, `3600s` as `1h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
            if s >= size && s.is_multiple_of(size) {
                return write!(f, "{}{unit}", s / size);
            }
        }
        write!(f, "{s}s")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub selector: Selector,
    pub mode: Mode,
    pub limit: Option<Limit>,
    pub cooldown: Option<Seconds>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Auto,
    DryRun,
    Approve,
    Monitor,
}

impl Mode {
    pub fn keyword(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::DryRun => "dryrun",
            Mode::Approve => "approve",
            Mode::Monitor => "monitor",
        }
    }

    pub fn from_keyword(word: &str) -> Option<Mode> {
        [Mode::Auto, Mode::DryRun, Mode::Approve, Mode::Monitor]
            .into_iter()
            .find(|m| m.keyword() == word)
    }
}

/// `limit COUNT per PER`: at most `count` actions of the policy in any window of
/// `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    pub count: u32,
    pub per: Seconds,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selector {
    pub kind: Kind,
    pub namespaces: Namespaces,
    pub labels: Vec<LabelSelector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Namespaces {
    /// No `in`: the namespace of the HealingPolicy that embeds the policy.
    Own,
    Named(Vec<String>),
    /// `in any`: every namespace except these protected ones.
    AnyExcept(Vec<String>),
    /// Nodes are not namespaced.
    ClusterScoped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelSelector {
    pub key: String,
    pub op: LabelOp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelOp {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    Exists,
    NotExists,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Position of the rule in its policy, from 0.
    pub index: usize,
    /// A stable identity of the rule's meaning (condition, `for`, action,
    /// priority), so that state such as `for` timers survives edits elsewhere in
    /// the policy.
    pub fingerprint: String,
    pub condition: Condition,
    /// `for D`: how long the condition must hold before the rule fires.
    pub hold: Option<Seconds>,
    pub action: Action,
    /// What the action acts on: the selected object, a selected pod's owner or
    /// node, or nothing (`notify`, `ask ai`, whose choices say theirs).
    pub effect: Effect,
    /// 1 (most urgent) to 20.
    pub priority: u8,
    /// For `ask ai`, the strictest class of its choices.
    pub safety: SafetyClass,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    Compare {
        expr: MetricExpr,
        op: CmpOp,
        threshold: Threshold,
    },
    Status(StatusReason),
    /// `status was R within D`: the status held at some evaluation of the
    /// last `D` (PromQL's `max_over_time(…[D]) >= 1`).
    StatusWas {
        reason: StatusReason,
        within: Seconds,
    },
    /// A clause with a `for` of its own (`status is R for 3m and …`): true
    /// once `condition` has held for `hold`, with a timer of its own per
    /// (policy, rule, clause, target). `clause` numbers the held clauses of
    /// a rule from 0 in post-order, so that a held clause inside another is
    /// decided first.
    Held {
        condition: Box<Condition>,
        hold: Seconds,
        clause: usize,
    },
    Event {
        reason: String,
        op: CmpOp,
        count: u32,
        within: Seconds,
    },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    /// Arithmetic or a second metric on either side:
    /// `available_replicas != replicas`, `a / b > 90%`. Both sides have one
    /// type (the checker proved it), and a side with an unknown operand is
    /// unknown, so the comparison is too.
    /// The sides are boxed: a condition tree is walked recursively, and
    /// every level's frame holds conditions by value.
    Relation {
        left: Box<Expr>,
        op: CmpOp,
        right: Box<Expr>,
    },
}

impl Condition {
    /// Every metric the condition reads.
    pub fn metrics(&self, out: &mut Vec<MetricId>) {
        self.for_each_metric_expr(&mut |expr| out.push(expr.metric));
    }

    /// Calls `f` with every metric expression the condition reads, in order.
    pub fn for_each_metric_expr(&self, f: &mut impl FnMut(&MetricExpr)) {
        match self {
            Condition::Compare { expr, .. } => f(expr),
            Condition::Relation { left, right, .. } => {
                left.for_each_metric_expr(f);
                right.for_each_metric_expr(f);
            }
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.for_each_metric_expr(f);
                b.for_each_metric_expr(f);
            }
            Condition::Not(c) | Condition::Held { condition: c, .. } => c.for_each_metric_expr(f),
            Condition::Status(_) | Condition::StatusWas { .. } | Condition::Event { .. } => {}
        }
    }

    /// Calls `f` with every condition that holds no other, in order.
    pub fn for_each_leaf(&self, f: &mut impl FnMut(&Condition)) {
        match self {
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.for_each_leaf(f);
                b.for_each_leaf(f);
            }
            Condition::Not(c) | Condition::Held { condition: c, .. } => c.for_each_leaf(f),
            leaf => f(leaf),
        }
    }

    /// Calls `f` with every held clause, inner ones first (the order of
    /// their `clause` numbers).
    pub fn for_each_held(&self, f: &mut impl FnMut(&Condition, Seconds, usize)) {
        match self {
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.for_each_held(f);
                b.for_each_held(f);
            }
            Condition::Not(c) => c.for_each_held(f),
            Condition::Held {
                condition,
                hold,
                clause,
            } => {
                condition.for_each_held(f);
                f(condition, *hold, *clause);
            }
            _ => {}
        }
    }
}

/// A side of a [`Condition::Relation`]: arithmetic over metric expressions
/// and numbers, each node with the type of its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expr {
    Metric(MetricExpr),
    /// A number in the canonical unit of `ty`; a factor of `*` or `/` is a
    /// plain number, typed as a ratio.
    Number {
        value: f64,
        ty: Type,
    },
    Binary {
        op: ArithOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: Type,
    },
}

impl Expr {
    pub fn ty(&self) -> Type {
        match self {
            Expr::Metric(m) => m.ty,
            Expr::Number { ty, .. } | Expr::Binary { ty, .. } => *ty,
        }
    }

    /// Calls `f` with every metric expression, left to right.
    pub fn for_each_metric_expr(&self, f: &mut impl FnMut(&MetricExpr)) {
        match self {
            Expr::Metric(m) => f(m),
            Expr::Number { .. } => {}
            Expr::Binary { left, right, .. } => {
                left.for_each_metric_expr(f);
                right.for_each_metric_expr(f);
            }
        }
    }
}

/// An arithmetic operator of [`Expr::Binary`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl ArithOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        }
    }

    /// Binding strength: `*` and `/` bind tighter than `+` and `-`.
    pub fn precedence(self) -> u8 {
        match self {
            ArithOp::Add | ArithOp::Sub => 1,
            ArithOp::Mul | ArithOp::Div => 2,
        }
    }

    /// The result, `None` where it is not a finite number (a division by
    /// zero is unknown, not infinite: a rule must not fire on it).
    pub fn apply(self, left: f64, right: f64) -> Option<f64> {
        let value = match self {
            ArithOp::Add => left + right,
            ArithOp::Sub => left - right,
            ArithOp::Mul => left * right,
            ArithOp::Div => left / right,
        };
        value.is_finite().then_some(value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CmpOp {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }

    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            CmpOp::Gt => left > right,
            CmpOp::Ge => left >= right,
            CmpOp::Lt => left < right,
            CmpOp::Le => left <= right,
            CmpOp::Eq => left == right,
            CmpOp::Ne => left != right,
        }
    }
}

/// A metric, possibly through a window function.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricExpr {
    pub metric: MetricId,
    pub window: Option<Window>,
    /// The type of the expression's value.
    pub ty: Type,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    pub function: WindowFn,
    pub range: Seconds,
    /// `predict`'s look-ahead when it is not the window's length:
    /// `predict(m, 6h, 4d)` fits 6 hours and looks 4 days ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon: Option<Seconds>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowFn {
    Avg,
    Max,
    Min,
    Increase,
    Rate,
    Trend,
    Predict,
    /// How many times the value changed within the window: `changes(m, D)
    /// == 0` is "no progress within D".
    Changes,
}

impl WindowFn {
    pub fn name(self) -> &'static str {
        match self {
            WindowFn::Avg => "avg",
            WindowFn::Max => "max",
            WindowFn::Min => "min",
            WindowFn::Increase => "increase",
            WindowFn::Rate => "rate",
            WindowFn::Trend => "trend",
            WindowFn::Predict => "predict",
            WindowFn::Changes => "changes",
        }
    }

    pub fn from_name(name: &str) -> Option<WindowFn> {
        use WindowFn::*;
        [Avg, Max, Min, Increase, Rate, Trend, Predict, Changes]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// The type of a value: a unit, or a unit per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Type {
    Scalar(Unit),
    Rate(Unit),
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Scalar(unit) => write!(f, "{unit}"),
            Type::Rate(unit) => write!(f, "{unit} per second"),
        }
    }
}

/// The right-hand side of a comparison, in the canonical unit of the left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Threshold {
    Number(f64),
    Bool(bool),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_print_in_their_largest_exact_unit() {
        let printed: Vec<String> = [0, 45, 90, 180, 3600, 5400, 86_400]
            .map(|s| Seconds(s).to_string())
            .into();
        assert_eq!(printed, ["0s", "45s", "90s", "3m", "1h", "90m", "1d"]);
    }
}
