//! What a decision saw, as data: the values, comparisons and durations that
//! made a rule fire. Kept structured so the operator can store it in a
//! HealingAction, the AI analyzer can quote it and a test can read it; turned
//! into words only where a person reads it ([`fmt::Display`]).

use crate::catalog::Unit;
use crate::ir::{self, render_threshold, render_value, CmpOp, Seconds, Threshold, Type};
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Evidence {
    /// A metric (through its window function, if any) compared with a
    /// threshold: `avg(cpu_percent, 2m)=91.35% > 80%`.
    Compare {
        /// The expression as the policy writes it.
        expr: String,
        /// In the canonical unit of `ty`.
        value: f64,
        op: CmpOp,
        threshold: Threshold,
        ty: Type,
        /// The right side as the policy writes it, when it is not a number
        /// (`replicas` in `available_replicas != replicas`): `threshold` is
        /// then its value at the same moment.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        against: Option<String>,
    },
    Status {
        reason: String,
        /// Since when, where the source says (a condition's
        /// lastTransitionTime).
        since: Option<i64>,
    },
    /// A status that held at some evaluation of the window
    /// (`status was R within D`).
    StatusWas { reason: String, within: Seconds },
    Event {
        reason: String,
        /// How many times it happened within `within`.
        count: u64,
        op: CmpOp,
        threshold: u32,
        within: Seconds,
    },
    /// What was seen inside a `not`, which held the other way round.
    Not { inner: Vec<Evidence> },
    /// The condition held this long (`for D`).
    Held { seconds: u64 },
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Evidence::Compare {
                expr,
                value,
                op,
                threshold,
                ty,
                against,
            } => {
                write!(
                    f,
                    "{expr}={} {} ",
                    shown(*value, *op, *threshold, *ty),
                    op.as_str()
                )?;
                if let Some(against) = against {
                    write!(f, "{against}=")?;
                }
                f.write_str(&render_threshold(*threshold, *ty))
            }
            Evidence::Status { reason, .. } => write!(f, "status is {reason}"),
            Evidence::StatusWas { reason, within } => {
                write!(f, "status was {reason} within {within}")
            }
            Evidence::Event {
                reason,
                count,
                op,
                threshold,
                within,
            } => write!(
                f,
                "event {reason} count={count} {} {threshold} within {within}",
                op.as_str()
            ),
            Evidence::Not { inner } => {
                f.write_str("not (")?;
                for (i, e) in inner.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Evidence::Held { seconds } => write!(f, "for {}", Seconds(*seconds).spelled()),
        }
    }
}

/// Each piece of evidence in words, in order.
pub fn render(evidence: &[Evidence]) -> Vec<String> {
    evidence.iter().map(ToString::to_string).collect()
}

/// The observed value as a person reads it.
fn shown(value: f64, op: CmpOp, threshold: Threshold, ty: Type) -> String {
    match (threshold, ty) {
        (Threshold::Bool(_), _) => (value != 0.0).to_string(),
        (_, Type::Scalar(Unit::Duration)) if value.fract() == 0.0 => {
            // An age of 3465 s reads better as 57m45s.
            Seconds(value.max(0.0) as u64).spelled()
        }
        _ => {
            // Rounded for people, unless rounding would make the value look
            // equal to the threshold, or on the other side of it, than it is.
            let limit = render_threshold(threshold, ty);
            let holds = compare_holds(value, op, threshold);
            let rounded = for_display(value);
            let short = render_value(rounded, ty);
            let faithful = rounded.is_finite()
                && compare_holds(rounded, op, threshold) == holds
                && short != limit;
            if faithful {
                short
            } else {
                render_value(value, ty)
            }
        }
    }
}

pub(super) fn compare_holds(value: f64, op: ir::CmpOp, threshold: Threshold) -> bool {
    match threshold {
        Threshold::Number(n) => op.holds(value, n),
        Threshold::Bool(b) => op.holds(value, if b { 1.0 } else { 0.0 }),
    }
}

/// An observed value rounded to what a person reads: two decimals, or four
/// significant digits below 1 (ratios, per-second rates).
fn for_display(value: f64) -> f64 {
    let magnitude = value.abs();
    if magnitude >= 1.0 || magnitude == 0.0 {
        (value * 100.0).round() / 100.0
    } else {
        let scale = 10f64.powi(3 - magnitude.log10().floor() as i32);
        (value * scale).round() / scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_rounded_for_people() {
        assert_eq!(for_display(91.345354), 91.35);
        assert_eq!(for_display(0.081125), 0.08113);
        assert_eq!(for_display(-0.0001234567), -0.0001235);
        assert_eq!(for_display(0.0), 0.0);
        assert_eq!(for_display(1e300), 1e300);
    }

    #[test]
    fn rounding_never_crosses_the_threshold() {
        let e = Evidence::Compare {
            expr: "memory_percent".into(),
            value: 85.001,
            op: CmpOp::Gt,
            threshold: Threshold::Number(85.0),
            ty: Type::Scalar(Unit::Percent),
            against: None,
        };
        assert_eq!(e.to_string(), "memory_percent=85.001% > 85%");
    }

    #[test]
    fn a_second_metric_is_named_with_its_value() {
        let e = Evidence::Compare {
            expr: "available_replicas".into(),
            value: 2.0,
            op: CmpOp::Ne,
            threshold: Threshold::Number(3.0),
            ty: Type::Scalar(Unit::Count),
            against: Some("replicas".into()),
        };
        assert_eq!(e.to_string(), "available_replicas=2 != replicas=3");
    }

    #[test]
    fn not_wraps_what_it_saw() {
        let e = Evidence::Not {
            inner: vec![Evidence::Status {
                reason: "Ready".into(),
                since: None,
            }],
        };
        assert_eq!(e.to_string(), "not (status is Ready)");
        assert_eq!(Evidence::Held { seconds: 195 }.to_string(), "for 3m15s");
        let was = Evidence::StatusWas {
            reason: "CrashLoopBackOff".into(),
            within: Seconds(300),
        };
        assert_eq!(was.to_string(), "status was CrashLoopBackOff within 5m");
    }
}
