//! `kubeskippy simulate` at scale: 24 hours of a 100-pod cluster at 15 s
//! steps (5,761 evaluations), with every kind of fault and the policies that
//! heal them. Target: under 1 s.

use criterion::{criterion_group, criterion_main, Criterion};
use kubeskippy::check::compile;
use kubeskippy::ir::Program;
use kubeskippy::safety::SafetyConfig;
use kubeskippy::sim::scenario::{self, Scenario};
use kubeskippy::sim::simulate::{self, Options};
use std::fmt::Write as _;
use std::time::Duration;

/// Ten workloads of ten pods, two of each fault.
fn scenario() -> Scenario {
    let faults = [
        "memory_leak: { per_minute: 0.5, after: 10m }",
        "cpu_sine: { min: 20, max: 150, period: 2h }",
        "chaos: { every: 30m }",
        "crashloop: { after: 3h, cause: transient, pods: 3 }",
        "degrade: { metric: error_rate, to: 0.2, after: 6h, over: 30m }",
    ];
    let mut yaml = String::from(
        "name: scale\nnamespace: bench\ninterval: 15s\nduration: 24h\nseed: 1\nnodes: [n1, n2, n3, n4, n5]\nworkloads:\n",
    );
    for i in 0..10 {
        let _ = write!(
            yaml,
            "  - name: app-{i}\n    replicas: 10\n    baseline: {{ memory_percent: 40, cpu_percent: 30, error_rate: 0.01 }}\n    faults:\n      - {}\n",
            faults[i % faults.len()]
        );
    }
    scenario::parse(&yaml).expect("the generated scenario is valid")
}

const POLICIES: &str = r#"
metric error_rate: ratio = promql "sum by (pod) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (pod) (rate(http_requests_total[5m]))"

policy crashloop {
  select pods where app exists
  mode auto
  limit 20 per 1h
  cooldown 5m
  when status is CrashLoopBackOff for 1m then restart
}

policy memory {
  select deployments where app exists
  mode auto
  limit 10 per 1h
  cooldown 10m
  when predict(memory_percent, 15m) > 100% for 2m then restart rolling
  when memory_percent > 90% and trend(memory_percent, 15m) > 0.2%/min for 5m then restart rolling priority 2
}

policy cpu {
  select deployments where app exists
  mode auto
  limit 20 per 1h
  cooldown 5m
  when avg(cpu_percent, 2m) > 80% for 1m then scale up 2 max 20
  when avg(cpu_percent, 5m) < 30% for 10m then scale down 1 min 2
}

policy errors {
  select deployments where app exists
  mode approve
  limit 5 per 1h
  cooldown 15m
  when error_rate > 5% for 2m then ask ai among [rollback, restart rolling]
}
"#;

fn bench(c: &mut Criterion) {
    let scenario = scenario();
    let compiled = compile(POLICIES, &SafetyConfig::default());
    assert!(!compiled.has_errors(), "{:?}", compiled.diagnostics);
    let programs: Vec<Program> = vec![compiled.program];
    let run = || {
        simulate::run(
            &scenario,
            &programs,
            &SafetyConfig::default(),
            &Options::default(),
            &mut |_, _| {},
        )
    };
    let report = run();
    eprintln!(
        "24h, {} pods at the start: {} timeline entries, {} faults, {} healed",
        report.pods_at_start,
        report.timeline.len(),
        report.summary.faults_injected,
        report.summary.faults_healed
    );
    let mut group = c.benchmark_group("simulate");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("24h of 100 pods at 15s", |b| b.iter(run));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
