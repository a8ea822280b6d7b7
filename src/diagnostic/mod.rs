//! Diagnostics: what the parser and the checker tell a user, with a stable code,
//! a severity, a primary span, secondary labels, a help line and, where the fix is
//! mechanical, a replacement the editor can apply.
//!
//! The table of codes below is the only list of codes: `docs/language.md` documents
//! each (a test holds the two equal) and snapshot tests render each.

use crate::span::{LineIndex, Span};
use serde::Serialize;
use std::fmt;

mod report;
pub use report::{render, Report, LONG_LINE};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = ($code:literal, $severity:ident, $title:literal),)*) => {
        /// Every diagnostic code. The code string never changes once released.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $($variant,)*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// A few words naming the problem, for docs and listings.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    // Syntax.
    Syntax = ("E0001", Error, "syntax error"),
    UnterminatedString = ("E0002", Error, "unterminated string"),
    InvalidName = ("E0003", Error, "invalid name"),
    // Names.
    UnknownMetric = ("E0101", Error, "unknown metric"),
    UnknownStatus = ("E0102", Error, "unknown status reason"),
    UnknownAction = ("E0103", Error, "unknown action"),
    UndefinedPatch = ("E0104", Error, "undefined patch"),
    DuplicateName = ("E0105", Error, "duplicate name"),
    UnknownFunction = ("E0106", Error, "unknown window function"),
    UnknownKind = ("E0107", Error, "unknown kind"),
    UnknownMode = ("E0108", Error, "unknown mode"),
    UnknownUnit = ("E0109", Error, "unknown unit"),
    UnknownPatchType = ("E0110", Error, "unknown patch type"),
    UnknownResource = ("E0111", Error, "unknown resource"),
    // Types and units.
    UnitMismatch = ("E0201", Error, "unit mismatch"),
    ExpectedDuration = ("E0202", Error, "expected a duration"),
    OutOfRange = ("E0203", Error, "value out of range"),
    InvalidOperator = ("E0204", Error, "operator not valid for this type"),
    InvalidFunction = ("E0205", Error, "invalid use of a window function"),
    MetricNotForKind = ("E0206", Error, "metric does not apply to this kind"),
    StatusNotForKind = ("E0207", Error, "status reason does not apply to this kind"),
    ExpectedWholeNumber = ("E0208", Error, "expected a whole number"),
    IncompatibleUnits = ("E0209", Error, "operands of incompatible units"),
    NoMetric = ("E0210", Error, "comparison without a metric"),
    // Policy structure.
    MissingSelect = ("E0301", Error, "policy without `select`"),
    RepeatedStatement = ("E0302", Error, "statement given twice"),
    NoRules = ("E0303", Error, "policy without rules"),
    ActionNotForKind = ("E0304", Error, "action does not apply to this kind"),
    InvalidAction = ("E0305", Error, "invalid action"),
    InvalidLabel = ("E0306", Error, "invalid label selector"),
    NamespaceOnClusterKind = ("E0307", Error, "namespaces given for a cluster-scoped kind"),
    OnePolicyPerObject = ("E0308", Error, "a policy object holds exactly one policy"),
    OutsideObjectScope = ("E0309", Error, "selects outside the policy object's scope"),
    // Safety.
    ProtectedNamespace = ("E0401", Error, "protected namespace"),
    ForbiddenAction = ("E0402", Error, "forbidden by the safety configuration"),
    ForbiddenPatchField = ("E0403", Error, "patch touches a forbidden field"),
    ProtectedLabel = ("E0404", Error, "selects protected resources"),
    // Embedded languages.
    InvalidPromql = ("E0501", Error, "invalid PromQL"),
    UnknownPlaceholder = ("E0502", Error, "unknown placeholder in a PromQL template"),
    InvalidPatchJson = ("E0503", Error, "invalid patch JSON"),
    PlaceholderNotForKind = ("E0504", Error, "placeholder does not fit the selected kind"),
    JoinLabelMissing = ("E0505", Error, "query result lacks the label its policy joins on"),
    // Lints.
    ShadowedRule = ("W0101", Warning, "rule shadowed by an identical condition"),
    Flapping = ("W0102", Warning, "opposite actions without a gap between thresholds"),
    ForShorterThanInterval = ("W0103", Warning, "`for` shorter than the evaluation interval"),
    NoCooldown = ("W0104", Warning, "disruptive action without a cooldown"),
    UnusedMetric = ("W0105", Warning, "unused metric"),
    UnusedPatch = ("W0106", Warning, "unused patch"),
    UnboundedBudget = ("W0107", Warning, "unbounded disruption budget"),
    ApprovalInAutoMode = ("W0108", Warning, "action needs approval although the mode is `auto`"),
    SuspiciousPercent = ("W0109", Warning, "percent threshold that looks like a ratio"),
    ExceedsSafetyBound = ("W0110", Warning, "bound exceeds the safety configuration"),
    UnknownEvent = ("W0111", Warning, "unknown event reason"),
    UnboundedGrowth = ("W0112", Warning, "resource limit can grow without bound"),
    MaybeForbidden = ("W0113", Warning, "may be forbidden at run time"),
    RatioAboveOne = ("W0114", Warning, "ratio threshold above 1"),
    ScaleDownWithoutFloor = ("W0115", Warning, "scale down without a floor"),
    OutsideRange = ("W0116", Warning, "comparison outside the metric's range"),
    EmptyFile = ("W0117", Warning, "empty file"),
    Starving = ("W0118", Warning, "rules that can starve each other"),
    RepeatedNotice = ("W0119", Warning, "a notify repeated at every evaluation"),
    StatusWindowShorterThanInterval = ("W0120", Warning, "status window shorter than the evaluation interval"),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A replacement that fixes the problem: the editor's quick fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub span: Span,
    pub replacement: String,
}

/// One problem found in one source text.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub span: Span,
    /// Text under the primary span.
    pub label: Option<String>,
    /// Other places that explain the problem (the earlier declaration, …).
    pub related: Vec<(Span, String)>,
    pub help: Option<String>,
    pub suggestion: Option<Suggestion>,
}

impl Diagnostic {
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
            suggestion: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// A "did you mean" fix: replaces the primary span with `replacement`.
    pub fn suggest(mut self, replacement: impl Into<String>) -> Self {
        let replacement = replacement.into();
        self.help = Some(format!("did you mean `{replacement}`?"));
        self.suggestion = Some(Suggestion {
            span: self.span,
            replacement,
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The machine-readable form of a diagnostic (`check --format json`): lines and
/// columns are 1-based, columns count characters, and the end is exclusive.
#[derive(Debug, Clone, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub code: &'static str,
    pub severity: Severity,
    pub message: &'a str,
    pub help: Option<&'a str>,
}

impl Diagnostic {
    pub fn to_json<'a>(
        &'a self,
        file: &'a str,
        source: &str,
        lines: &LineIndex,
    ) -> JsonDiagnostic<'a> {
        let start = lines.line_col(source, self.span.start);
        let end = lines.line_col(source, self.span.end);
        JsonDiagnostic {
            file,
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            code: self.code.as_str(),
            severity: self.severity,
            message: &self.message,
            help: self.help.as_deref(),
        }
    }
}

/// The closest candidate to `name` by edit distance, if it is close enough to be
/// a plausible typo (or `name` is a prefix of it, as `CrashLoop` of
/// `CrashLoopBackOff`).
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let candidate_lower = candidate.to_ascii_lowercase();
        let distance = if candidate_lower == lower {
            0
        } else if (lower.len() >= 3 && candidate_lower.starts_with(&lower))
            || (candidate_lower.len() >= 4 && lower.starts_with(&candidate_lower))
        {
            1
        } else {
            strsim::damerau_levenshtein(&lower, &candidate_lower)
        };
        let allowed = (name.chars().count().max(3) / 3).max(1);
        if distance <= allowed && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_prefixed_by_severity() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let prefix = match code.severity() {
                Severity::Error => 'E',
                Severity::Warning => 'W',
            };
            assert!(code.as_str().starts_with(prefix), "{code}");
        }
    }

    #[test]
    fn closest_finds_typos_and_prefixes_but_not_strangers() {
        let metrics = ["memory_percent", "cpu_percent", "restarts"];
        assert_eq!(closest("memroy_percent", metrics), Some("memory_percent"));
        assert_eq!(closest("restart", metrics), Some("restarts"));
        assert_eq!(closest("latency", metrics), None);
        let reasons = ["CrashLoopBackOff", "OOMKilled"];
        assert_eq!(closest("CrashLoop", reasons), Some("CrashLoopBackOff"));
        assert_eq!(closest("oomkilled", reasons), Some("OOMKilled"));
        assert_eq!(closest("automatic", ["dryrun", "auto"]), Some("auto"));
    }
}
