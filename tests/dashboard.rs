//! The Grafana dashboard (`charts/kubeskippy/dashboards/kubeskippy.json`)
//! queries only what the operator exports: every expression of every panel
//! (and of the template variables) is parsed with `promql-parser`, and each
//! metric it names must be a series of a family in
//! `kubeskippy::operator::metrics::NAMES`, the list the registry registers.
//! A renamed metric fails here, not as an empty panel on someone's screen.

#[path = "common/dashboard.rs"]
mod dashboard_file;

use dashboard_file::{dashboard, panels, queries, substitute};
use kubeskippy::operator::metrics::NAMES;
use promql_parser::parser::{Expr, VectorSelector};
use promql_parser::util::{walk_expr, ExprVisitor};
use std::collections::BTreeSet;

struct Names(BTreeSet<String>);

impl Names {
    fn add(&mut self, selector: &VectorSelector) {
        if let Some(name) = &selector.name {
            self.0.insert(name.clone());
        }
        // `{__name__="…"}` names a metric too.
        for matcher in &selector.matchers.matchers {
            if matcher.name == "__name__" {
                self.0.insert(matcher.value.clone());
            }
        }
    }
}

impl ExprVisitor for Names {
    type Error = String;
    fn pre_visit(&mut self, expr: &Expr) -> Result<bool, String> {
        match expr {
            Expr::VectorSelector(selector) => self.add(selector),
            // walk_expr does not descend into a range selector.
            Expr::MatrixSelector(matrix) => self.add(&matrix.vs),
            _ => {}
        }
        Ok(true)
    }
}

fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    let parsed = promql_parser::parser::parse(&substitute(expr))?;
    let mut names = Names(BTreeSet::new());
    walk_expr(&mut names, &parsed)?;
    Ok(names.0)
}

fn exported() -> BTreeSet<String> {
    NAMES.iter().flat_map(|family| family.series()).collect()
}

#[test]
fn every_panel_queries_only_metrics_the_operator_exports() {
    let dashboard = dashboard();
    let exported = exported();
    let queries = queries(&dashboard);
    assert!(queries.len() >= 15, "{} queries", queries.len());
    for (place, expr) in &queries {
        let names = metric_names(expr).unwrap_or_else(|e| panic!("{place}: {expr}: {e}"));
        assert!(!names.is_empty(), "{place}: {expr} names no metric");
        for name in &names {
            assert!(
                exported.contains(name),
                "{place}: `{name}` is not a series the operator exports \
                 (src/operator/metrics.rs NAMES: {exported:?})"
            );
        }
    }
}

#[test]
fn every_exported_family_has_a_panel() {
    let dashboard = dashboard();
    let mut shown = BTreeSet::new();
    for (place, expr) in queries(&dashboard) {
        shown.extend(metric_names(&expr).unwrap_or_else(|e| panic!("{place}: {e}")));
    }
    for family in NAMES {
        assert!(
            family.series().iter().any(|s| shown.contains(s)),
            "no panel shows {}",
            family.name
        );
    }
}

#[test]
fn the_dashboard_has_the_panels_its_users_look_for() {
    let dashboard = dashboard();
    let titles: Vec<&str> = panels(&dashboard)
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for wanted in [
        "Actions by type and phase",
        "Blocks by reason",
        "Time to heal",
        "Evaluation latency",
        "AI confidence",
        "AI vs rule outcomes",
        "Circuit breakers",
        "Metrics without data",
    ] {
        assert!(titles.contains(&wanted), "{wanted} in {titles:?}");
    }
}

/// What file provisioning and the Grafana sidecar need: a uid to keep the
/// dashboard's address, unique panel ids, and the data source as a
/// variable, so the file works with whatever the Prometheus is called.
#[test]
fn the_dashboard_is_provisionable() {
    let dashboard = dashboard();
    assert_eq!(dashboard["uid"], "kubeskippy");
    assert!(dashboard["schemaVersion"].as_u64().is_some());
    assert!(dashboard["id"].is_null(), "no id: Grafana assigns one");
    let variables = dashboard["templating"]["list"].as_array().expect("list");
    assert!(variables.iter().any(|v| v["name"] == "datasource"
        && v["type"] == "datasource"
        && v["query"] == "prometheus"));
    let mut ids = BTreeSet::new();
    for panel in panels(&dashboard) {
        let id = panel["id"].as_u64().expect("a panel id");
        assert!(ids.insert(id), "panel id {id} twice");
        assert!(panel["gridPos"]["w"].as_u64().is_some(), "{panel}");
        if panel["type"] != "row" {
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{}",
                panel["title"]
            );
            for target in panel["targets"].as_array().expect("targets") {
                assert_eq!(target["datasource"]["uid"], "${datasource}");
            }
        }
    }
}

#[test]
fn a_name_the_operator_does_not_export_is_caught() {
    let exported = exported();
    let names = metric_names(
        "sum(rate(kubeskippy_healing_action_total[$__rate_interval])) / {__name__=\"up\"}",
    )
    .expect("it parses");
    assert_eq!(
        names,
        BTreeSet::from(["kubeskippy_healing_action_total".into(), "up".into()])
    );
    assert!(names.iter().all(|n| !exported.contains(n)));
}
