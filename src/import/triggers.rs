//! The seed's `triggers[]` as Skippy conditions: a `metric` trigger as a
//! comparison (of a catalog metric, or of a declared PromQL metric), an
//! `event` trigger as `event REASON count >= N within D`, a `condition`
//! trigger as `status is REASON` or `ready == …`.

use super::codes;
use super::draft::{Declaration, Names, Space};
use super::values;
use super::yaml::Node;
use super::Notes;
use crate::catalog;

/// What a trigger becomes: the condition and its `for`, and any metric it
/// declares.
#[derive(Debug, Clone)]
pub struct Condition {
    pub text: String,
    pub hold: Option<String>,
    pub declarations: Vec<Declaration>,
}

/// The seed's own metric names, which its collector computed from the
/// metrics API, and the catalog metric that measures the same.
const RENAMES: &[(&str, &str)] = &[
    ("cpu_usage_percent", "cpu_percent"),
    ("cpu_usage", "cpu_cores"),
    ("cpu_usage_cores", "cpu_cores"),
    ("memory_usage_percent", "memory_percent"),
    ("memory_usage_bytes", "memory_bytes"),
    ("restart_count", "restarts"),
    ("pod_restart_count", "restarts"),
    ("pod_restarts", "restarts"),
    ("restarts_total", "restarts"),
];

/// Prometheus series the catalog's metrics read per pod: named bare, the
/// query is that metric.
const SERIES: &[(&str, &str)] = &[
    ("kube_pod_container_status_restarts_total", "restarts"),
    ("container_memory_working_set_bytes", "memory_bytes"),
];

/// The seed's estimates with no catalog equivalent: it made them up from
/// events and restarts (and, for the demo, from pod names).
const ESTIMATES: &[&str] = &[
    "error_rate_percent",
    "error_rate",
    "availability_percent",
    "node_cpu_usage",
    "node_cpu_percent",
];

/// The `for` the seed assumes when a metric or condition trigger gives no
/// `duration` (its CRD's default).
const DEFAULT_HOLD: u64 = 120;
/// The event window the seed assumes without `window`.
const DEFAULT_WINDOW: u64 = 300;

/// Converts one kind of trigger's body.
type Converter = fn(&Node, &str, &mut Notes, &mut Names) -> Option<Condition>;

pub fn convert(
    trigger: &Node,
    name: &str,
    notes: &mut Notes,
    names: &mut Names,
) -> Option<Condition> {
    let kind = trigger.get("type").and_then(Node::as_str).unwrap_or("");
    let (field, convert): (&str, Converter) = match kind {
        "metric" => ("metricTrigger", metric),
        "event" => ("eventTrigger", event),
        "condition" => ("conditionTrigger", condition),
        other => {
            let at = trigger.get("type").unwrap_or(trigger);
            let help = catalog_closest(other, &["metric", "event", "condition"])
                .map(|c| format!("did you mean `{c}`?"))
                .unwrap_or_else(|| {
                    "the seed's trigger types are `metric`, `event` and `condition`".to_string()
                });
            notes.error(
                codes::SKIPPED_TRIGGER,
                at,
                format!("trigger `{name}` skipped: unknown trigger type `{other}`"),
                Some(help),
            );
            return None;
        }
    };
    let Some(body) = trigger.get(field) else {
        notes.error(
            codes::SKIPPED_TRIGGER,
            trigger,
            format!("trigger `{name}` skipped: a `{kind}` trigger needs `{field}`"),
            None,
        );
        return None;
    };
    for (key, _) in trigger.entries() {
        let known = ["name", "type", "cooldownPeriod", field];
        if let Some(k) = key.as_str().filter(|k| !known.contains(k)) {
            notes.warn_field(
                codes::DROPPED_FIELD,
                trigger,
                k,
                format!("`{k}` is not converted: a `{kind}` trigger reads only `{field}`"),
                None,
            );
        }
    }
    convert(body, name, notes, names)
}

fn catalog_closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    crate::diagnostic::closest(word, candidates.iter().copied())
}

fn metric(body: &Node, name: &str, notes: &mut Notes, names: &mut Names) -> Option<Condition> {
    unknown_fields(
        body,
        &["query", "threshold", "operator", "duration"],
        "metricTrigger",
        notes,
    );
    let Some(query_node) = body
        .get("query")
        .filter(|q| q.as_str().is_some_and(|q| !q.trim().is_empty()))
    else {
        notes.error(
            codes::SKIPPED_TRIGGER,
            body,
            format!("trigger `{name}` skipped: no `query`"),
            None,
        );
        return None;
    };
    // A block scalar's lines joined: a Skippy string ends on its line. Spaces
    // inside a line are kept (a label value may hold several).
    let query = query_node
        .as_str()
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let threshold = match body.get("threshold").map(|t| (t, t.as_f64())) {
        Some((_, Some(v))) => v,
        Some((t, None)) => {
            notes.error(
                codes::SKIPPED_TRIGGER,
                t,
                format!("trigger `{name}` skipped: the threshold is not a number"),
                None,
            );
            return None;
        }
        None => {
            notes.error(
                codes::SKIPPED_TRIGGER,
                body,
                format!("trigger `{name}` skipped: no `threshold`"),
                None,
            );
            return None;
        }
    };
    let op = operator(body, name, notes)?;
    let hold = hold(body, "duration", DEFAULT_HOLD, notes);
    let mut declarations = Vec::new();
    let subject = if catalog::metric(&query).is_some() {
        query.clone()
    } else if let Some((_, to)) = RENAMES
        .iter()
        .chain(SERIES)
        .find(|(from, _)| *from == query)
    {
        to.to_string()
    } else if ESTIMATES.contains(&query.as_str()) {
        notes.error(
            codes::SKIPPED_TRIGGER,
            query_node,
            format!("trigger `{name}` skipped: `{query}` is one of the seed's own estimates, which Skippy does not make"),
            Some("declare the metric from your application's series, e.g. `metric error_rate: ratio = promql \"sum by (pod) (rate(http_requests_total{code=~\\\"5..\\\", namespace=\\\"$namespace\\\"}[5m])) / sum by (pod) (rate(http_requests_total{namespace=\\\"$namespace\\\"}[5m]))\"`, and add a rule that reads it".to_string()),
        );
        return None;
    } else {
        let unit = guess_unit(&query, threshold);
        let metric = names.claim_for(
            Space::Metric,
            query_node.span.start,
            &values::name(name, '_', "metric"),
        );
        let text = format!(
            "metric {metric}: {unit} = promql {}",
            values::string(&query)
        );
        // A query over a series the catalog reads is most likely that metric.
        let help = SERIES
            .iter()
            .find(|(series, _)| query.contains(series))
            .map(|(series, metric)| {
                format!(
                    "the catalog's `{metric}` reads `{series}` per pod: `when {metric} {op} {}` may be what was meant",
                    values::number(threshold)
                )
            })
            .unwrap_or_else(|| {
                "check the unit (percent, ratio, count, bytes, cores, duration or bool) and that the query returns one series per pod, `by (pod)`".to_string()
            });
        // The seed sent only queries with `(`, `{` or `[` to Prometheus; a
        // bare name it did not compute itself never fired there.
        let bare = !query.contains(['(', '{', '[']);
        let message = if bare {
            format!("`{query}` is neither a catalog metric nor one the seed computed (the seed never fired on it): declared as a Prometheus query, `metric {metric}: {unit}`, its unit guessed")
        } else {
            format!("not a catalog metric: declared as `metric {metric}: {unit}`, its unit guessed")
        };
        notes.warn_help(codes::GUESSED_UNIT, query_node, message, help);
        declarations.push(Declaration {
            name: metric.clone(),
            text,
        });
        return Some(Condition {
            text: format!("{metric} {op} {}", literal(threshold, unit)),
            hold,
            declarations,
        });
    };
    Some(Condition {
        text: format!("{subject} {op} {}", values::number(threshold)),
        hold,
        declarations,
    })
}

/// A unit for a PromQL query, from the names of its series (the Prometheus
/// naming conventions put the unit last) and the shape of its threshold.
fn guess_unit(query: &str, threshold: f64) -> &'static str {
    let q = query.to_ascii_lowercase();
    if q.contains("histogram_quantile") || q.contains("_seconds") {
        "duration"
    } else if q.contains("_bytes") && !q.contains('/') {
        "bytes"
    } else if q.contains("percent") {
        "percent"
    } else if q.contains('/') && threshold <= 1.0 {
        "ratio"
    } else if threshold.fract() == 0.0 && threshold >= 0.0 && !q.contains('/') {
        "count"
    } else {
        // A plain number that may pass 1: no percent reading, no W0114.
        "unbounded ratio"
    }
}

fn literal(threshold: f64, unit: &str) -> String {
    match unit {
        "duration" => format!("{}s", values::number(threshold)),
        "bytes" => values::number(threshold.round()),
        _ => values::number(threshold),
    }
}

fn operator(body: &Node, name: &str, notes: &mut Notes) -> Option<&'static str> {
    let Some(node) = body.get("operator") else {
        notes.error(
            codes::SKIPPED_TRIGGER,
            body,
            format!("trigger `{name}` skipped: no `operator`"),
            None,
        );
        return None;
    };
    let op = match node.as_str().unwrap_or("").trim() {
        ">" | "gt" => ">",
        ">=" | "gte" => ">=",
        "<" | "lt" => "<",
        "<=" | "lte" => "<=",
        "==" | "=" | "eq" => "==",
        "!=" | "ne" => "!=",
        other => {
            notes.error(
                codes::SKIPPED_TRIGGER,
                node,
                format!("trigger `{name}` skipped: unknown operator `{other}`"),
                Some("one of `>`, `>=`, `<`, `<=`, `==`, `!=`".to_string()),
            );
            return None;
        }
    };
    Some(op)
}

fn event(body: &Node, name: &str, notes: &mut Notes, _: &mut Names) -> Option<Condition> {
    unknown_fields(
        body,
        &["reason", "type", "count", "window"],
        "eventTrigger",
        notes,
    );
    let Some(reason_node) = body
        .get("reason")
        .filter(|r| r.as_str().is_some_and(|r| !r.is_empty()))
    else {
        notes.error(
            codes::SKIPPED_TRIGGER,
            body,
            format!("trigger `{name}` skipped: an event trigger without `reason` matches every event, which Skippy cannot say"),
            Some("name the reason, e.g. `reason: BackOff`".to_string()),
        );
        return None;
    };
    let reason = reason_node.as_str().unwrap_or("");
    if !reason.chars().all(|c| c.is_ascii_alphanumeric())
        || !reason.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        notes.error(
            codes::SKIPPED_TRIGGER,
            reason_node,
            format!("trigger `{name}` skipped: `{reason}` is not an event reason"),
            Some("reasons are CamelCase words, as Kubernetes writes them: `BackOff`".to_string()),
        );
        return None;
    }
    if body
        .get("type")
        .is_some_and(|t| t.as_str() != Some("Warning"))
    {
        let message = "the event type is not converted: Skippy counts the events of the reason whatever their type";
        notes.warn_field(codes::DROPPED_FIELD, body, "type", message, None);
    }
    let count = match body.get("count") {
        None => 1,
        Some(c) => match c.as_i64() {
            Some(n) if n >= 1 => n,
            Some(_) => 1,
            None => {
                notes.warn(
                    codes::BAD_VALUE,
                    c,
                    "the count is not a whole number: read as 1",
                );
                1
            }
        },
    };
    let window = duration_field(body, "window", notes)
        .unwrap_or(DEFAULT_WINDOW)
        .max(1);
    Some(Condition {
        text: format!(
            "event {reason} count >= {count} within {}",
            values::duration(window)
        ),
        hold: None,
        declarations: Vec::new(),
    })
}

fn condition(body: &Node, name: &str, notes: &mut Notes, _: &mut Names) -> Option<Condition> {
    unknown_fields(
        body,
        &["type", "status", "duration"],
        "conditionTrigger",
        notes,
    );
    let Some(type_node) = body.get("type") else {
        notes.error(
            codes::SKIPPED_TRIGGER,
            body,
            format!("trigger `{name}` skipped: no condition `type`"),
            None,
        );
        return None;
    };
    let kind = type_node.as_str().unwrap_or("");
    let status_node = body.get("status");
    let status = status_node.and_then(|s| {
        s.as_str()
            .map(str::to_string)
            .or(s.as_bool().map(|b| b.to_string()))
    });
    let truth = match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            notes.error(
                codes::SKIPPED_TRIGGER,
                status_node.unwrap_or(body),
                format!("trigger `{name}` skipped: status `{other}` has no Skippy condition"),
                Some(
                    "Skippy reads a condition as true or false; an unknown one never fires"
                        .to_string(),
                ),
            );
            return None;
        }
    };
    if !truth {
        // Its collector listed only the conditions that were True.
        notes.warn_field(
            codes::CHANGED_MEANING,
            body,
            "status",
            "the seed ignored `status` and fired while the condition was True; converted as written",
            None,
        );
    }
    let text = match kind {
        "Ready" | "ContainersReady" => format!("ready == {truth}"),
        "PodScheduled" if !truth => "status is Unschedulable".to_string(),
        reason if catalog::status_reason(reason).is_some() => {
            if truth {
                format!("status is {reason}")
            } else {
                format!("not status is {reason}")
            }
        }
        other => {
            let known = catalog::STATUS_REASONS.iter().map(|s| s.name);
            let help = crate::diagnostic::closest(other, known)
                .map(|c| format!("did you mean `{c}`? Skippy's `status is` reasons are listed in docs/language.md"))
                .unwrap_or_else(|| "Skippy's `status is` reasons are listed in docs/language.md".to_string());
            notes.error(
                codes::SKIPPED_TRIGGER,
                type_node,
                format!("trigger `{name}` skipped: no Skippy condition for `{other}`"),
                Some(help),
            );
            return None;
        }
    };
    Some(Condition {
        text,
        hold: hold(body, "duration", DEFAULT_HOLD, notes),
        declarations: Vec::new(),
    })
}

/// `for D` from a duration field, or the seed's default without one.
fn hold(body: &Node, field: &str, default: u64, notes: &mut Notes) -> Option<String> {
    let seconds = duration_field(body, field, notes).unwrap_or(default);
    (seconds > 0).then(|| values::duration(seconds))
}

/// A Go duration field in whole seconds; `None` when absent or unreadable
/// (reported).
pub fn duration_field(body: &Node, field: &str, notes: &mut Notes) -> Option<u64> {
    let node = body.get(field)?;
    let Some(seconds) = node.as_str().and_then(values::go_duration) else {
        notes.warn_help(
            codes::BAD_VALUE,
            node,
            format!("`{field}` is not a duration: the seed's default is used"),
            "write a Go duration such as `2m` or `1h30m`",
        );
        return None;
    };
    let whole = seconds.ceil();
    if whole != seconds {
        notes.warn(
            codes::BAD_VALUE,
            node,
            format!(
                "`{field}` rounded up to {}: Skippy counts whole seconds",
                values::duration(whole as u64)
            ),
        );
    }
    Some(whole.min(u32::MAX as f64) as u64)
}

pub fn unknown_fields(body: &Node, known: &[&str], what: &str, notes: &mut Notes) {
    for (key, _) in body.entries() {
        match key.as_str() {
            Some(k) if known.contains(&k) => {}
            Some(k) => notes.warn_field(
                codes::DROPPED_FIELD,
                body,
                k,
                format!("`{what}.{k}` is not converted: Skippy has no such setting"),
                None,
            ),
            None => notes.warn(
                codes::DROPPED_FIELD,
                key,
                format!("a key of `{what}` that is not a string is not converted"),
            ),
        }
    }
}
