//! Lints: policies that check but will likely not do what their author wants —
//! shadowed rules, flapping thresholds, disruptive actions without a cooldown,
//! unbounded budgets, approval in `auto` mode, bounds above the safety caps.

use super::Checker;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, Action, CmpOp, Condition, Mode, Policy, SafetyClass, Scale, Threshold};
use crate::safety;
use crate::span::Span;
use crate::syntax::ast;

impl Checker<'_> {
    /// `rule_spans[i]` is the span of `policy.rules[i]`.
    pub(super) fn lint_policy(
        &mut self,
        ast_policy: &ast::Policy,
        policy: &ir::Policy,
        rule_spans: &[Span],
        limit_span: Option<Span>,
        statements_ok: bool,
    ) {
        self.lint_shadowed(policy, rule_spans);
        self.lint_flapping(policy, rule_spans);
        // The lints below are about what actions do; a policy in `monitor`
        // never acts.
        if policy.mode == Mode::Monitor {
            return;
        }
        // A `limit` or `cooldown` with an error is missing from `policy`: the
        // lints about them would only echo that error.
        if statements_ok {
            self.lint_cooldown(ast_policy, policy, rule_spans);
            self.lint_budget(ast_policy, policy, limit_span);
            self.lint_starving(policy, rule_spans);
        }
        self.lint_approval(policy, rule_spans);
    }

    fn lint_shadowed(&mut self, policy: &ir::Policy, spans: &[Span]) {
        for (j, later) in policy.rules.iter().enumerate() {
            let earlier = policy.rules[..j]
                .iter()
                .position(|r| r.condition == later.condition && r.hold == later.hold);
            if let Some(i) = earlier {
                let same_action = policy.rules[i].action == later.action;
                self.report(
                    Diagnostic::new(
                        Code::ShadowedRule,
                        spans[j],
                        "this rule's condition is identical to an earlier rule's",
                    )
                    .label(if same_action { "a duplicate" } else { "fires together with the earlier rule" })
                    .related(spans[i], "the earlier rule")
                    .help(if same_action {
                        "remove one of the two rules"
                    } else {
                        "merge them into one rule, or make the conditions differ; on a tie of priorities the case goes to the AI analyzer"
                    }),
                );
            }
        }
    }

    fn lint_flapping(&mut self, policy: &ir::Policy, spans: &[Span]) {
        for (i, up) in policy.rules.iter().enumerate() {
            if !matches!(up.action, Action::Scale(Scale::Up { .. })) {
                continue;
            }
            for (j, down) in policy.rules.iter().enumerate() {
                if !matches!(down.action, Action::Scale(Scale::Down { .. })) {
                    continue;
                }
                let (Some((e1, a)), Some((e2, b))) = (
                    single_compare(&up.condition),
                    single_compare(&down.condition),
                ) else {
                    continue;
                };
                if e1 != e2 || separated(a, b) {
                    continue;
                }
                let metric = self.program.render_expr(e1);
                self.report(
                    Diagnostic::new(
                        Code::Flapping,
                        spans[j],
                        format!("`scale up` and `scale down` on `{metric}` leave no gap between their thresholds"),
                    )
                    .label("scales down where the other rule scales up")
                    .related(spans[i], "scales up")
                    .help("leave a gap between the thresholds (hysteresis): scale up above 80%, down below 30%, say"),
                );
            }
        }
    }

    fn lint_cooldown(&mut self, ast_policy: &ast::Policy, policy: &ir::Policy, spans: &[Span]) {
        if policy.cooldown.is_some_and(|c| c.0 > 0) {
            return;
        }
        for (rule, span) in policy.rules.iter().zip(spans) {
            // A rerun without a cooldown would start a new Job at every
            // evaluation while the failed one stays failed; an expansion
            // would grow the claim again before the filesystem has.
            let disruptive = |a: &Action| {
                matches!(
                    a,
                    Action::Delete | Action::Drain | Action::Rerun | Action::Expand { .. }
                )
            };
            let hit = match &rule.action {
                Action::AskAi(choices) => choices.iter().map(|c| &c.action).find(|a| disruptive(a)),
                a if disruptive(a) => Some(a),
                _ => None,
            };
            // A condition that holds (a failed Job, a short budget) would
            // send its notice, record and Event at every evaluation.
            let notifies = match &rule.action {
                Action::Notify(_) => true,
                Action::AskAi(choices) => choices
                    .iter()
                    .any(|c| matches!(c.action, Action::Notify(_))),
                _ => false,
            };
            if notifies && hit.is_none() && policy.limit.is_none() {
                self.report(
                    Diagnostic::new(
                        Code::RepeatedNotice,
                        *span,
                        format!(
                            "`notify` without a cooldown in policy `{}`",
                            ast_policy.name.name
                        ),
                    )
                    .label("notifies again at every evaluation while the condition holds")
                    .help("add `cooldown 1h` to the policy: a notice once an hour per object"),
                );
            }
            if let Some(action) = hit {
                let name = action.catalog_name();
                self.report(
                    Diagnostic::new(
                        Code::NoCooldown,
                        *span,
                        format!(
                            "`{name}` without a cooldown in policy `{}`",
                            ast_policy.name.name
                        ),
                    )
                    .label(format!("can `{name}` the same target at every evaluation"))
                    .help("add `cooldown 10m` to the policy"),
                );
            }
        }
    }

    fn lint_budget(
        &mut self,
        ast_policy: &ast::Policy,
        policy: &ir::Policy,
        limit_span: Option<Span>,
    ) {
        let b = safety::budget(policy, self.config);
        if b.is_unbounded() && would_act_unattended(policy) {
            self.report(
                Diagnostic::new(
                    Code::UnboundedBudget,
                    ast_policy.name.span,
                    format!("policy `{}` has no `limit` and no `cooldown`", ast_policy.name.name),
                )
                .label("its disruption budget is unbounded")
                .help(format!(
                    "add `limit 5 per 1h` and `cooldown 10m`; until then only the safety configuration's cap of {} actions per hour bounds it",
                    b.global_cap
                )),
            );
        }
        if let (Some(per_hour), Some(span)) = (b.per_hour, limit_span) {
            if per_hour > b.global_cap {
                self.report(
                    Diagnostic::new(
                        Code::ExceedsSafetyBound,
                        span,
                        format!("this limit allows {per_hour} actions per hour, more than the safety configuration's {}", b.global_cap),
                    )
                    .label(format!("capped at {} per hour at run time", b.global_cap))
                    .help("lower the limit, or raise `maxActionsPerHour` in the safety configuration"),
                );
            }
        }
    }

    fn lint_approval(&mut self, policy: &ir::Policy, spans: &[Span]) {
        if policy.mode != ir::Mode::Auto {
            return;
        }
        for (rule, span) in policy.rules.iter().zip(spans) {
            if let Action::AskAi(choices) = &rule.action {
                let waiting: Vec<String> = choices
                    .iter()
                    .filter_map(|c| match &c.safety {
                        SafetyClass::NeedsApproval(why) => Some(format!(
                            "`{}` ({why})",
                            self.program.render_action(&c.action)
                        )),
                        _ => None,
                    })
                    .collect();
                if !waiting.is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::ApprovalInAutoMode,
                            *span,
                            format!(
                                "the AI may choose actions that wait for approval although the policy's mode is `auto`: {}",
                                waiting.join(", ")
                            ),
                        )
                        .label("its choice may wait for a person")
                        .help("say so with `mode approve`, or list only choices the safety configuration allows on their own"),
                    );
                }
                continue;
            }
            if let SafetyClass::NeedsApproval(why) = &rule.safety {
                self.report(
                    Diagnostic::new(
                        Code::ApprovalInAutoMode,
                        *span,
                        format!("this action waits for approval although the policy's mode is `auto`: {why}"),
                    )
                    .label("will wait for a person")
                    .help("say so with `mode approve`, or choose an action the safety configuration allows on its own"),
                );
            }
        }
    }
}

/// Whether the policy would change the cluster with no person in the loop: in
/// `auto`, or in `dryrun`, which records but does not act and is one word away
/// from `auto` (the budget lint is about what happens once it is switched),
/// with a rule whose action changes something.
fn would_act_unattended(policy: &Policy) -> bool {
    matches!(policy.mode, Mode::Auto | Mode::DryRun)
        && policy.rules.iter().any(|r| changes_cluster(&r.action))
}

/// Whether an action (for `ask ai`, one of its choices) changes the cluster.
fn changes_cluster(action: &Action) -> bool {
    action.disruption() > 0 || action.choices().iter().any(|c| changes_cluster(&c.action))
}

/// The metric and bound of a condition that is one comparison.
fn single_compare(condition: &Condition) -> Option<(&ir::MetricExpr, (CmpOp, f64))> {
    match condition {
        Condition::Compare {
            expr,
            op,
            threshold: Threshold::Number(n),
        } => Some((expr, (*op, *n))),
        _ => None,
    }
}

/// Whether the sets `{x | x op1 a}` and `{x | x op2 b}` are apart with a gap of
/// positive width between them.
fn separated((op1, a): (CmpOp, f64), (op2, b): (CmpOp, f64)) -> bool {
    let (lo1, hi1) = interval(op1, a);
    let (lo2, hi2) = interval(op2, b);
    hi1 < lo2 || hi2 < lo1
}

/// The closure of the set of values where `x op v` holds, as `(low, high)`.
fn interval(op: CmpOp, v: f64) -> (f64, f64) {
    match op {
        CmpOp::Gt | CmpOp::Ge => (v, f64::INFINITY),
        CmpOp::Lt | CmpOp::Le => (f64::NEG_INFINITY, v),
        CmpOp::Eq => (v, v),
        CmpOp::Ne => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_need_a_gap_of_positive_width() {
        assert!(separated((CmpOp::Gt, 80.0), (CmpOp::Lt, 20.0)));
        assert!(!separated((CmpOp::Gt, 80.0), (CmpOp::Lt, 80.0)), "touching");
        assert!(
            !separated((CmpOp::Gt, 80.0), (CmpOp::Lt, 90.0)),
            "overlapping"
        );
        assert!(
            !separated((CmpOp::Gt, 80.0), (CmpOp::Gt, 10.0)),
            "same direction"
        );
        assert!(separated((CmpOp::Lt, 2.0), (CmpOp::Gt, 5.0)));
    }
}
