//! The labels a declared metric's result series certainly carry, read from
//! its PromQL, and E0505 where a policy's kind joins on one they lack: the
//! engine reads a declared metric per pod (label `pod`) or per node (label
//! `node`), so `sum(…)` with no `by`, or `by (namespace)`, would never match
//! a target and the rule would stay unknown.

use super::Checker;
use crate::catalog::Kind;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir;
use crate::syntax::ast;
use promql_parser::parser::{BinModifier, Expr, LabelModifier, VectorMatchCardinality};
use std::collections::BTreeSet;

/// The labels of the result, where the query's shape says them; `None`
/// where it cannot be told (a raw selector keeps whatever labels its
/// series have, `label_replace` adds any).
fn result_labels(expr: &Expr) -> Option<BTreeSet<String>> {
    match expr {
        Expr::Aggregate(a) => {
            // These keep each input series' own labels, or add one.
            let op = a.op.to_string();
            if ["topk", "bottomk", "limitk", "limit_ratio", "count_values"].contains(&op.as_str()) {
                return None;
            }
            match &a.modifier {
                None => Some(BTreeSet::new()),
                Some(LabelModifier::Include(labels)) => {
                    Some(labels.labels.iter().cloned().collect())
                }
                Some(LabelModifier::Exclude(_)) => None,
            }
        }
        Expr::Paren(p) => result_labels(&p.expr),
        Expr::NumberLiteral(_) => Some(BTreeSet::new()),
        Expr::Unary(u) => result_labels(&u.expr),
        Expr::Binary(b) => binary_labels(
            &b.lhs,
            &b.rhs,
            b.modifier.as_ref(),
            b.op.is_set_operator(),
            &b.op.to_string(),
        ),
        Expr::Call(call) => {
            let arg = |i: usize| call.args.args.get(i).and_then(|a| result_labels(a));
            match call.func.name {
                "histogram_quantile" => arg(1).map(|mut labels| {
                    labels.remove("le");
                    labels
                }),
                "abs" | "ceil" | "floor" | "round" | "sqrt" | "exp" | "ln" | "log2" | "log10"
                | "sgn" | "clamp" | "clamp_min" | "clamp_max" | "sort" | "sort_desc" => arg(0),
                "vector" | "time" | "scalar" | "pi" => Some(BTreeSet::new()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn is_scalar(expr: &Expr) -> bool {
    match expr {
        Expr::NumberLiteral(_) => true,
        Expr::Paren(p) => is_scalar(&p.expr),
        Expr::Unary(u) => is_scalar(&u.expr),
        Expr::Call(call) => matches!(call.func.name, "scalar" | "time" | "pi"),
        _ => false,
    }
}

/// As Prometheus makes a binary operation's result: the other side's labels
/// beside a scalar; between vectors, the left side's, kept to the `on`
/// labels of a one-to-one match, with a group modifier's extra labels.
fn binary_labels(
    lhs: &Expr,
    rhs: &Expr,
    modifier: Option<&BinModifier>,
    set_operator: bool,
    op: &str,
) -> Option<BTreeSet<String>> {
    match (is_scalar(lhs), is_scalar(rhs)) {
        (true, true) => return Some(BTreeSet::new()),
        (true, false) => return result_labels(rhs),
        (false, true) => return result_labels(lhs),
        (false, false) => {}
    }
    let left = result_labels(lhs);
    if set_operator {
        return match op {
            // `or` keeps series of either side: only labels both carry are sure.
            "or" => Some(&left? & &result_labels(rhs)?),
            _ => left,
        };
    }
    let Some(modifier) = modifier else {
        return left;
    };
    match (&modifier.card, &modifier.matching) {
        (VectorMatchCardinality::OneToOne, Some(LabelModifier::Include(on))) => {
            let on: BTreeSet<String> = on.labels.iter().cloned().collect();
            Some(&left? & &on)
        }
        (VectorMatchCardinality::OneToOne, Some(LabelModifier::Exclude(ignoring))) => {
            let mut labels = left?;
            for l in &ignoring.labels {
                labels.remove(l);
            }
            Some(labels)
        }
        (VectorMatchCardinality::OneToOne, None) => left,
        (VectorMatchCardinality::ManyToOne(extra), _) => {
            let mut labels = left?;
            labels.extend(extra.labels.iter().cloned());
            Some(labels)
        }
        (VectorMatchCardinality::OneToMany(extra), _) => {
            let mut labels = result_labels(rhs)?;
            labels.extend(extra.labels.iter().cloned());
            Some(labels)
        }
        (VectorMatchCardinality::ManyToMany, _) => left,
    }
}

/// The label the engine joins a declared metric's series on for `kind`.
fn join_label(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::Pods | Kind::Deployments | Kind::StatefulSets | Kind::DaemonSets => Some("pod"),
        Kind::Nodes => Some("node"),
        _ => None,
    }
}

impl Checker<'_> {
    /// E0505 where the declared metric's result cannot carry the label its
    /// series are joined on for the policy's kind.
    pub(super) fn join_label_fits(
        &mut self,
        id: ir::MetricId,
        name: &ast::Ident,
        kind: Kind,
    ) -> bool {
        let Some(query) = self
            .program
            .metric(id)
            .filter(|m| !m.builtin)
            .and_then(|m| m.promql.clone())
        else {
            return true;
        };
        let Some(label) = join_label(kind) else {
            return true;
        };
        // The placeholders are filled in with text that parses; what they
        // stand for does not change the grouping.
        let filled = crate::catalog::PROMQL_PLACEHOLDERS
            .iter()
            .fold(query, |q, (p, _)| q.replace(p, "x"));
        let Ok(expr) = promql_parser::parser::parse(&filled) else {
            return true;
        };
        let Some(labels) = result_labels(&expr) else {
            return true;
        };
        if labels.contains(label) {
            return true;
        }
        let grouping = if labels.is_empty() {
            "carry no labels".to_string()
        } else {
            let shown: Vec<&str> = labels.iter().map(String::as_str).collect();
            format!("carry only {}", shown.join(", "))
        };
        self.report(
            Diagnostic::new(
                Code::JoinLabelMissing,
                name.span,
                format!(
                    "`{}` returns series without a `{label}` label, which a policy on {kind} joins on",
                    name.name
                ),
            )
            .label(format!("its query's series {grouping}"))
            .help(format!(
                "group the query by `{label}`: `sum by ({label}) (…)`, so each {} gets its own value",
                kind.singular()
            )),
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::result_labels;

    fn labels(query: &str) -> Option<Vec<String>> {
        let expr = promql_parser::parser::parse(query).expect("a query");
        result_labels(&expr).map(|l| l.into_iter().collect())
    }

    #[test]
    fn the_outermost_grouping_decides() {
        assert_eq!(labels("sum(rate(x[5m]))"), Some(vec![]));
        assert_eq!(labels("sum by (pod) (x)"), Some(vec!["pod".to_string()]));
        assert_eq!(labels("x"), None);
        assert_eq!(labels("sum without (a) (x)"), None);
        assert_eq!(labels("topk by (pod) (3, x)"), None);
        assert_eq!(
            labels("100 * sum by (pod) (x) / sum by (pod) (y)"),
            Some(vec!["pod".into()])
        );
        assert_eq!(
            labels("histogram_quantile(0.99, sum by (pod, le) (rate(x[5m])))"),
            Some(vec!["pod".into()])
        );
        assert_eq!(
            labels("sum by (pod, ns) (x) / on (ns) group_left sum by (ns) (y)"),
            Some(vec!["ns".into(), "pod".into()])
        );
        assert_eq!(
            labels("sum by (pod, ns) (x) / on (ns) sum by (ns, pod) (y)"),
            Some(vec!["ns".into()])
        );
        assert_eq!(
            labels("sum by (pod) (x) or sum by (node) (y)"),
            Some(vec![])
        );
        assert_eq!(
            labels("label_replace(sum(x), \"pod\", \"$1\", \"a\", \"(.*)\")"),
            None
        );
    }
}
