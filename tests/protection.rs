//! A property of the whole decision path the operator runs (engine, safety
//! controller, executor), whatever the policy, the cluster and the AI's
//! answer: no action ever reaches an object in a protected namespace, a
//! target with a protected label, or a kind the safety configuration
//! forbids the action on.

use kubeskippy::act::{carry_out, carry_out_choice, now_or_never, Executed, Executor, Order};
use kubeskippy::catalog::Kind;
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Observations, Target, TargetId};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Context, Decision};
use kubeskippy::safety::SafetyConfig;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Every order an executor received: what it would have touched.
#[derive(Default)]
struct Recorder(Vec<(String, TargetId)>);

impl Executor for Recorder {
    fn execute(&mut self, order: Order<'_>) -> impl std::future::Future<Output = Executed> + Send {
        self.0.push((
            order.action.catalog_name().to_string(),
            order.object.clone(),
        ));
        std::future::ready(Executed::Done("recorded".into()))
    }
}

/// Policies that act everywhere they may: `in any`, every kind of action,
/// an `ask ai` among several.
const POLICIES: &[&str] = &[
    "policy p {\n  select pods in any\n  mode auto\n  when status is CrashLoopBackOff then restart\n}\n",
    "policy p {\n  select pods in any\n  mode auto\n  when status is CrashLoopBackOff then delete\n}\n",
    "policy p {\n  select pods in any\n  mode auto\n  when status is CrashLoopBackOff then restart rolling\n}\n",
    "policy p {\n  select pods in any\n  mode auto\n  when status is CrashLoopBackOff then ask ai among [restart, restart rolling, scale up 1 max 5]\n}\n",
    "policy p {\n  select deployments in any\n  mode auto\n  when replicas >= 0 then scale up 1 max 5\n}\n",
    "policy p {\n  select statefulsets in any\n  mode auto\n  when replicas >= 0 then restart rolling\n}\n",
    "policy p {\n  select nodes\n  mode auto\n  when status is MemoryPressure then cordon\n}\n",
];

const NAMESPACES: &[&str] = &[
    "shop",
    "kube-system",
    "monitoring",
    "payments",
    "kube-public",
];

fn target() -> impl Strategy<Value = Target> {
    (
        0..3usize,
        0..NAMESPACES.len(),
        0..50u32,
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0..3usize),
    )
        .prop_map(|(kind, ns, n, protected, crashing, owner)| {
            let kind = [Kind::Pods, Kind::Deployments, Kind::StatefulSets][kind];
            let namespace = NAMESPACES[ns].to_string();
            let mut t = Target::new(TargetId {
                kind,
                namespace: Some(namespace.clone()),
                name: format!("o{n}"),
            });
            if protected {
                t.labels
                    .insert("kubeskippy.io/protected".into(), "true".into());
            }
            if crashing {
                t.statuses.insert("CrashLoopBackOff".into());
            }
            t.metrics_mut().insert(
                "replicas".into(),
                std::sync::Arc::new(kubeskippy::engine::series::Series::new([
                    kubeskippy::engine::series::Sample::new(990, 2.0),
                ])),
            );
            if kind == Kind::Pods {
                t.owner = owner.map(|o| TargetId {
                    kind: [Kind::Deployments, Kind::StatefulSets, Kind::DaemonSets][o],
                    namespace: Some(namespace),
                    name: format!("w{n}"),
                });
                t.node = Some(format!("node-{}", n % 3));
            }
            t
        })
}

fn node(n: u32, pressure: bool, protected: bool) -> Target {
    let mut t = Target::new(TargetId {
        kind: Kind::Nodes,
        namespace: None,
        name: format!("node-{n}"),
    });
    if pressure {
        t.statuses.insert("MemoryPressure".into());
    }
    if protected {
        t.labels
            .insert("kubeskippy.io/protected".into(), "true".into());
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_action_reaches_a_protected_namespace_label_or_kind(
        policy in 0..POLICIES.len(),
        mut targets in prop::collection::vec(target(), 1..16),
        nodes in prop::collection::vec((any::<bool>(), any::<bool>()), 0..3),
        ai_pick in any::<prop::sample::Index>(),
    ) {
        let config = SafetyConfig::default();
        let compiled = compile(POLICIES[policy], &config);
        prop_assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
        let program = compiled.program;
        for (n, (pressure, protected)) in nodes.into_iter().enumerate() {
            targets.push(node(n as u32, pressure, protected));
        }
        targets.sort_by(|a, b| a.id.cmp(&b.id));
        targets.dedup_by(|a, b| a.id == b.id);
        let labels: BTreeMap<TargetId, BTreeMap<String, String>> =
            targets.iter().map(|t| (t.id.clone(), t.labels.clone())).collect();
        let observations = Observations { targets };
        let context = Context {
            protected_namespaces: config.protected_namespaces.clone(),
            protected_labels: config.protected_labels.clone().into_iter().collect(),
            ..Context::new(15, Some("shop"))
        };
        let evaluation = evaluate(&program, &observations, 1_000, &State::default(), &context);
        let mut state = evaluation.state;
        let mut recorder = Recorder::default();
        for decision in &evaluation.decisions {
            now_or_never(carry_out(&program, &config, &mut state, &mut recorder, decision, 1_000, 0))
                .expect("a recorder answers at once");
            // Whatever the AI answers among the case's candidates.
            if let Decision::Ambiguous { candidates, .. } = decision {
                let chosen = &candidates[ai_pick.index(candidates.len())].action;
                now_or_never(carry_out_choice(
                    &program, &config, &mut state, &mut recorder, decision, chosen, 1_000, 0,
                ))
                .expect("a recorder answers at once");
            }
        }
        for decision in &evaluation.decisions {
            let target = decision.target();
            let selected = labels.get(target).cloned().unwrap_or_default();
            prop_assert!(
                !selected.iter().any(|(k, v)| config.protected_labels.get(k) == Some(v)),
                "decided on a protected target {target}"
            );
        }
        for (action, object) in &recorder.0 {
            if let Some(namespace) = &object.namespace {
                prop_assert!(
                    !config.is_protected_namespace(namespace),
                    "{action} reached {object} in a protected namespace"
                );
            }
            let own = labels.get(object).cloned().unwrap_or_default();
            prop_assert!(
                !own.iter().any(|(k, v)| config.protected_labels.get(k) == Some(v)),
                "{action} reached the protected {object}"
            );
            prop_assert!(
                !config.is_forbidden(action, object.kind),
                "{action} on {object}, which the configuration forbids"
            );
        }
    }
}

/// The property above is not vacuous: the same path acts where nothing is
/// protected, and holds back in a protected namespace.
#[test]
fn the_same_path_acts_where_nothing_is_protected() {
    let config = SafetyConfig::default();
    let program = compile(POLICIES[0], &config).program;
    let crashing = |namespace: &str| {
        let mut t = Target::new(TargetId {
            kind: Kind::Pods,
            namespace: Some(namespace.into()),
            name: "web-1".into(),
        });
        t.statuses.insert("CrashLoopBackOff".into());
        t
    };
    let observations = Observations {
        targets: vec![crashing("kube-system"), crashing("shop")],
    };
    let context = Context {
        protected_namespaces: config.protected_namespaces.clone(),
        ..Context::new(15, Some("shop"))
    };
    let evaluation = evaluate(&program, &observations, 1_000, &State::default(), &context);
    let mut state = evaluation.state;
    let mut recorder = Recorder::default();
    for decision in &evaluation.decisions {
        now_or_never(carry_out(
            &program,
            &config,
            &mut state,
            &mut recorder,
            decision,
            1_000,
            0,
        ))
        .expect("at once");
    }
    let touched: Vec<String> = recorder.0.iter().map(|(_, o)| o.to_string()).collect();
    assert_eq!(touched, ["pods/shop/web-1"]);
}
