//! The evaluation loop's view of the lead: whether this replica leads,
//! and whether it has just taken the lead (a new term of
//! [`super::leader::Leading`]), which every branch of the loop asks before
//! it acts.

use super::evaluation::{Loop, Work};
use tokio::sync::watch;

/// Whether this replica leads, and whether it has just taken the lead.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Lead {
    Follows,
    /// Leads since this call. Whatever woke the loop, a cycle runs first:
    /// a watch pass reads the samples the last cycle took, and this
    /// replica has taken none yet (an AI case made then would tell the
    /// model nothing of the target's restarts).
    Takes,
    Holds,
}

/// Whether this replica leads now (its term kept in `work.term`). On
/// taking the lead (a new term) it resumes each policy's state as the
/// previous leader saved it, and forgets the questions it asked the AI
/// before: their answers are dropped.
pub(super) async fn lead(
    context: &Loop,
    leading: &watch::Receiver<super::leader::Leading>,
    work: &mut Work,
) -> Lead {
    let now_leading = *leading.borrow();
    let before = std::mem::replace(&mut work.term, now_leading);
    match (before, now_leading) {
        (_, None) => Lead::Follows,
        (Some(was), Some(is)) if was == is => Lead::Holds,
        (_, Some(_)) => {
            work.asking.clear();
            for entry in context.registry.snapshot() {
                let Some(state) = super::persist::load(
                    &context.client,
                    &entry,
                    &context.namespace,
                    context.shard,
                )
                .await
                else {
                    continue;
                };
                // What this replica wrote last: nobody wrote since, and
                // what it holds is as new (it led until a moment ago).
                let ours = entry
                    .saved
                    .is_some_and(|(written, _)| written == super::persist::fingerprint(&state));
                if !ours {
                    context.registry.update_state(&entry.uid, state);
                }
            }
            Lead::Takes
        }
    }
}
