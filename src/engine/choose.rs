//! Which of the rules that fired on a target decide, and the decision they
//! make: the most urgent priority wins, a tie between remedies is the AI's
//! case, a `notify` decides apart from the remedies, and a block by `limit`,
//! `cooldown` or an open request holds the decision back.

use super::decide::{PolicyVisit, Visit};
use super::decision::{Block, Candidate, Decision};
use super::evidence::Evidence;
use super::limits;
use super::observation::TargetId;
use super::state::{of_rule, Ledger};
use super::truth;
use super::Evaluation;
use crate::ir::{Action, Choice, Policy, Rule};

/// The decisions of the fired rules: the most urgent priority wins, and a
/// tie between remedies is the AI's case. A `notify` changes nothing and
/// spends a budget of its own, so it is no remedy to choose among: tied with
/// remedies, it goes beside them, and when the remedy that outranks it is
/// held back by a cooldown, a limit or an open request, it goes instead of
/// nothing. A more urgent `notify` still outranks the remedies, as its author
/// meant ("tell, do not act").
pub(super) fn decide_fired(
    visit: &Visit,
    policy_visit: &mut PolicyVisit,
    fired: Vec<(usize, Option<i64>)>,
    out: &mut Evaluation,
) {
    let rules = &visit.policy.rules;
    let most_urgent = |group: &[(usize, Option<i64>)]| -> Vec<(usize, Option<i64>)> {
        let Some(p) = group.iter().map(|(i, _)| rules[*i].priority).min() else {
            return Vec::new();
        };
        group
            .iter()
            .filter(|(i, _)| rules[*i].priority == p)
            .copied()
            .collect()
    };
    let top = most_urgent(&fired);
    let (top_notices, remedies): (Vec<_>, Vec<_>) =
        top.into_iter().partition(|(i, _)| is_notice(&rules[*i]));
    if remedies.is_empty() {
        // Tied notifications are no choice for the AI to make: the first in
        // the policy speaks (one notification per object per cooldown either
        // way).
        decide(visit, policy_visit, &top_notices[..1], out);
        return;
    }
    let before = out.decisions.len();
    decide(visit, policy_visit, &remedies, out);
    let notices = if top_notices.is_empty() {
        let held_back = matches!(
            out.decisions.get(before),
            Some(Decision::Blocked { by, .. }) if *by != Block::SameObject
        );
        if !held_back {
            return;
        }
        let notices: Vec<_> = fired
            .into_iter()
            .filter(|(i, _)| is_notice(&rules[*i]))
            .collect();
        most_urgent(&notices)
    } else {
        top_notices
    };
    if let Some(first) = notices.first() {
        decide(visit, policy_visit, std::slice::from_ref(first), out);
    }
}

/// Whether a rule's action is a plain `notify`, which decides apart from
/// the remedies (an `ask ai` among notify and others is a remedy's case).
pub(super) fn is_notice(rule: &Rule) -> bool {
    matches!(rule.action, Action::Notify(_))
}

/// The decision of the most urgent rules that fired (`top`, with how long
/// each held).
fn decide(
    visit: &Visit,
    policy_visit: &mut PolicyVisit,
    top: &[(usize, Option<i64>)],
    out: &mut Evaluation,
) {
    let Visit {
        program,
        policy,
        target,
        now,
        ..
    } = *visit;
    // Evidence is gathered only now, for the rules that decide.
    let evidence: Vec<Evidence> = top
        .iter()
        .flat_map(|(i, held)| {
            let rule = &policy.rules[*i];
            let mut seen = truth::evaluate(program, &rule.condition, target, now, true).seen;
            if let Some(held) = held {
                seen.push(Evidence::Held {
                    seconds: u64::try_from(*held).unwrap_or(0),
                });
            }
            seen
        })
        .collect();
    let first = &policy.rules[top[0].0];
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut asks_ai = false;
    for (i, _) in top {
        let rule = &policy.rules[*i];
        let choices: Vec<Choice> = match &rule.action {
            Action::AskAi(choices) => {
                asks_ai = true;
                choices.clone()
            }
            action => vec![Choice {
                action: action.clone(),
                effect: rule.effect,
                safety: rule.safety.clone(),
            }],
        };
        for choice in choices {
            if !candidates.iter().any(|c| c.action == choice.action) {
                candidates.push(Candidate {
                    object: target.acted_on(choice.effect),
                    action: choice.action,
                    effect: choice.effect,
                    safety: choice.safety,
                });
            }
        }
    }
    let decides_alone = !asks_ai && candidates.len() == 1;
    // A case for the AI is about the one object all its candidates land on
    // (the pods of one Deployment make one case), or else about the target.
    let object = match candidates.split_first() {
        Some((one, rest)) if rest.iter().all(|c| c.object == one.object) => one.object.clone(),
        _ => target.id.clone(),
    };
    let ledger = match candidates.as_slice() {
        [only] if decides_alone => Ledger::of(&only.action),
        _ => Ledger::Actions,
    };
    let block = if policy_visit.pending.contains(&object, ledger) {
        Some((Block::SameObject, None))
    } else {
        let records = limits::Records {
            history: policy_visit.history,
            open: policy_visit.open,
            request_timeout: visit.context.request_timeout,
            pending: &policy_visit.pending,
        };
        limits::blocked(policy, &records, &object, ledger, now).or_else(|| {
            // A case for the AI that ended in a notice (the AI chose one,
            // or declined, or there was no safe default) spent a case:
            // within the cooldown the model is not asked again.
            (!decides_alone)
                .then(|| limits::cooling(policy, policy_visit.history, &object, Ledger::Cases, now))
                .flatten()
        })
    };
    if let Some((by, until)) = block {
        out.decisions.push(Decision::Blocked {
            policy: policy.name.clone(),
            policy_index: policy_visit.index,
            rule: first.index,
            fingerprint: first.fingerprint.clone(),
            target: target.id.clone(),
            object,
            by,
            until,
            evidence,
        });
        // The action decided for another pod lands on this one's object
        // too: its rules start over as if it had decided, or it would act
        // on the same object at the next evaluation. A limit or cooldown
        // leaves the timers running, so the rule acts once it lifts.
        if by == Block::SameObject {
            restart_fired(policy, &target.id, top, policy_visit);
        }
        return;
    }
    let decision = if decides_alone {
        let chosen = candidates.remove(0);
        Decision::Act {
            policy: policy.name.clone(),
            policy_index: policy_visit.index,
            rule: first.index,
            fingerprint: first.fingerprint.clone(),
            target: target.id.clone(),
            owner: target.owner.clone(),
            action: chosen.action,
            effect: chosen.effect,
            safety: chosen.safety,
            object: object.clone(),
            evidence,
        }
    } else {
        Decision::Ambiguous {
            policy: policy.name.clone(),
            policy_index: policy_visit.index,
            rules: top.iter().map(|(i, _)| *i).collect(),
            fingerprints: top
                .iter()
                .map(|(i, _)| policy.rules[*i].fingerprint.clone())
                .collect(),
            target: target.id.clone(),
            owner: target.owner.clone(),
            candidates,
            object: object.clone(),
            evidence,
        }
    };
    out.decisions.push(decision);
    policy_visit.pending.add(object, ledger);
    // After a decision the fired rules start over: `for 3m` must hold for
    // another three minutes before they fire again.
    restart_fired(policy, &target.id, top, policy_visit);
}

/// Removes the fired rules' timers of the target just visited (the last
/// pushed).
fn restart_fired(
    policy: &Policy,
    target: &TargetId,
    fired: &[(usize, Option<i64>)],
    policy_visit: &mut PolicyVisit,
) {
    let last = policy_visit
        .timers
        .last_mut()
        .filter(|(id, _)| id == target);
    if let Some((_, running)) = last {
        for (i, _) in fired {
            // The rule's held clauses start over with it.
            let fingerprint = &policy.rules[*i].fingerprint;
            running.retain(|key, _| !of_rule(key, fingerprint));
        }
    }
}
