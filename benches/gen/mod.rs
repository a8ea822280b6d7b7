//! A deterministic generator of large, valid Skippy files, shared by the
//! `compile` benchmark and the `no_panic` test (`#[path]`-included there).
//!
//! `generate(n)` writes `n` policies of [`RULES_PER_POLICY`] rules each, cycling
//! through every kind, mode, namespace and label form, comparisons on catalog
//! metrics in every unit, the window functions, status and event conditions,
//! `and`/`or`/`not`/parentheses, every action form and priorities, plus a few
//! `metric` and `patch` declarations that the rules use. The output is the same
//! for the same `n` and checks with no errors and no warnings under the default
//! safety configuration (the `no_panic` test asserts it).

use kubeskippy::catalog::Kind;
use std::fmt::Write as _;

/// Rules in every generated policy.
pub const RULES_PER_POLICY: usize = 10;

/// Declarations at the top of every file; the first policy uses all of them.
const DECLARATIONS: &str = r#"# Declarations shared by the policies below.
metric error_rate: ratio = promql "sum by (pod) (rate(http_requests_total{code=~\"5..\", namespace=\"$namespace\"}[5m])) / sum by (pod) (rate(http_requests_total{namespace=\"$namespace\"}[5m]))"
metric queue_depth: count = promql "sum by (pod) (rabbitmq_queue_messages_ready{namespace=\"$namespace\", pod=~\"$pod\"})"
metric p99_latency: duration = promql "histogram_quantile(0.99, sum by (pod, le) (rate(http_request_duration_seconds_bucket{namespace=\"$namespace\"}[5m])))"

patch debug-logging: merge "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"kubeskippy.io/log-level\":\"debug\"}}}}}"
patch more-workers: strategic "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"env\":[{\"name\":\"WORKERS\",\"value\":\"8\"}]}]}}}}"
"#;

/// The kind of the `i`-th generated policy: half pods, then workloads and nodes.
fn kind_of(i: usize) -> Kind {
    match i % 10 {
        0..=4 => Kind::Pods,
        5 | 6 => Kind::Deployments,
        7 => Kind::StatefulSets,
        8 => Kind::DaemonSets,
        _ => Kind::Nodes,
    }
}

/// A small deterministic mix of the policy index, so numbers vary.
fn mix(i: usize, salt: usize) -> usize {
    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (salt as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    x as usize
}

/// A Skippy file of `policies` policies × [`RULES_PER_POLICY`] rules.
pub fn generate(policies: usize) -> String {
    let mut out = String::with_capacity(policies * 1_100 + DECLARATIONS.len());
    let _ = writeln!(
        out,
        "# Generated: {policies} policies x {RULES_PER_POLICY} rules (benches/gen/mod.rs).\n"
    );
    out.push_str(DECLARATIONS);
    for i in 0..policies {
        out.push('\n');
        policy(&mut out, i);
    }
    out
}

fn policy(out: &mut String, i: usize) {
    let kind = kind_of(i);
    // Nodes (cordon, drain) need approval, so never `auto`; pods only use
    // cordon and drain when the mode is not `auto`.
    let mode = match kind {
        Kind::Nodes => ["approve", "dryrun", "monitor"][mix(i, 1) % 3],
        _ => ["auto", "dryrun", "approve", "monitor"][(i / 10 + i) % 4],
    };
    let _ = writeln!(out, "# Policy {i}: {} in mode {mode}.", kind.keyword());
    let _ = writeln!(out, "policy gen-{}-{i} {{", kind.keyword());
    let _ = writeln!(out, "  {}", select(kind, i));
    // Statements sometimes share a line, separated by `;`.
    let cooldown = ["30s", "5m", "10m", "15m", "1h"][mix(i, 2) % 5];
    let limit = [
        "",
        "limit 5 per 1h",
        "limit 2 per 10m",
        "limit 3 per 30m",
        "limit 10 per 1h",
    ][mix(i, 3) % 5];
    if i.is_multiple_of(3) {
        let _ = writeln!(out, "  mode {mode}; cooldown {cooldown}");
    } else {
        let _ = writeln!(
            out,
            "  mode {mode}   # {}",
            ["safe by default", "reviewed", "tuned"][i % 3]
        );
        let _ = writeln!(out, "  cooldown {cooldown}");
    }
    if !limit.is_empty() {
        let _ = writeln!(out, "  {limit}");
    }
    out.push('\n');
    let auto = mode == "auto";
    // One priority for every rule of a policy: a less urgent rule acting on
    // the object of a more urgent one draws W0118.
    let priority = if mix(i, 10).is_multiple_of(3) {
        format!(" priority {}", 1 + mix(i, 20) % 20)
    } else {
        String::new()
    };
    for slot in 0..RULES_PER_POLICY {
        let (condition, action) = match kind {
            Kind::Pods => pod_rule(i, slot, auto),
            Kind::Nodes => node_rule(i, slot),
            _ => workload_rule(kind, i, slot),
        };
        let comment = if slot == 4 {
            "   # resource pressure"
        } else {
            ""
        };
        let _ = writeln!(out, "  when {condition} then {action}{priority}{comment}");
    }
    out.push_str("}\n");
}

fn select(kind: Kind, i: usize) -> String {
    let namespaces = match (kind, mix(i, 4) % 5) {
        (Kind::Nodes, _) => String::new(),
        (_, 0) => String::new(),
        (_, 1) => " in shop".to_string(),
        (_, 2) => format!(" in team-{}, web", i % 37),
        (_, 3) => " in any".to_string(),
        _ => format!(" in prod-{}", i % 11),
    };
    let labels = match (kind, mix(i, 5) % 6) {
        (Kind::Nodes, n) => [
            " where node-role = \"worker\"",
            " where node.kubernetes.io/instance-type in (\"m5.large\", \"m5.xlarge\")",
            " where pool != \"system\", zone exists",
        ][n % 3]
            .to_string(),
        (_, 0) => format!(" where app = \"svc-{i}\""),
        (_, 1) => format!(" where app = \"svc-{i}\", tier != \"db\""),
        (_, 2) => " where env in (\"prod\", \"staging\"), k8s-app exists".to_string(),
        (_, 3) => format!(" where app.kubernetes.io/name = \"api-{i}\", not canary exists"),
        (_, 4) => format!(" where team = \"t{}\"", i % 13),
        _ => String::new(),
    };
    // Pod policies `delete`, which the default safety configuration forbids on
    // a StatefulSet's pods (W0113): they select none.
    let labels = match (kind, labels.is_empty()) {
        (Kind::Pods, true) => " where not statefulset.kubernetes.io/pod-name exists".to_string(),
        (Kind::Pods, false) => format!("{labels}, not statefulset.kubernetes.io/pod-name exists"),
        _ => labels,
    };
    format!("select {}{namespaces}{labels}", kind.keyword())
}

/// Ten rules for a policy on pods: every slot has its own condition shape, so
/// no rule shadows another, and the actions cover every form.
fn pod_rule(i: usize, slot: usize, auto: bool) -> (String, String) {
    let v = mix(i, 100 + slot) % 9;
    match slot {
        0 => (
            format!("memory_percent > {}% for {}m", 80 + v, 2 + v % 3),
            "restart rolling".into(),
        ),
        1 => (
            format!("increase(restarts, {}m) > {}", 5 + v, 3 + v % 4),
            ["restart", "restart immediate"][i % 2].into(),
        ),
        2 => (
            format!("avg(cpu_percent, 5m) > {}% and not status is Pending for 2m", 70 + v),
            format!("scale up {} max {}", 1 + v % 3, 10 + v),
        ),
        3 => (
            "(status is CrashLoopBackOff or status is Error) for 1m".into(),
            "delete".into(),
        ),
        4 => (
            format!("predict(memory_bytes, 30m) > {}.5Gi", 1 + v % 3),
            format!("set memory_limit = current * 1.{} max {}Gi", 2 + v % 5, 3 + v % 3),
        ),
        5 => (
            format!("error_rate > {}% for 2m", 2 + v),
            "ask ai among [restart rolling, scale up 2, patch more-workers, rollback]".into(),
        ),
        6 => (
            format!(
                "event BackOff count >= {} within 10m or oom_kills > 0",
                2 + v % 4
            ),
            "patch debug-logging".into(),
        ),
        7 => (
            format!(
                "trend(memory_percent, 10m) > {}%/min and age > 10m and ready == true",
                1 + v % 4
            ),
            match i % 3 {
                0 => format!("notify \"memory of policy {i} grows fast\""),
                1 => format!("scale to {}", 2 + v % 3),
                _ => "set cpu_limit = 2 max 4".into(),
            },
        ),
        8 => (
            format!(
                "queue_depth < {} and max(cpu_cores, 10m) < {}m",
                10 + v,
                200 + 50 * v
            ),
            format!("scale down 1 min {}", 1 + v % 3),
        ),
        _ => (
            format!(
                "p99_latency > {}s and not (status is OOMKilled or rate(restarts, 5m) > 1/min) for 5m",
                1 + v
            ),
            match (auto, i % 4) {
                (false, 0) => "cordon".into(),
                (false, 1) => "drain".into(),
                (_, 2) => "rollback".into(),
                _ => "ask ai".into(),
            },
        ),
    }
}

/// Ten rules for deployments, statefulsets and daemonsets: the actions each
/// kind allows (rollback on deployments only, no scaling of daemonsets).
fn workload_rule(kind: Kind, i: usize, slot: usize) -> (String, String) {
    let v = mix(i, 200 + slot) % 9;
    let scalable = kind != Kind::DaemonSets;
    match slot {
        0 => (
            format!("memory_percent > {}% for {}m", 85 + v, 3 + v % 3),
            "restart rolling".into(),
        ),
        1 => (
            format!("cpu_percent > {}% for 2m", 75 + v),
            if scalable {
                format!("scale up {} max {}", 1 + v % 4, 12 + v)
            } else {
                "notify \"daemonset cpu is high\"".into()
            },
        ),
        2 => (
            format!(
                "avg(cpu_percent, 30m) < {}% and ready == true for 30m",
                10 + v
            ),
            if scalable {
                format!("scale down 1 min {}", 2 + v % 2)
            } else {
                "restart rolling".into()
            },
        ),
        3 => (
            format!("unavailable_replicas >= {} for 5m", 1 + v % 3),
            if kind == Kind::Deployments {
                "rollback".into()
            } else {
                "ask ai".into()
            },
        ),
        4 => (
            format!("event OOMKilling count >= {} within 10m", 2 + v % 3),
            format!("set memory_limit = current * 1.5 max {}Gi", 2 + v % 4),
        ),
        5 => (
            format!(
                "max(memory_bytes, 15m) > {}Mi or cpu_cores > 1.5",
                512 + 64 * v
            ),
            "set cpu_limit = current * 1.25 max 4".into(),
        ),
        6 => (
            format!(
                "increase(restarts, 10m) > {} and not status is ImagePullBackOff",
                4 + v
            ),
            "patch debug-logging".into(),
        ),
        7 => (
            format!("error_rate > 0.0{} for 1m", 1 + v),
            if scalable {
                "ask ai among [restart rolling, scale up 1, patch more-workers]".into()
            } else {
                "ask ai among [restart rolling, patch more-workers]".into()
            },
        ),
        8 => (
            format!(
                "status is CrashLoopBackOff or event BackOff count > {} within 15m",
                3 + v
            ),
            if scalable {
                format!("scale to {}", 3 + v % 3)
            } else {
                "restart rolling".into()
            },
        ),
        _ => (
            format!("trend(memory_percent, 20m) > {}%/h and age > 1h", 5 + v),
            format!("notify \"{} {i} leaks memory\"", kind.keyword()),
        ),
    }
}

/// Ten rules for nodes: cordon, drain, notify and `ask ai`.
fn node_rule(i: usize, slot: usize) -> (String, String) {
    let v = mix(i, 300 + slot) % 9;
    match slot {
        0 => ("status is MemoryPressure for 5m".into(), "cordon".into()),
        1 => (
            format!("status is NotReady for {}m", 10 + v),
            "drain".into(),
        ),
        2 => (
            "disk_pressure == true or status is DiskPressure".into(),
            "cordon".into(),
        ),
        3 => (
            format!(
                "memory_percent > {}% and cpu_percent > {}%",
                90 + v % 9,
                85 + v
            ),
            "ask ai among [cordon, drain]".into(),
        ),
        4 => (
            format!("avg(memory_bytes, 10m) > {}G", 60 + v),
            "notify \"node memory is high\"".into(),
        ),
        5 => (
            format!("event NodeNotReady count >= {} within 30m", 2 + v % 3),
            "drain".into(),
        ),
        6 => ("not (ready == true) for 3m".into(), "ask ai".into()),
        7 => (
            "pid_pressure == true and memory_pressure != false".into(),
            "cordon".into(),
        ),
        8 => (
            format!("predict(cpu_cores, 1h) > {} and age > 1d", 30 + v),
            format!("notify \"node {i} will run out of cpu\""),
        ),
        _ => (
            format!(
                "event SystemOOM count > {} within 1h or status is PIDPressure",
                v
            ),
            "drain".into(),
        ),
    }
}
