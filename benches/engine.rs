//! One evaluation cycle of the engine: 100 policies × 10,000 targets, with the
//! observations in memory (docs/performance.md records the numbers).
//!
//! The cluster: 10,000 pods of 100 apps (100 pods each) in one namespace, each
//! with 20 minutes of samples at 15 s for four metrics. Each policy selects one
//! app's pods by label and has five rules mixing current values, window
//! functions, `for`, status and events, so every (policy, selected target)
//! pair runs real conditions and timers.

use criterion::{criterion_group, Criterion, Throughput};
use kubeskippy::catalog::Kind;
use kubeskippy::check::compile;
use kubeskippy::engine::observation::{Event, Observations, Target, TargetId};
use kubeskippy::engine::series::{Sample, Series};
use kubeskippy::engine::state::State;
use kubeskippy::engine::{evaluate, Context};
use kubeskippy::ir::Program;
use kubeskippy::safety::SafetyConfig;
use std::hint::black_box;

const APPS: usize = 100;
const PODS_PER_APP: usize = 100;
const INTERVAL: i64 = 15;
const HISTORY: i64 = 20 * 60;

fn program() -> Program {
    let mut source = String::new();
    for app in 0..APPS {
        source.push_str(&format!(
            "policy app-{app} {{\n  select pods where app = \"app-{app}\"\n  mode auto\n  limit 10 per 1h\n  cooldown 10m\n\
             \x20 when memory_percent > 85 for 3m then restart rolling\n\
             \x20 when avg(cpu_percent, 5m) > 90 for 2m then scale up 1 max 10\n\
             \x20 when increase(restarts, 10m) > 3 then restart\n\
             \x20 when status is CrashLoopBackOff and event BackOff count > 2 within 5m then delete priority 5\n\
             \x20 when trend(memory_percent, 10m) > 1%/min and memory_percent > 70 then notify \"leak suspected\"\n}}\n"
        ));
    }
    let compiled = compile(&source, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics.first());
    compiled.program
}

/// Deterministic pseudo-random values, so every run sees the same cluster.
fn noise(seed: usize, t: i64) -> f64 {
    let x = (seed as u64).wrapping_mul(6_364_136_223_846_793_005)
        ^ (t as u64).wrapping_mul(1_442_695_040_888_963_407);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

fn observations(now: i64) -> Observations {
    let mut targets = Vec::with_capacity(APPS * PODS_PER_APP);
    for app in 0..APPS {
        for pod in 0..PODS_PER_APP {
            let seed = app * PODS_PER_APP + pod;
            let mut target = Target::new(TargetId {
                kind: Kind::Pods,
                namespace: Some("shop".into()),
                name: format!("app-{app}-{pod}"),
            });
            target.labels.insert("app".into(), format!("app-{app}"));
            let times = (now - HISTORY..=now).step_by(INTERVAL as usize);
            let series = |base: f64, spread: f64| {
                std::sync::Arc::new(Series::new(
                    times
                        .clone()
                        .map(|t| Sample::new(t, base + spread * noise(seed, t))),
                ))
            };
            target
                .metrics_mut()
                .insert("memory_percent".into(), series(60.0, 35.0));
            target
                .metrics_mut()
                .insert("cpu_percent".into(), series(50.0, 45.0));
            target
                .metrics_mut()
                .insert("restarts".into(), series(0.0, 0.0));
            if seed.is_multiple_of(50) {
                target.statuses.insert("CrashLoopBackOff".into());
                target.events.push(Event {
                    reason: "BackOff".into(),
                    at: now - 30,
                    count: 3,
                });
            }
            targets.push(target);
        }
    }
    Observations { targets }
}

/// The benchmark's inputs: the program, the observations at `now`, the warm
/// state of the cycle before, and the context.
fn setup(now: i64) -> (Program, Observations, State, Context) {
    let program = program();
    let observations = observations(now);
    let safety = SafetyConfig::default();
    let context = Context {
        protected_namespaces: safety.protected_namespaces.clone(),
        protected_labels: safety.protected_labels.into_iter().collect(),
        ..Context::new(INTERVAL, Some("shop"))
    };
    // A warm state: the timers of the cycle before.
    let state = evaluate(
        &program,
        &observations,
        now - INTERVAL,
        &State::default(),
        &context,
    )
    .state;
    (program, observations, state, context)
}

fn bench(c: &mut Criterion) {
    let now = 1_000_000;
    let (program, observations, state, context) = setup(now);
    eprintln!(
        "state: {} timers, {} bytes as JSON",
        state.timer_count(),
        serde_json::to_string(&state).map_or(0, |s| s.len())
    );
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements((APPS * PODS_PER_APP) as u64));
    group.bench_function("cycle/100-policies/10000-targets", |b| {
        b.iter(|| {
            evaluate(
                black_box(&program),
                black_box(&observations),
                now,
                black_box(&state),
                &context,
            )
        })
    });
    group.finish();
}

/// `ENGINE_CYCLES=N` runs N warm cycles outside criterion and exits, for
/// profilers that count instructions (callgrind) and for CPU time per cycle:
/// criterion's own loop would add its warm-up and a variable number of
/// cycles to the count.
fn cycles(n: usize) {
    let digest = std::env::var_os("ENGINE_DIGEST").is_some();
    let now = 1_000_000;
    let (program, observations, state, context) = setup(now);
    for _ in 0..n {
        let evaluation = cycle(&program, &observations, now, &state, &context);
        if digest {
            print_digest(&evaluation);
        }
        black_box(evaluation);
    }
}

/// Prints the answer's size and a digest of all of it (`ENGINE_DIGEST=1`),
/// to compare two builds of the engine on the benchmark's 10,000 targets.
fn print_digest(evaluation: &kubeskippy::engine::Evaluation) {
    let json = serde_json::to_string(&(
        &evaluation.decisions,
        &evaluation.waiting,
        &evaluation.state,
    ))
    .unwrap_or_default();
    let digest = json.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    eprintln!(
        "{} decisions, {} waiting, {} timers, answer digest {digest:016x}",
        evaluation.decisions.len(),
        evaluation.waiting.len(),
        evaluation.state.timer_count()
    );
}

/// One measured cycle, named so a profiler can count only inside it.
#[inline(never)]
fn cycle(
    program: &Program,
    observations: &Observations,
    now: i64,
    state: &State,
    context: &Context,
) -> kubeskippy::engine::Evaluation {
    evaluate(program, observations, now, state, context)
}

criterion_group!(benches, bench);

fn main() {
    match std::env::var("ENGINE_CYCLES")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => cycles(n),
        None => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
