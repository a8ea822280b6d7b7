//! Gaps in evaluation: what a running `for` timer is worth after the operator
//! was down, restarted or failed over.
//!
//! A condition seen true at 00:15, then nothing for ten minutes, must not
//! fire `for 3m` at the first evaluation after: nobody saw it hold. The rule,
//! beside Prometheus's own (`--rules.alert.for-outage-tolerance`, default 1h,
//! and `--rules.alert.for-grace-period`), is stricter, because an action is
//! not an alert:
//!
//! - a gap is longer than two intervals since the timer was last checked;
//! - across a gap, the timer survives only as far as the data vouches for it:
//!   the condition is evaluated at past moments, one interval apart, from the
//!   newest back — series as they were then (Prometheus keeps them), events
//!   by their times, a status by its own timestamp (a condition's
//!   `lastTransitionTime`);
//! - a moment where the condition was false starts the timer after it;
//! - moments where the data says nothing (unknown) are bridged up to the
//!   outage tolerance in all (default 2 minutes: an operator restart or a
//!   leader failover keeps the timer, and with it the HealingAction's name);
//!   past it, the timer starts again where the data last vouched for it.

use super::observation::Target;
use super::state::Timer;
use super::truth::{truth_before, Truth};
use crate::ir::{Condition, Program, Seconds};

/// The most past moments one timer's gap is probed at: a gap of days at a
/// short interval is decided by its newest part (the probing stops once the
/// rule's `for` is vouched for anyway).
const MAX_PROBES: i64 = 2_000;

/// Whether a timer last checked at `checked` is across a gap at `now`.
pub(super) fn is_gap(checked: i64, now: i64, interval: i64) -> bool {
    now.saturating_sub(checked) > interval.saturating_mul(2)
}

/// `timer` (of `condition` held for `hold`: a rule's, or a held clause's) as
/// far as the data vouches for the gap between its last check and `now`;
/// `None` when nothing of it survives (the timer starts over if the
/// condition is true now).
#[allow(clippy::too_many_arguments)]
pub(super) fn bridge(
    program: &Program,
    condition: &Condition,
    hold: Option<Seconds>,
    target: &Target,
    timer: Timer,
    now: i64,
    interval: i64,
    tolerance: i64,
) -> Option<Timer> {
    let interval = interval.max(1);
    let hold = hold.map_or(0, |h| i64::try_from(h.0).unwrap_or(i64::MAX));
    // The earliest moment from which the data vouches through now, counting
    // the unknown moments the tolerance bridges; and the earliest from which
    // it vouches with no unknown moment at all.
    let mut vouched = now;
    let mut seen_true = now;
    let mut unknown = 0i64;
    let mut at = now.saturating_sub(interval);
    let mut probes = 0;
    while at > timer.checked {
        if now.saturating_sub(vouched) >= hold || probes >= MAX_PROBES {
            // Enough to fire, or as far as one look goes: the timer runs
            // from where the data vouches, not from before the gap.
            return kept(timer, vouched.max(timer.since), now);
        }
        probes += 1;
        match truth_before(program, condition, target, at) {
            Truth::True => {
                if unknown == 0 {
                    seen_true = at;
                }
                vouched = at;
            }
            Truth::False => return kept(timer, vouched, now),
            Truth::Unknown => {
                unknown = unknown.saturating_add(interval);
                if unknown > tolerance {
                    // Past the tolerance the unknown moments vouch for
                    // nothing: the timer runs from what was seen.
                    return kept(timer, seen_true, now);
                }
                vouched = at;
            }
        }
        at = at.saturating_sub(interval);
    }
    // The whole gap is vouched for: the timer survives as it was.
    Some(Timer {
        checked: now,
        ..timer
    })
}

/// The timer running since `since`, or none if that is now.
fn kept(timer: Timer, since: i64, now: i64) -> Option<Timer> {
    (since < now).then_some(Timer {
        since,
        unknown_since: None,
        checked: timer.checked,
    })
}
