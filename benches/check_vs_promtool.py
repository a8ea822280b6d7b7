#!/usr/bin/env python3
"""Times `kubeskippy check` (human and JSON output) against `promtool check
rules` on the same intent (issue 13, item 3; docs/performance.md).

Writes, under --out:
  noisy.skippy  1,000 policies of ten rules on pods (metric, window, status
                and event conditions, one `delete` each, which draws W0113;
                every fifth with a misspelt metric, E0101): the file
                benches/gen/noisy.rs writes for `cargo bench --bench check_large`;
  rules.yml     10,000 Prometheus alerting rules saying the same: one alert
                per rule, on kube-state-metrics and cAdvisor series.
then runs each command --runs times as a whole process and prints the median
and the fastest wall time of each.

  cargo build --release
  benches/check_vs_promtool.py --bin "${CARGO_TARGET_DIR:-target}/release/kubeskippy"
"""

import argparse
import json
import os
import statistics
import subprocess
import time

POLICIES = 1_000
ERROR_EVERY = 5


def skippy(policies):
    out = []
    for i in range(policies):
        metric = "cpu_percnt" if i % ERROR_EVERY == 0 else "cpu_percent"
        out.append(f"""policy app-{i} {{
  select pods in shop where app = "app-{i}"
  mode auto
  limit 3 per 1h
  cooldown 10m
  when memory_percent > 90 for 5m then restart
  when avg(cpu_percent, 10m) > 85 for 5m then notify "cpu high on app-{i}"
  when status is CrashLoopBackOff for 10m then restart
  when event Unhealthy count > 5 within 10m then notify "app-{i} fails its probes"
  when restarts > 5 for 10m then delete
  when max(memory_percent, 5m) > 95 then notify "app-{i} is near its memory limit"
  when increase(restarts, 1h) > 10 then notify "app-{i} restarts a lot"
  when status is ImagePullBackOff for 15m then notify "app-{i} image cannot be pulled"
  when event FailedMount count >= 3 within 10m then notify "app-{i} volume fails to mount"
  when {metric} > 99 for 10m then notify "app-{i} cpu saturated"
}}

""")
    return "".join(out)


def rules(policies):
    """Ten alerting rules per policy, the same conditions in PromQL."""
    out = ["groups:\n"]
    for i in range(policies):
        sel = f'namespace="shop", pod=~"app-{i}-.*"'
        memory = (f'100 * sum by (pod) (container_memory_working_set_bytes{{{sel}, container!=""}})'
                  f' / sum by (pod) (kube_pod_container_resource_limits{{{sel}, resource="memory"}})')
        cpu = (f'100 * sum by (pod) (rate(container_cpu_usage_seconds_total{{{sel}, container!=""}}[1m]))'
               f' / sum by (pod) (kube_pod_container_resource_limits{{{sel}, resource="cpu"}})')
        alerts = [
            ("MemoryHigh", f"{memory} > 90", "5m", "restart"),
            ("CpuHigh", f"avg_over_time(({cpu})[10m:1m]) > 85", "5m", f"cpu high on app-{i}"),
            ("CrashLooping", f'max by (pod) (kube_pod_container_status_waiting_reason{{{sel}, reason="CrashLoopBackOff"}}) == 1', "10m", "restart"),
            ("Unhealthy", f'sum by (pod) (increase(kube_event_count{{{sel}, reason="Unhealthy"}}[10m])) > 5', "0s", f"app-{i} fails its probes"),
            ("Restarts", f"max by (pod) (kube_pod_container_status_restarts_total{{{sel}}}) > 5", "10m", "delete"),
            ("MemoryNearLimit", f"max_over_time(({memory})[5m:1m]) > 95", "0s", f"app-{i} is near its memory limit"),
            ("RestartsALot", f"sum by (pod) (increase(kube_pod_container_status_restarts_total{{{sel}}}[1h])) > 10", "0s", f"app-{i} restarts a lot"),
            ("ImagePull", f'max by (pod) (kube_pod_container_status_waiting_reason{{{sel}, reason="ImagePullBackOff"}}) == 1', "15m", f"app-{i} image cannot be pulled"),
            ("FailedMount", f'sum by (pod) (increase(kube_event_count{{{sel}, reason="FailedMount"}}[10m])) >= 3', "0s", f"app-{i} volume fails to mount"),
            ("CpuSaturated", f"{cpu} > 99", "10m", f"app-{i} cpu saturated"),
        ]
        out.append(f"  - name: app-{i}\n    rules:\n")
        for name, expr, for_, summary in alerts:
            out.append(f"      - alert: App{i}{name}\n")
            out.append(f"        expr: {json.dumps(expr)}\n")
            out.append(f"        for: {for_}\n")
            out.append("        labels: {severity: warning}\n")
            out.append(f"        annotations: {{summary: {json.dumps(summary)}}}\n")
    return "".join(out)


def timed(command, runs, check):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True)
        times.append(time.perf_counter() - started)
        check(done)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    parser.add_argument("--bin", default=f"{target}/release/kubeskippy")
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--out", default=f"{target}/check_vs_promtool")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    policy_file = os.path.join(args.out, "noisy.skippy")
    rules_file = os.path.join(args.out, "rules.yml")
    with open(policy_file, "w") as f:
        f.write(skippy(POLICIES))
    with open(rules_file, "w") as f:
        f.write(rules(POLICIES))

    def check_json(done):
        codes = [json.loads(line)["code"] for line in done.stdout.decode().splitlines()]
        assert done.returncode == 1, done.stderr
        assert codes.count("W0113") == POLICIES, codes[:5]
        assert codes.count("E0101") == POLICIES // ERROR_EVERY, codes[:5]

    def check_human(done):
        assert done.returncode == 1, done.stderr
        text = done.stdout.decode()
        assert text.count("W0113") == POLICIES and text.count("E0101") == POLICIES // ERROR_EVERY

    def check_promtool(done):
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        assert f"SUCCESS: {POLICIES * 10} rules found" in done.stdout.decode(), done.stdout

    rows = [
        ("kubeskippy check (human)", [args.bin, "check", "--color", "never", policy_file], check_human),
        ("kubeskippy check --format json", [args.bin, "check", "--format", "json", policy_file], check_json),
        ("promtool check rules", [args.promtool, "check", "rules", rules_file], check_promtool),
    ]
    print(f"{POLICIES * 10} rules, {args.runs} runs each: median (fastest)")
    for label, command, check in rows:
        median, fastest = timed(command, args.runs, check)
        print(f"  {label:32} {median * 1000:8.1f} ms ({fastest * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
