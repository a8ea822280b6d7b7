//! What a failed case says: each expected decision matched with what the
//! policy decided, and what was missing or extra, and why.

use super::run::{Mismatch, Outcome, Shown};
use super::*;

pub(super) fn matches(program: &Program, expected: &ExpectedDecision, actual: &Decision) -> bool {
    let (policy, rules, target) = match actual {
        Decision::Act {
            policy,
            rule,
            target,
            ..
        }
        | Decision::Blocked {
            policy,
            rule,
            target,
            ..
        } => (policy, std::slice::from_ref(rule), target),
        Decision::Ambiguous {
            policy,
            rules,
            target,
            ..
        } => (policy, rules.as_slice(), target),
    };
    if *target != expected.target
        || expected.policy.as_ref().is_some_and(|p| p != policy)
        || expected.rule.is_some_and(|r| !rules.contains(&(r - 1)))
    {
        return false;
    }
    match (&expected.kind, actual) {
        (ExpectedKind::Act(act), Decision::Act { action, .. }) => {
            *act == program.render_action(action)
        }
        (ExpectedKind::Ambiguous(wanted), Decision::Ambiguous { candidates, .. }) => {
            let mut wanted = wanted.clone();
            let mut actual: Vec<String> = candidates
                .iter()
                .map(|c| program.render_action(&c.action))
                .collect();
            wanted.sort();
            actual.sort();
            wanted == actual
        }
        (ExpectedKind::Blocked(want), Decision::Blocked { by, .. }) => want == by,
        _ => false,
    }
}

/// Matches expected to actual decisions one to one (Kuhn's augmenting paths,
/// so a broad expectation never steals the only match of a narrow one).
pub(super) fn compare(
    program: &Program,
    now: i64,
    expected: &[&ExpectedDecision],
    actual: &[Decision],
) -> Option<Mismatch> {
    let edges: Vec<Vec<usize>> = expected
        .iter()
        .map(|e| {
            (0..actual.len())
                .filter(|&j| matches(program, e, &actual[j]))
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; actual.len()];
    for i in 0..expected.len() {
        let mut seen = vec![false; actual.len()];
        augment(i, &edges, &mut owner, &mut seen);
    }
    let matched_expected: Vec<bool> = (0..expected.len())
        .map(|i| owner.contains(&Some(i)))
        .collect();
    if matched_expected.iter().all(|m| *m) && owner.iter().all(Option::is_some) {
        return None;
    }
    let missing = expected
        .iter()
        .zip(&matched_expected)
        .filter(|(_, m)| !**m)
        .map(|(e, _)| describe_expected(e))
        .collect();
    let (matched, unexpected): (Vec<_>, Vec<_>) =
        actual.iter().zip(&owner).partition(|(_, o)| o.is_some());
    Some(Mismatch {
        at: Seconds(u64::try_from(now).unwrap_or(0)),
        missing,
        unexpected: unexpected
            .into_iter()
            .map(|(d, _)| describe_actual(program, d))
            .collect(),
        matched: matched
            .into_iter()
            .map(|(d, _)| describe_actual(program, d))
            .collect(),
        why: Vec::new(),
    })
}

/// For each target an expected decision is missing on, where the rules it
/// names (by policy and rule, if it does) stood there; a target no policy
/// visited says so.
pub(super) fn why_missing(wanted: &[&ExpectedDecision], standings: &[Standing]) -> Vec<String> {
    let mut why = Vec::new();
    let mut targets: Vec<&TargetId> = Vec::new();
    for e in wanted {
        if targets.contains(&&e.target) {
            continue;
        }
        targets.push(&e.target);
        let on: Vec<String> = standings
            .iter()
            .filter(|s| {
                s.target == e.target
                    && e.policy.as_ref().is_none_or(|p| *p == s.policy)
                    && e.rule.is_none_or(|r| r == s.rule + 1)
            })
            .map(|s| format!("on {}: {}", e.target, crate::sim::explain::with_rule(s)))
            .collect();
        if on.is_empty() {
            why.push(format!(
                "on {}: no policy evaluated it (not selected, or protected)",
                e.target
            ));
        }
        why.extend(on);
    }
    why
}

pub(super) fn augment(
    i: usize,
    edges: &[Vec<usize>],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for &j in &edges[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        let free = match owner[j] {
            None => true,
            Some(k) => augment(k, edges, owner, seen),
        };
        if free {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

pub(super) fn describe_expected(e: &ExpectedDecision) -> String {
    let what = match &e.kind {
        ExpectedKind::Act(act) => format!("act: {act}"),
        ExpectedKind::Ambiguous(c) => format!("ambiguous: [{}]", c.join(", ")),
        ExpectedKind::Blocked(by) => format!("blocked: {}", by.as_str()),
    };
    let mut text = format!("{what} on {}", e.target);
    if let Some(policy) = &e.policy {
        let _ = write!(text, " (policy {policy})");
    }
    if let Some(rule) = e.rule {
        let _ = write!(text, " (rule {rule})");
    }
    text
}

pub(super) fn describe_actual(program: &Program, d: &Decision) -> Shown {
    let (what, target, policy, rules, evidence) = match d {
        Decision::Act {
            policy,
            rule,
            target,
            action,
            object,
            evidence,
            ..
        } => (
            if object == target {
                format!("act: {}", program.render_action(action))
            } else {
                format!("act: {} ({object})", program.render_action(action))
            },
            target,
            policy,
            vec![*rule],
            evidence,
        ),
        Decision::Ambiguous {
            policy,
            rules,
            target,
            candidates,
            evidence,
            ..
        } => (
            format!(
                "ambiguous: [{}]",
                candidates
                    .iter()
                    .map(|c| program.render_action(&c.action))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            target,
            policy,
            rules.clone(),
            evidence,
        ),
        Decision::Blocked {
            policy,
            rule,
            target,
            by,
            evidence,
            ..
        } => (
            format!("blocked: {}", by.as_str()),
            target,
            policy,
            vec![*rule],
            evidence,
        ),
    };
    let rules: Vec<String> = rules.iter().map(|r| (r + 1).to_string()).collect();
    let rule_word = if rules.len() == 1 { "rule" } else { "rules" };
    Shown {
        decision: format!(
            "{what} on {target} (policy {policy}, {rule_word} {})",
            rules.join(", ")
        ),
        evidence: evidence::render(evidence),
    }
}

pub(super) fn serialize_duration<S: serde::Serializer>(
    at: &Seconds,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&at.spelled())
}

pub(super) fn show(shown: &Shown) -> String {
    if shown.evidence.is_empty() {
        shown.decision.clone()
    } else {
        format!(
            "{}\n      evidence: {}",
            shown.decision,
            shown.evidence.join("; ")
        )
    }
}

/// The failure report of one case: expected vs actual at each failing time.
pub fn render_failure(outcome: &Outcome) -> String {
    let mut out = String::new();
    match outcome {
        Outcome::Passed => {}
        Outcome::PolicyErrors(rendered) => {
            out.push_str("the policy file has errors:\n");
            out.push_str(rendered);
        }
        Outcome::Invalid(problem) => {
            out.push_str("the test's input is invalid: ");
            out.push_str(problem);
            out.push('\n');
        }
        Outcome::Failed(mismatches) => {
            for m in mismatches {
                let _ = writeln!(out, "at {}:", m.at.spelled());
                for line in &m.missing {
                    let _ = writeln!(out, "  - expected {line}");
                }
                for line in &m.why {
                    let _ = writeln!(out, "      why: {line}");
                }
                for shown in &m.unexpected {
                    let _ = writeln!(out, "  + actual   {}", show(shown));
                }
                if m.unexpected.is_empty() && m.matched.is_empty() {
                    let _ = writeln!(out, "  + actual   no decision");
                }
                for shown in &m.matched {
                    let _ = writeln!(out, "    matched  {}", show(shown));
                }
            }
        }
    }
    out
}
