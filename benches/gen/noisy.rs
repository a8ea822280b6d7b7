//! A deterministic generator of a large Skippy file that draws many
//! diagnostics, for the `check_large` benchmark: `noisy(n)` writes `n`
//! policies of ten rules on pods (metric, window, status and event
//! conditions), each with one `delete`, which draws W0113, and every fifth
//! with a misspelt metric (E0101, with a "did you mean"). The same file is
//! written by `benches/check_vs_promtool.py`, beside Prometheus alerting
//! rules of the same intent.

use std::fmt::Write as _;

/// Every fifth policy has an error.
pub const ERROR_EVERY: usize = 5;

pub fn noisy(policies: usize) -> String {
    let mut out = String::with_capacity(policies * 1_000);
    for i in 0..policies {
        let metric = if i % ERROR_EVERY == 0 {
            "cpu_percnt"
        } else {
            "cpu_percent"
        };
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            r#"policy app-{i} {{
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

"#
        );
    }
    out
}
