//! `kubeskippy explain`: the compiled program in readable form — each rule's
//! typed condition and durations, the data each metric comes from (with the
//! PromQL it runs), each action with what it acts on and its safety class, and
//! each policy's worst-case disruption budget.

use crate::catalog::{self, Aggregation, Effect, Kind};
use crate::ir::{self, Action, LabelOp, Mode, Namespaces, Program};
use crate::safety::{self, join_or, Budget, SafetyConfig};
use std::collections::BTreeSet;
use std::fmt::Write;

/// The explanation of `program` as plain text.
pub fn explain(program: &Program, config: &SafetyConfig) -> String {
    let mut out = String::new();
    for (i, policy) in program.policies.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        policy_text(&mut out, program, policy, config);
    }
    let used = used_metrics(program);
    if !used.is_empty() {
        out.push_str("\nmetrics\n");
        for id in used {
            let Some(metric) = program.metric(id) else {
                continue;
            };
            metric_text(&mut out, metric);
            if !metric.builtin {
                for kind in reading_kinds(program, id) {
                    let _ = writeln!(out, "    read on {kind}: {}", read_text(metric, kind));
                }
            }
        }
    }
    out
}

fn policy_text(out: &mut String, program: &Program, policy: &ir::Policy, config: &SafetyConfig) {
    let _ = writeln!(out, "policy {}", policy.name);
    let _ = writeln!(out, "  selects   {}", selector(&policy.selector));
    let _ = writeln!(
        out,
        "  mode      {}{}",
        policy.mode.keyword(),
        mode_note(policy.mode)
    );
    let _ = writeln!(
        out,
        "  limit     {}",
        policy
            .limit
            .map_or("none".to_string(), |l| format!("{} per {}", l.count, l.per))
    );
    let _ = writeln!(
        out,
        "  cooldown  {}",
        policy
            .cooldown
            .map_or("none".to_string(), |c| format!("{c} per target"))
    );
    let budget = if policy.mode == Mode::Monitor {
        "none (mode monitor never acts)".to_string()
    } else {
        budget_text(safety::budget(policy, config))
    };
    let _ = writeln!(out, "  budget    {budget}");
    for rule in &policy.rules {
        let _ = writeln!(
            out,
            "  rule {} (priority {})",
            rule.index + 1,
            rule.priority
        );
        let _ = writeln!(
            out,
            "    when    {}",
            program.render_condition(&rule.condition)
        );
        relation_promql(out, program, policy.selector.kind, &rule.condition);
        status_windows(out, &rule.condition);
        rule.condition.for_each_held(&mut |condition, hold, _| {
            let _ = writeln!(
                out,
                "    holds   {} true at every evaluation for {hold} ({} s), on a timer of its own",
                program.render_condition(condition),
                hold.0
            );
        });
        let hold = match rule.hold {
            Some(h) => format!("true at every evaluation for {h} ({} s)", h.0),
            None => "true at one evaluation".to_string(),
        };
        let _ = writeln!(out, "    fires   {hold}");
        let _ = writeln!(out, "    then    {}", program.render_action(&rule.action));
        let _ = writeln!(
            out,
            "    acts on {}",
            acts_on(&rule.action, rule.effect, &policy.selector)
        );
        let _ = writeln!(out, "    safety  {}", rule.safety);
        for choice in rule.action.choices() {
            let _ = writeln!(
                out,
                "      may choose {} ({}; acts on {})",
                program.render_action(&choice.action),
                choice.safety,
                acts_on(&choice.action, choice.effect, &policy.selector)
            );
        }
        if let Some(patch) = match rule.action {
            Action::Patch(id) => program.patch(id),
            _ => None,
        } {
            let _ = writeln!(
                out,
                "    patch   {} {}",
                patch.patch_type.keyword(),
                patch.body
            );
        }
    }
}

/// What each window over a status reads: the operator's own record of the
/// status at each evaluation, as PromQL's `max_over_time` reads a series.
fn status_windows(out: &mut String, condition: &ir::Condition) {
    condition.for_each_leaf(&mut |leaf| {
        if let ir::Condition::StatusWas { reason, within } = leaf {
            let _ = writeln!(
                out,
                "    window  status {} at any evaluation of the last {within} (as `max_over_time(…[{within}]) >= 1`), from the status KubeSkippy records at each evaluation",
                reason.name()
            );
        }
    });
}

/// The PromQL each comparison with arithmetic or two metrics compiles to,
/// from its metrics' templates (placeholders unfilled): one line per
/// comparison. Where a metric is not one query's series — read from the
/// object's own status, or a workload's value that KubeSkippy aggregates
/// from its pods' series — one line names those metrics instead. (A single
/// metric's template is in the metrics section.)
fn relation_promql(out: &mut String, program: &Program, kind: Kind, condition: &ir::Condition) {
    let mut queries = Vec::new();
    let mut unqueried: Vec<String> = Vec::new();
    let mut open = vec![condition];
    while let Some(condition) = open.pop() {
        match condition {
            ir::Condition::And(a, b) | ir::Condition::Or(a, b) => open.extend([&**b, &**a]),
            ir::Condition::Not(c) | ir::Condition::Held { condition: c, .. } => open.push(c),
            ir::Condition::Relation { left, op, right } => {
                let l = promql_side(program, kind, left, &mut unqueried);
                let r = promql_side(program, kind, right, &mut unqueried);
                if let (Some(l), Some(r)) = (l, r) {
                    queries.push(format!("{l} {} {r}", op.as_str()));
                }
            }
            ir::Condition::Compare { .. } => {}
            ir::Condition::Status(_)
            | ir::Condition::StatusWas { .. }
            | ir::Condition::Event { .. } => {}
        }
    }
    for query in queries {
        let _ = writeln!(out, "    promql  {query}");
    }
    if !unqueried.is_empty() {
        let names: Vec<String> = unqueried.iter().map(|n| format!("`{n}`")).collect();
        let _ = writeln!(
            out,
            "    promql  none for {}: read from the object's own status, or aggregated from its pods' series by KubeSkippy",
            names.join(", ")
        );
    }
}

/// One side in PromQL; `None` when a metric has no query, whose name is
/// added to `unqueried`. A window
/// function over a template is a subquery (`avg_over_time((Q)[5m:])`);
/// `trend` is `deriv` (per second, as the IR holds it) and `predict` is
/// `predict_linear` with its look-ahead in seconds. A counter's `increase`
/// or `rate` is summed by the labels of a target of `kind`: each of its
/// series grows on its own (see `observe::counters`).
fn promql_side(
    program: &Program,
    kind: Kind,
    expr: &ir::Expr,
    unqueried: &mut Vec<String>,
) -> Option<String> {
    match expr {
        ir::Expr::Metric(m) => {
            let metric = program.metric(m.metric)?;
            let aggregated =
                metric.aggregation.is_some() && metric.kind.is_some_and(Kind::is_workload);
            let Some(query) = metric.promql.as_deref().filter(|_| !aggregated) else {
                if !unqueried.contains(&metric.name) {
                    unqueried.push(metric.name.clone());
                }
                return None;
            };
            Some(match m.window {
                None => format!("({query})"),
                Some(w) => {
                    let range = w.range;
                    match w.function {
                        ir::WindowFn::Predict => format!(
                            "predict_linear(({query})[{range}:], {})",
                            w.horizon.unwrap_or(range).0
                        ),
                        f => {
                            let function = match f {
                                ir::WindowFn::Avg => "avg_over_time",
                                ir::WindowFn::Max => "max_over_time",
                                ir::WindowFn::Min => "min_over_time",
                                ir::WindowFn::Increase => "increase",
                                ir::WindowFn::Rate => "rate",
                                ir::WindowFn::Trend => "deriv",
                                ir::WindowFn::Changes => "changes",
                                ir::WindowFn::Predict => "predict_linear",
                            };
                            let over = format!("{function}(({query})[{range}:])");
                            let counted = metric.series == catalog::Series::Counter
                                && matches!(f, ir::WindowFn::Increase | ir::WindowFn::Rate);
                            match target_labels(metric, kind).filter(|_| counted) {
                                Some(labels) => format!("sum by ({labels}) ({over})"),
                                None => over,
                            }
                        }
                    }
                }
            })
        }
        ir::Expr::Number { value, .. } => Some(format_number(*value)),
        ir::Expr::Binary {
            op, left, right, ..
        } => {
            let l = promql_side(program, kind, left, unqueried);
            let r = promql_side(program, kind, right, unqueried);
            Some(format!("({} {} {})", l?, op.as_str(), r?))
        }
    }
}

/// The labels by which the operator matches `metric`'s series to targets
/// of `kind` (`observe::queries::target_of`): what a counter's growth is
/// summed by; `None` where the series' own labels decide as they come, or
/// name no target.
fn target_labels(metric: &ir::Metric, kind: Kind) -> Option<String> {
    let own = kind.series_label()?;
    let labels = |own: &str| match kind {
        Kind::Nodes => own.to_string(),
        _ => format!("namespace, {own}"),
    };
    if metric.builtin {
        return Some(match kind {
            Kind::Containers => "namespace, pod, container".to_string(),
            _ => labels(own),
        });
    }
    match metric.read_on(kind) {
        ir::Read::PerPod => Some(labels("pod")),
        ir::Read::PerContainer => Some("namespace, pod, container".to_string()),
        ir::Read::Own(label) => Some(labels(label)),
        ir::Read::ByLabels | ir::Read::Unjoined => None,
    }
}

/// A canonical number as PromQL reads it: `0.9`, `536870912`.
fn format_number(value: f64) -> String {
    if value == value.trunc() && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// The catalog's description of the mode, after a dash.
fn mode_note(mode: ir::Mode) -> String {
    catalog::MODES
        .iter()
        .find(|(m, _)| *m == mode.keyword())
        .map_or(String::new(), |(_, note)| format!(" — {note}"))
}

fn selector(selector: &ir::Selector) -> String {
    let mut text = selector.kind.keyword().to_string();
    match &selector.namespaces {
        Namespaces::Own => text.push_str(" in the HealingPolicy's namespace"),
        Namespaces::Named(names) => {
            let _ = write!(text, " in {}", names.join(", "));
        }
        Namespaces::AnyExcept(protected) => {
            let _ = write!(text, " in any namespace except {}", protected.join(", "));
        }
        Namespaces::ClusterScoped => {}
    }
    if !selector.labels.is_empty() {
        let labels: Vec<String> = selector
            .labels
            .iter()
            .map(|l| match &l.op {
                LabelOp::Equals(v) => format!("{} = {v:?}", l.key),
                LabelOp::NotEquals(v) => format!("{} != {v:?}", l.key),
                LabelOp::In(vs) => format!(
                    "{} in ({})",
                    l.key,
                    vs.iter()
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                LabelOp::Exists => format!("{} exists", l.key),
                LabelOp::NotExists => format!("not {} exists", l.key),
            })
            .collect();
        let _ = write!(text, " where {}", labels.join(", "));
    }
    text
}

fn budget_text(budget: Budget) -> String {
    if budget.is_unbounded() {
        return format!(
            "unbounded (no limit, no cooldown; only the safety configuration's cap of {} applies)",
            actions_per_hour(budget.global_cap)
        );
    }
    let per_hour = match budget.per_hour {
        Some(n) => format!("at most {}", actions_per_hour(n.min(budget.global_cap))),
        None => format!(
            "no policy limit (safety cap: {} per hour)",
            budget.global_cap
        ),
    };
    let per_target = match budget.per_target_per_hour {
        Some(n) => format!("at most {n} per target per hour"),
        None => "unbounded per target".to_string(),
    };
    format!("{per_hour}, {per_target}")
}

/// "1 action per hour", "5 actions per hour"
fn actions_per_hour(n: u64) -> String {
    let noun = if n == 1 { "action" } else { "actions" };
    format!("{n} {noun} per hour")
}

fn acts_on(action: &Action, effect: Effect, selector: &ir::Selector) -> String {
    match effect {
        Effect::Itself => format!("the selected {}", selector.kind.singular()),
        Effect::Owner => {
            let owners: Vec<&str> = safety::landing_kinds(action, selector)
                .iter()
                .map(Kind::singular)
                .collect();
            format!("the {} that owns the pod", join_or(&owners, "or"))
        }
        Effect::Node => "the node the pod runs on".to_string(),
        Effect::Nothing => match action {
            Action::AskAi(_) => "whatever the AI analyzer chooses among the listed actions".into(),
            _ => "nothing in the cluster (an Event and the configured webhooks)".into(),
        },
    }
}

fn used_metrics(program: &Program) -> Vec<ir::MetricId> {
    let mut ids = Vec::new();
    for policy in &program.policies {
        for rule in &policy.rules {
            rule.condition.metrics(&mut ids);
        }
    }
    ids.sort();
    ids.dedup();
    ids
}

fn metric_text(out: &mut String, metric: &ir::Metric) {
    let series = match metric.series {
        catalog::Series::Gauge => "gauge",
        catalog::Series::Counter => "counter",
    };
    let how = |aggregation| match aggregation {
        Aggregation::Average => "the average over their pods",
        Aggregation::Sum => "the sum over their pods",
        Aggregation::All => "true when true of all their pods",
    };
    let kind = match (metric.kind, metric.aggregation) {
        (Some(kind), Some(aggregation)) => format!(" for {kind}, {}", how(aggregation)),
        (Some(kind), None) => format!(" for {kind}"),
        (None, _) => String::new(),
    };
    let _ = writeln!(
        out,
        "  {}{kind} ({}, {series}) from {}",
        metric.name, metric.unit, metric.source
    );
    if let Some(promql) = &metric.promql {
        let label = if metric.builtin {
            "with Prometheus"
        } else {
            "PromQL"
        };
        let _ = writeln!(out, "    {label}: {promql}");
        if metric.series == catalog::Series::Counter {
            let _ = writeln!(
                out,
                "    its series on one target: combined by each one's growth, as sum(increase(…)) counts it"
            );
        }
    }
}

/// The kinds of the policies whose rules read metric `id`.
fn reading_kinds(program: &Program, id: ir::MetricId) -> BTreeSet<Kind> {
    let mut kinds = BTreeSet::new();
    for policy in &program.policies {
        let mut ids = Vec::new();
        for rule in &policy.rules {
            rule.condition.metrics(&mut ids);
        }
        if ids.contains(&id) {
            kinds.insert(policy.selector.kind);
        }
    }
    kinds
}

/// How a declared metric's series reach a target of `kind`
/// ([`ir::Metric::read_on`]), with how a workload combines its pods'.
fn read_text(metric: &ir::Metric, kind: Kind) -> String {
    let one = kind.singular();
    let combined = match metric.aggregation {
        Some(Aggregation::Sum) => format!("summed over each {one}'s pods"),
        Some(Aggregation::All) => format!("true when true of all of each {one}'s pods"),
        Some(Aggregation::Average) | None => format!("averaged over each {one}'s pods"),
    };
    let own = kind.series_label().unwrap_or("pod");
    match metric.read_on(kind) {
        ir::Read::PerPod if kind == Kind::Pods => "per pod (label `pod`)".to_string(),
        ir::Read::PerPod => format!("per pod (label `pod`), {combined}"),
        ir::Read::PerContainer => "per container (labels `pod` and `container`)".to_string(),
        ir::Read::Own(label) => format!("per {one} (label `{label}`)"),
        ir::Read::ByLabels => format!(
            "as each series' labels say: per pod (label `pod`), {combined}; or per {one} (label `{own}`, no `pod`)"
        ),
        ir::Read::Unjoined => format!("never: its series name no {one}"),
    }
}
