//! Hover: what a word or literal at the cursor means — a metric's unit, source
//! and PromQL; an action's meaning and safety class in its policy; a window
//! function, status or event reason, mode; a duration in seconds and a
//! quantity in bytes or cores.

use super::context::{enclosing_policy, expected_unit, policy_kind};
use super::declared::{declarations, DeclKind};
use super::keywords::doc as keyword_doc;
use super::lexer::{lex, Lexeme, Tok};
use crate::catalog::{self, Effect, Kind, MetricInfo, Unit};
use crate::check::{compile, units};
use crate::ir::Type;
use crate::safety::SafetyConfig;
use crate::syntax::ast::Literal;
use kubeskippy_lsp::line_index::floor_char_boundary;
use kubeskippy_lsp::Hover;
use std::fmt::Write as _;

/// Markdown about the token at byte `offset` of `text`.
pub fn hover(text: &str, offset: usize, config: &SafetyConfig) -> Option<Hover> {
    let offset = floor_char_boundary(text, offset);
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[line_start..line_end];
    let at = offset - line_start;
    let tokens = lex(line);
    let index = tokens
        .iter()
        .position(|t| t.start <= at && at < t.end)
        .or_else(|| tokens.iter().position(|t| t.end == at))?;
    let token = tokens[index];
    let word = token.text(line);
    let range = line_start + token.start..line_start + token.end;
    let markdown = match token.kind {
        Lexeme::Number => {
            let statement_start = tokens[..index]
                .iter()
                .rposition(|t| matches!(t.text(line), ";" | "{" | "}"))
                .map_or(0, |i| i + 1);
            let before: Vec<&str> = tokens[statement_start..index]
                .iter()
                .map(|t| t.text(line))
                .collect();
            literal(word, expected_unit(&before, &declarations(text)))?
        }
        Lexeme::Word => {
            let neighbours = Neighbours::of(&tokens, index, line);
            word_markdown(text, word, &neighbours, offset, config)?
        }
        _ => return None,
    };
    Some(Hover { range, markdown })
}

/// The words around the hovered one, within its statement.
struct Neighbours<'a> {
    prev: Option<&'a str>,
    next: Option<&'a str>,
    /// `then`, `[` or `,` of an action list stands before it in the statement.
    in_action: bool,
}

impl<'a> Neighbours<'a> {
    fn of(tokens: &[Tok], index: usize, line: &'a str) -> Neighbours<'a> {
        let statement_start = tokens[..index]
            .iter()
            .rposition(|t| matches!(t.text(line), ";" | "{" | "}"))
            .map_or(0, |i| i + 1);
        Neighbours {
            prev: index.checked_sub(1).map(|i| tokens[i].text(line)),
            next: tokens.get(index + 1).map(|t| t.text(line)),
            in_action: tokens[statement_start..index]
                .iter()
                .any(|t| t.text(line) == "then"),
        }
    }
}

fn word_markdown(
    text: &str,
    word: &str,
    around: &Neighbours<'_>,
    offset: usize,
    config: &SafetyConfig,
) -> Option<String> {
    if around.next == Some("(") {
        if let Some(f) = catalog::FUNCTIONS.iter().find(|f| f.name == word) {
            return Some(format!(
                "**{}**`(METRIC, WINDOW)` — window function\n\n{}",
                f.name, f.description
            ));
        }
    }
    match around.prev {
        Some("select") => return Kind::from_keyword(word).map(kind_markdown),
        Some("is" | "was") => {
            let s = catalog::status_reason(word)?;
            return Some(format!(
                "**{}** — status reason on {}\n\n{}",
                s.name,
                s.kinds.describe(),
                s.description
            ));
        }
        Some("event") => {
            let (name, doc) = catalog::EVENT_REASONS.iter().find(|(n, _)| *n == word)?;
            return Some(format!("**{name}** — Kubernetes event reason\n\n{doc}"));
        }
        Some("mode") => {
            let (name, doc) = catalog::MODES.iter().find(|(n, _)| *n == word)?;
            return Some(format!("**mode {name}**\n\n{doc}"));
        }
        _ => {}
    }
    if let Some(metric) = catalog::metric(word) {
        let kind = enclosing_policy(text, offset).and_then(|brace| policy_kind(text, brace));
        return Some(metric_markdown(metric, kind));
    }
    let declared = declarations(text);
    if let Some(d) = declared.iter().find(|d| d.name == word) {
        let is_patch_use = around.prev == Some("patch") && around.in_action;
        let is_declaration = around.prev
            == Some(match d.kind {
                DeclKind::Metric => "metric",
                DeclKind::Patch => "patch",
            })
            && !around.in_action;
        match d.kind {
            DeclKind::Metric if !is_patch_use => {
                return Some(format!(
                    "**{}** — {} (declared metric)\n\nFrom Prometheus:\n```promql\n{}\n```",
                    d.name,
                    d.ty.unwrap_or("?"),
                    d.body.unwrap_or("").replace("\\\"", "\"")
                ));
            }
            DeclKind::Patch if is_patch_use || is_declaration => {
                return Some(format!(
                    "**patch {}** — {} patch\n\n```json\n{}\n```",
                    d.name,
                    d.ty.unwrap_or("?"),
                    d.body.unwrap_or("").replace("\\\"", "\"")
                ));
            }
            _ => {}
        }
    }
    if around.in_action {
        let candidates = [
            around.prev.map(|p| format!("{p} {word}")),
            around.next.map(|n| format!("{word} {n}")),
            Some(word.to_string()),
        ];
        let action = candidates
            .into_iter()
            .flatten()
            .find_map(|name| catalog::action(&name));
        if let Some(action) = action {
            return Some(action_markdown(text, action, offset, config));
        }
    }
    keyword_doc(word).map(|doc| format!("**{word}** — {doc}"))
}

/// What a policy selecting `kind` can read and do.
fn kind_markdown(kind: Kind) -> String {
    let metrics: Vec<String> = catalog::METRICS
        .iter()
        .filter(|m| m.kinds.contains(kind))
        .map(|m| format!("`{}`", m.name))
        .collect();
    let actions: Vec<String> = catalog::ACTIONS
        .iter()
        .filter(|a| a.kinds.contains(kind) || (kind == Kind::Pods && a.via_pod.is_some()))
        .map(|a| format!("`{}`", a.name))
        .collect();
    let what = if kind == Kind::Cluster {
        "the cluster as a whole: one target, its metrics summed over its pods and nodes"
    } else if kind == Kind::Filesystems {
        "a node's mounted filesystem as node-exporter reports it, through Prometheus: one target per node and mount point, labelled `node`, `mountpoint`, `fstype` and `device`"
    } else if kind == Kind::Containers {
        "a pod's regular container: one target per pod and container, named `POD/CONTAINER`, labelled with its pod's labels and `container`, its own name"
    } else if kind.is_observed_only() {
        "watched: its metrics are its own status"
    } else if kind.is_workload() {
        "a workload: pod metrics are aggregated over its pods"
    } else if kind.is_namespaced() {
        "namespaced"
    } else {
        "cluster-scoped: `select` takes no namespaces"
    };
    format!(
        "**{kind}** — kind ({what})\n\n- metrics: {}\n- actions: {}\n",
        metrics.join(", "),
        actions.join(", ")
    )
}

fn metric_markdown(metric: &MetricInfo, kind: Option<Kind>) -> String {
    let mut md = format!(
        "**{}** — {}\n\n{}\n\n- source: {}\n- applies to: {}\n",
        metric.name,
        metric.unit.described(),
        metric.description,
        metric.source,
        metric.kinds.describe()
    );
    if let Some(aggregation) = metric.aggregated_on(Kind::Deployments) {
        let how = format!("{aggregation:?}").to_lowercase();
        let _ = writeln!(md, "- on a workload: the {how} of its pods");
    }
    match kind {
        // The query this policy runs: the node query on nodes, the pod query
        // (aggregated by owner on workloads) otherwise.
        Some(kind) => match catalog::builtin_promql(metric, kind) {
            Some(promql) => {
                let _ = write!(
                    md,
                    "\nWith Prometheus, for this policy's {kind}:\n```promql\n{promql}\n```\n"
                );
            }
            None => {
                let _ = write!(md, "\nPrometheus does not serve it for {kind}.\n");
            }
        },
        None => {
            for kind in [Kind::Pods, Kind::Nodes, Kind::PersistentVolumeClaims] {
                if let Some(promql) = catalog::builtin_promql(metric, kind) {
                    let whom = match kind {
                        Kind::Pods => "pods and workloads",
                        other => other.keyword(),
                    };
                    let _ = write!(
                        md,
                        "\nWith Prometheus, for {whom}:\n```promql\n{promql}\n```\n"
                    );
                }
            }
        }
    }
    md
}

fn action_markdown(
    text: &str,
    action: &catalog::ActionInfo,
    offset: usize,
    config: &SafetyConfig,
) -> String {
    let mut md = format!(
        "**{}** — `{}`\n\n{}\n\n- applies to: {}",
        action.name,
        action.usage,
        action.description,
        action.kinds.describe()
    );
    match action.via_pod {
        Some(Effect::Owner) => md.push_str(" (and to pods, through their owner)"),
        Some(Effect::Node) => md.push_str(" (and to pods, through their node)"),
        _ => {}
    }
    let _ = write!(
        md,
        "\n- disruption: {} (0 changes nothing; the least disruptive wins a tie)",
        action.disruption
    );
    match rule_safety(text, offset, config) {
        Some(class) => {
            let _ = write!(md, "\n- safety in this policy: {class}");
        }
        None if config.needs_approval(action.name) => {
            md.push_str("\n- safety: always needs approval");
        }
        None => {}
    }
    md
}

/// The safety class the checker gave the rule at `offset`, if that rule
/// compiled.
fn rule_safety(text: &str, offset: usize, config: &SafetyConfig) -> Option<String> {
    let compiled = compile(text, config);
    compiled
        .spans
        .policies
        .iter()
        .zip(&compiled.program.policies)
        .find_map(|(spans, policy)| {
            let index = spans
                .rules
                .iter()
                .position(|s| s.start <= offset && offset <= s.end)?;
            policy.rules.get(index).map(|rule| rule.safety.to_string())
        })
}

/// A literal's value in `unit`, or, where the context does not tell the
/// unit, in each unit its suffix may stand for (`500m`: 0.5 cores or 30000 s).
fn literal(word: &str, unit: Option<Unit>) -> Option<String> {
    let split = word
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(word.len());
    let (number, suffix) = word.split_at(split);
    if suffix.is_empty() || suffix.contains('/') {
        return None;
    }
    let lit = Literal {
        number: number.to_string(),
        suffix: Some(suffix.to_string()),
        per: None,
        span: Default::default(),
    };
    let candidates = match unit {
        Some(unit) => vec![unit],
        None => vec![Unit::Duration, Unit::Cores, Unit::Bytes],
    };
    let lines: Vec<String> = candidates
        .into_iter()
        .filter_map(|unit| {
            let value = match unit {
                // Durations in `for`, `cooldown` and windows are whole seconds.
                Unit::Duration => units::duration(&lit).map(|s| s.0 as f64).ok()?,
                _ => units::resolve(&lit, Type::Scalar(unit), None).ok()?,
            };
            Some(match unit {
                Unit::Duration => format!("duration: {value} s"),
                Unit::Percent => format!("percent: {value} %"),
                Unit::Ratio => format!("ratio: {value}"),
                Unit::Bytes => format!("bytes: {value}"),
                Unit::Cores => format!("cores: {value}"),
                Unit::Count | Unit::Bool => format!("{}: {value}", unit.keyword()),
            })
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    Some(format!("`{word}`\n\n{}", lines.join("  \n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hover_at(text: &str, needle: &str) -> String {
        let offset = text.find(needle).expect("needle") + 1;
        hover(text, offset, &SafetyConfig::default())
            .map(|h| h.markdown)
            .unwrap_or_default()
    }

    const POLICY: &str = "metric error_rate: ratio = promql \"rate(x{a=\\\"b\\\"}[5m])\"\n\
        patch fix: merge \"{}\"\n\
        policy p {\n  select pods\n  mode auto\n  cooldown 10m\n\
        \x20 when memory_percent > 85 for 3m then restart rolling\n\
        \x20 when avg(error_rate, 5m) > 5% then drain\n\
        \x20 when status is OOMKilled then patch fix\n}\n";

    #[test]
    fn metrics_show_unit_source_and_promql() {
        let md = hover_at(POLICY, "memory_percent");
        assert!(md.starts_with("**memory_percent** — "), "{md}");
        assert!(
            md.contains("metrics-server") && md.contains("```promql"),
            "{md}"
        );
        let declared = hover_at(POLICY, "error_rate, 5m");
        assert!(
            declared.contains("ratio") && declared.contains("a=\"b\""),
            "{declared}"
        );
    }

    #[test]
    fn a_claim_metric_shows_the_kubelet_and_its_own_query() {
        let text = "policy v {\n  select persistentvolumeclaims\n  when volume_used_bytes > 1Gi then notify \"x\"\n}\n";
        let md = hover_at(text, "volume_used_bytes");
        assert!(md.contains("kubelet"), "{md}");
        assert!(md.contains("kubelet_volume_stats_used_bytes"), "{md}");
    }

    #[test]
    fn a_selected_kind_shows_its_metrics_and_actions() {
        let md = hover_at("policy j {\n  select jobs\n}\n", "jobs");
        assert!(md.starts_with("**jobs** — kind (watched"), "{md}");
        assert!(
            md.contains("`active_pods`") && !md.contains("`memory_percent`"),
            "{md}"
        );
        assert!(
            md.contains("- actions: `notify`, `ask ai`, `rerun`\n"),
            "{md}"
        );
        let claims = hover_at(
            "policy c {\n  select persistentvolumeclaims\n}\n",
            "persistentvolumeclaims",
        );
        assert!(
            claims.contains("- actions: `notify`, `ask ai`, `expand`\n"),
            "{claims}"
        );
        let quotas = hover_at("policy q {\n  select resourcequotas\n}\n", "resourcequotas");
        assert!(
            quotas.contains("watched")
                && quotas.contains("`quota_used_ratio`")
                && quotas.contains("- actions: `notify`, `ask ai`\n"),
            "{quotas}"
        );
        let volumes = hover_at(
            "policy v {\n  select persistentvolumes\n}\n",
            "persistentvolumes",
        );
        assert!(
            volumes.contains("watched") && volumes.contains("- actions: `notify`\n"),
            "{volumes}"
        );
        let cluster = hover_at("policy c {\n  select cluster\n}\n", "cluster");
        assert!(
            cluster.contains("one target") && cluster.contains("- actions: `notify`\n"),
            "{cluster}"
        );
        let filesystems = hover_at("policy f {\n  select filesystems\n}\n", "filesystems");
        assert!(
            filesystems.contains("`mountpoint`")
                && filesystems.contains("`available_bytes`")
                && filesystems.contains("- actions: `notify`\n"),
            "{filesystems}"
        );
        let containers = hover_at("policy c {\n  select containers\n}\n", "containers");
        assert!(
            containers.contains("`POD/CONTAINER`")
                && containers.contains("`restarts`")
                && containers.contains("`cpu_percent`")
                && containers.contains("- actions: `notify`\n"),
            "{containers}"
        );
        let pods = hover_at("policy p {\n  select pods\n}\n", "pods");
        assert!(pods.contains("`restart rolling`"), "{pods}");
    }

    #[test]
    fn a_status_window_shows_its_reason_and_keywords() {
        let text = "policy c {\n  select pods\n  when status was CrashLoopBackOff within 5m for 15m then notify \"x\"\n}\n";
        let reason = hover_at(text, "CrashLoopBackOff");
        assert!(
            reason.starts_with("**CrashLoopBackOff** — status reason on pods"),
            "{reason}"
        );
        let was = hover_at(text, "was ");
        assert!(was.contains("status was REASON within DURATION"), "{was}");
        let window = hover_at(text, "5m for");
        assert!(window.contains("duration: 300 s"), "{window}");
    }

    #[test]
    fn actions_show_their_safety_class() {
        let md = hover_at(POLICY, "restart rolling");
        assert!(md.starts_with("**restart rolling**"), "{md}");
        assert!(md.contains("safety in this policy: auto"), "{md}");
        let drain = hover_at(POLICY, "drain");
        assert!(drain.contains("needs approval"), "{drain}");
    }

    #[test]
    fn literals_words_and_nothing() {
        let hold = hover_at(POLICY, "3m then");
        assert!(
            hold.contains("duration: 180 s") && !hold.contains("cores"),
            "{hold}"
        );
        assert!(hover_at(POLICY, "avg(").contains("window function"));
        assert!(hover_at(POLICY, "OOMKilled").contains("status reason"));
        assert!(hover_at(POLICY, "fix\n}").contains("merge patch"));
        assert!(hover_at(POLICY, "auto").contains("mode auto"));
        assert!(hover_at(POLICY, "cooldown").starts_with("**cooldown** — cooldown DURATION"));
        assert!(hover_at(POLICY, "for 3m").contains("unknown data holds the timer"));
        assert_eq!(hover_at(POLICY, "{\n  select"), "");
        assert!(hover("", 5, &SafetyConfig::default()).is_none());
    }

    #[test]
    fn literals_in_every_unit_they_may_stand_for() {
        let millis = literal("500m", None).unwrap_or_default();
        assert!(
            millis.contains("duration: 30000 s") && millis.contains("cores: 0.5"),
            "{millis}"
        );
        let bytes = literal("1.5Gi", None).unwrap_or_default();
        assert!(bytes.contains("bytes: 1610612736"), "{bytes}");
        assert_eq!(literal("85", None), None);
        let ratio = literal("5%", Some(Unit::Ratio)).unwrap_or_default();
        assert!(ratio.contains("ratio: 0.05"), "{ratio}");
    }
}
