//! The Grafana dashboard file and the PromQL of its panels and variables,
//! for `tests/dashboard.rs` (every metric named is exported) and
//! `tests/on_cluster/helm.rs` (every query runs on a real Prometheus).
//! Included with `#[path]`.

#![allow(dead_code)]

use serde_json::Value;

pub fn dashboard() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/charts/kubeskippy/dashboards/kubeskippy.json"
    );
    let text = std::fs::read_to_string(path).expect("the dashboard file");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every panel, rows' nested panels included, in order.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut all = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        all.push(panel);
        if let Some(nested) = panel["panels"].as_array() {
            all.extend(nested);
        }
    }
    all
}

/// (where, expression) of every query: panel targets, and the metric inside
/// each `label_values(…)` of a template variable.
pub fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .expect("a Prometheus target has expr");
            all.push((
                format!("panel {:?}", panel["title"].as_str().unwrap_or_default()),
                expr.to_string(),
            ));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"]
            .as_str()
            .or_else(|| variable["query"].as_str())
            .expect("a query variable's query");
        // `label_values(EXPR, LABEL)` is Grafana's, not PromQL: its first
        // argument is the PromQL.
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|rest| rest.rsplit_once(','))
            .map(|(expr, _label)| expr.trim().to_string())
            .unwrap_or_else(|| panic!("variable {}: not label_values(…)", variable["name"]));
        all.push((format!("variable {}", variable["name"]), inner));
    }
    all
}

/// Grafana's variables, as Grafana fills them in before Prometheus sees the
/// query; any other `$` is a variable this test does not know.
pub fn substitute(expr: &str) -> String {
    let filled = expr
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "30s")
        .replace("$__range", "6h")
        .replace("$namespace", ".*");
    assert!(!filled.contains('$'), "an unknown variable in {expr}");
    filled
}
