//! A counter's series as the Prometheus source hands them over: kept apart
//! by their labels, capped per target, and combined on their target by the
//! history.

use super::counters::{series_key, Answered, MAX_SERIES_PER_ANSWER};
use super::queries::{Fetched, Query};
use super::{snapshot, Cluster, History};
use crate::engine::counter_total::Total;
use crate::engine::observation::TargetId;
use crate::engine::series::Sample;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const NOW: i64 = 1_800_000_000;

fn values(samples: &[Sample]) -> Vec<(i64, f64)> {
    samples.iter().map(|s| (s.at, s.value)).collect()
}

#[test]
fn an_answer_brings_no_more_than_the_cap_of_series_to_a_target() {
    let mut read = Answered {
        promql: "kubelet_evictions".into(),
        lookback: 900,
        series: BTreeMap::new(),
    };
    for key in 0..(MAX_SERIES_PER_ANSWER as u64 + 50) {
        read.add(key, vec![Sample::new(0, 1.0), Sample::new(10, f64::NAN)]);
    }
    assert_eq!(read.series.len(), MAX_SERIES_PER_ANSWER);
    assert!(read.series.values().all(|s| s.len() == 1));
    let mut total = Total::default();
    assert_eq!(
        values(&read.advance(&mut total)),
        [(0, MAX_SERIES_PER_ANSWER as f64)]
    );
}

#[test]
fn a_series_is_named_by_all_its_labels_in_any_order() {
    let a = signal("worker-1", "memory.available");
    let mut pairs: Vec<(String, String)> = a.clone().into_iter().collect();
    pairs.reverse();
    let b: HashMap<String, String> = pairs.into_iter().collect();
    assert_eq!(series_key(&a), series_key(&b));
    assert_ne!(
        series_key(&a),
        series_key(&signal("worker-1", "nodefs.available"))
    );
}

fn node(name: &str) -> TargetId {
    TargetId {
        kind: crate::catalog::Kind::Nodes,
        namespace: None,
        name: name.into(),
    }
}

fn evictions() -> Query {
    Query {
        metric: "evictions".into(),
        promql: "kubelet_evictions".into(),
        namespace: None,
        lookback: 900,
        counter: true,
        ..Query::default()
    }
}

fn signal(node: &str, signal: &str) -> HashMap<String, String> {
    [
        ("node", node),
        ("eviction_signal", signal),
        ("instance", "10.0.0.1:10250"),
        ("job", "kubelet"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn cluster() -> Cluster {
    let mut cluster = Cluster::default();
    cluster.nodes.push(Arc::new(
        serde_json::from_value(serde_json::json!({"metadata": {"name": "worker-1"}}))
            .expect("a node"),
    ));
    cluster
}

fn evictions_of(history: &mut History, at: i64) -> Option<Vec<(i64, f64)>> {
    let observations = snapshot(&cluster(), history, at);
    let target = observations
        .targets
        .iter()
        .find(|t| t.id == node("worker-1"))
        .expect("the node");
    target.metrics.get("evictions").map(|s| values(s.samples()))
}

/// Through the history, as the Prometheus source hands answers over: a
/// node's signals land on it as one total, and a failed query makes it
/// unknown and starts it again.
#[test]
fn a_nodes_eviction_signals_land_on_it_as_one_total() {
    let mut history = History::new(3_600);
    let known = |id: &TargetId| id == &node("worker-1");
    let query = evictions();
    let mut fetched = Fetched::default();
    fetched.add(
        &query,
        &signal("worker-1", "memory.available"),
        vec![Sample::new(NOW - 20, 3.0), Sample::new(NOW - 10, 3.0)],
    );
    fetched.add(
        &query,
        &signal("worker-1", "nodefs.available"),
        vec![Sample::new(NOW - 10, 1.0)],
    );
    assert!(!fetched.is_empty());
    history.absorb(fetched, known);
    assert_eq!(
        evictions_of(&mut history, NOW),
        Some(vec![(NOW - 20, 3.0), (NOW - 10, 3.0)])
    );

    let mut fetched = Fetched::default();
    fetched.add(
        &query,
        &signal("worker-1", "nodefs.available"),
        vec![Sample::new(NOW, 2.0)],
    );
    history.absorb(fetched, known);
    assert_eq!(
        evictions_of(&mut history, NOW + 10),
        Some(vec![(NOW - 20, 3.0), (NOW - 10, 3.0), (NOW, 4.0)])
    );

    let mut fetched = Fetched::default();
    fetched.fail(&query);
    history.absorb(fetched, known);
    assert_eq!(evictions_of(&mut history, NOW + 20), None);
    let mut fetched = Fetched::default();
    fetched.add(
        &query,
        &signal("worker-1", "nodefs.available"),
        vec![Sample::new(NOW + 30, 2.0)],
    );
    history.absorb(fetched, known);
    assert_eq!(
        evictions_of(&mut history, NOW + 30),
        Some(vec![(NOW + 30, 2.0)])
    );
}

/// Of two templates of one metric, the one whose text sorts first feeds
/// the total, whichever answers first: the total never mixes their series.
#[test]
fn one_template_feeds_a_total_whatever_the_order_of_the_answers() {
    let first = evictions();
    let second = Query {
        promql: "other_evictions".into(),
        ..evictions()
    };
    let labels = signal("worker-1", "memory.available");
    // The first template's sample is 3 in either order.
    for order in [
        [(&first, 3.0), (&second, 7.0)],
        [(&second, 7.0), (&first, 3.0)],
    ] {
        let mut fetched = Fetched::default();
        for (query, value) in order {
            fetched.add(query, &labels, vec![Sample::new(NOW, value)]);
        }
        let answered = &fetched.counters[&node("worker-1")]["evictions"];
        assert_eq!(answered.promql, "kubelet_evictions");
        assert_eq!(answered.series.len(), 1);
        let samples: Vec<&Vec<Sample>> = answered.series.values().collect();
        assert_eq!(samples, [&vec![Sample::new(NOW, 3.0)]]);
    }
}
