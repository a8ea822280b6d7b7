//! `limit` and `cooldown`: what the history of a policy, and what this
//! evaluation has already decided, let through.

use super::decision::Block;
use super::observation::TargetId;
use super::state::{Ledger, Taken};
use crate::ir::Policy;

/// Decisions of this evaluation that may still be carried out: they count
/// toward `limit` as if they were, or one evaluation could decide ten
/// actions under `limit 5`. Only what is then carried out is committed.
#[derive(Debug, Default)]
pub(super) struct Pending {
    decided: Vec<(TargetId, Ledger)>,
}

impl Pending {
    pub(super) fn add(&mut self, object: TargetId, ledger: Ledger) {
        self.decided.push((object, ledger));
    }

    pub(super) fn contains(&self, object: &TargetId, ledger: Ledger) -> bool {
        self.decided
            .iter()
            .any(|(o, l)| *l == ledger && o == object)
    }

    fn count(&self, ledger: Ledger) -> usize {
        self.decided.iter().filter(|(_, l)| *l == ledger).count()
    }
}

/// What a policy has spent and asked for: the records `blocked` reads.
pub(super) struct Records<'a> {
    pub history: &'a [Taken],
    /// The requests still open (see [`prune_open`]).
    pub open: &'a [Taken],
    /// How long after it opened a request lapses.
    pub request_timeout: i64,
    pub pending: &'a Pending,
}

/// Whether an open request, `cooldown` or `limit` holds back an action on
/// `object` at `now`, and until when.
pub(super) fn blocked(
    policy: &Policy,
    records: &Records,
    object: &TargetId,
    ledger: Ledger,
    now: i64,
) -> Option<(Block, Option<i64>)> {
    let Records {
        history,
        open,
        request_timeout,
        pending,
    } = *records;
    if let Some(request) = open
        .iter()
        .find(|o| o.ledger == ledger && o.target == *object)
    {
        return Some((
            Block::Open,
            Some(request.at.saturating_add(request_timeout)),
        ));
    }
    if let Some(cooling) = cooling(policy, history, object, ledger, now) {
        return Some(cooling);
    }
    let window = |seconds: u64| i64::try_from(seconds).unwrap_or(i64::MAX);
    let counted = |t: &&Taken, window: i64| t.ledger == ledger && now.saturating_sub(t.at) < window;
    if let Some(limit) = policy.limit {
        let w = window(limit.per.0);
        let mut times: Vec<i64> = history
            .iter()
            .filter(|t| counted(t, w))
            .map(|t| t.at)
            .collect();
        let taken = times.len() + pending.count(ledger);
        let allowed = limit.count as usize;
        if taken >= allowed {
            // It lifts when enough of the counted actions have aged out.
            times.sort_unstable();
            let until = times.get(taken - allowed).map(|at| at.saturating_add(w));
            return Some((Block::Limit, until));
        }
    }
    None
}

/// Whether the policy's `cooldown` holds back `object` at `now`, counting
/// what was spent from `ledger`, and until when.
pub(super) fn cooling(
    policy: &Policy,
    history: &[Taken],
    object: &TargetId,
    ledger: Ledger,
    now: i64,
) -> Option<(Block, Option<i64>)> {
    let cooldown = i64::try_from(policy.cooldown?.0).unwrap_or(i64::MAX);
    let last = history
        .iter()
        .filter(|t| t.ledger == ledger && t.target == *object)
        .filter(|t| now.saturating_sub(t.at) < cooldown)
        .map(|t| t.at)
        .max()?;
    Some((Block::Cooldown, Some(last.saturating_add(cooldown))))
}

/// Keeps only the history a `limit` or `cooldown` can still count: each
/// record as long as the policy's longest window. A record from the future
/// (a clock jump, a corrupted state) counts for nothing: it would block
/// forever and never age out.
pub(super) fn prune(policy: Option<&Policy>, history: &mut Vec<Taken>, now: i64) {
    let window = policy
        .and_then(|p| {
            [p.cooldown.map(|c| c.0), p.limit.map(|l| l.per.0)]
                .into_iter()
                .flatten()
                .max()
        })
        .map_or(0, |w| i64::try_from(w).unwrap_or(i64::MAX));
    history.retain(|t| t.at <= now && now.saturating_sub(t.at) < window);
}

/// Drops the requests that lapsed (and any from the future).
pub(super) fn prune_open(open: &mut Vec<Taken>, request_timeout: i64, now: i64) {
    open.retain(|t| t.at <= now && now.saturating_sub(t.at) < request_timeout);
}
