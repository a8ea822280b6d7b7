//! The labels a declared metric's result series certainly carry, read from
//! its PromQL, and E0505 where a policy's kind joins on labels they lack:
//! the engine reads a declared metric per pod (label `pod`), per workload
//! (its kind's label, `deployment`) or per node (label `node`), see
//! [`ir::Read`], so `sum(…)` with no `by`, or `by (namespace)`, would never
//! match a target and the rule would stay unknown.

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

/// The labels of a declared metric's result, from its query's outermost
/// grouping (see [`ir::Metric::labels`]); `None` where its shape, or a
/// query that does not parse, cannot tell.
pub(super) fn grouping(query: &str) -> Option<Vec<String>> {
    // The placeholders are filled in with text that parses; what they
    // stand for does not change the grouping.
    let filled = crate::catalog::PROMQL_PLACEHOLDERS
        .iter()
        .fold(query.to_string(), |q, (p, _)| q.replace(p, "x"));
    let expr = promql_parser::parser::parse(&filled).ok()?;
    result_labels(&expr).map(|labels| labels.into_iter().collect())
}

/// "`pod`", "`pod` or `deployment`".
fn either(labels: &[&str]) -> String {
    let quoted: Vec<String> = labels.iter().map(|l| format!("`{l}`")).collect();
    quoted.join(" or ")
}

impl Checker<'_> {
    /// E0505 where the declared metric's result cannot carry a label its
    /// series are joined on for the policy's kind.
    pub(super) fn join_label_fits(
        &mut self,
        id: ir::MetricId,
        name: &ast::Ident,
        kind: Kind,
    ) -> bool {
        let Some(metric) = self.program.metric(id).filter(|m| !m.builtin) else {
            return true;
        };
        // Other kinds join on no label a query must keep.
        let joined = matches!(kind, Kind::Pods | Kind::Nodes | Kind::Containers);
        if !(joined || kind.is_workload()) {
            return true;
        }
        if metric.read_on(kind) != ir::Read::Unjoined {
            return true;
        }
        let labels = metric.labels.clone().unwrap_or_default();
        let grouping = if labels.is_empty() {
            "carry no labels".to_string()
        } else {
            format!("carry only {}", labels.join(", "))
        };
        let wanted = ir::Metric::join_labels(kind);
        // A workload's own series read by a policy on pods: say where it fits.
        let workload = Kind::ALL.into_iter().filter(|k| k.is_workload()).find(|k| {
            k.series_label()
                .is_some_and(|l| labels.iter().any(|x| x == l))
        });
        let help = match (kind, workload) {
            (Kind::Containers, _) => "group the query by both: `sum by (pod, container) (…)`, so each container gets its own value (a container's name is unique only in its pod)".to_string(),
            (Kind::Pods, Some(owner)) => format!(
                "its series are each {}'s own: read it in a policy on {owner}, or group the query by `pod`: `sum by (pod) (…)`, so each pod gets its own value",
                owner.singular()
            ),
            (k, _) if k.is_workload() => {
                let own = k.series_label().unwrap_or("pod");
                format!(
                    "group the query by `pod` (each pod's value, combined over the {0}'s pods) or by `{own}` (the {0}'s own value): `sum by ({own}) (…)`",
                    k.singular()
                )
            }
            (k, _) => {
                let own = wanted.first().copied().unwrap_or("pod");
                format!(
                    "group the query by `{own}`: `sum by ({own}) (…)`, so each {} gets its own value",
                    k.singular()
                )
            }
        };
        let message = if kind == Kind::Containers {
            format!(
                "`{}` returns series without both `pod` and `container` labels, which a policy on containers joins on",
                name.name
            )
        } else {
            format!(
                "`{}` returns series without a {} label, which a policy on {kind} joins on",
                name.name,
                either(&wanted)
            )
        };
        self.report(
            Diagnostic::new(Code::JoinLabelMissing, name.span, message)
                .label(format!("its query's series {grouping}"))
                .help(help),
        );
        false
    }
}

#[cfg(test)]
mod tests {
    use super::result_labels;
    use crate::safety::SafetyConfig;

    /// E0505 as a user reads it for `query` in a policy on `kind`.
    fn rendered(query: &str, kind: &str) -> String {
        let source = format!(
            "metric m: count = promql \"{query}\"\npolicy p {{\n  select {kind} in shop\n  cooldown 1h\n  when m > 0 for 5m then notify \"m\"\n}}\n"
        );
        let compiled = crate::check::compile(&source, &SafetyConfig::default());
        crate::diagnostic::render(&compiled.diagnostics, "example.skippy", &source, false)
    }

    #[test]
    fn a_workload_policy_joins_on_pod_or_its_own_label() {
        let per_pod = "sum by (pod) (x{namespace=\\\"$namespace\\\"})";
        let per_deployment =
            "max by (deployment) (kube_deployment_status_replicas_unavailable{namespace=\\\"$namespace\\\"})";
        assert_eq!(rendered(per_pod, "deployments"), "");
        assert_eq!(rendered(per_deployment, "deployments"), "");
        insta::assert_snapshot!(
            "join_label_workload",
            rendered(per_deployment, "statefulsets")
        );
        insta::assert_snapshot!(
            "join_label_workload_in_pods",
            rendered(per_deployment, "pods")
        );
    }

    #[test]
    fn a_container_policy_joins_on_pod_and_container_together() {
        let per_container =
            "sum by (pod, container) (increase(container_cpu_cfs_throttled_periods_total{namespace=\\\"$namespace\\\"}[5m]))";
        let raw = "container_cpu_cfs_periods_total{namespace=\\\"$namespace\\\"}";
        assert_eq!(rendered(per_container, "containers"), "");
        assert_eq!(rendered(raw, "containers"), "");
        let per_pod =
            "sum by (pod) (container_cpu_cfs_periods_total{namespace=\\\"$namespace\\\"})";
        insta::assert_snapshot!("join_label_containers", rendered(per_pod, "containers"));
    }

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
