//! A policy: its statements (one `select`, at most one `mode`, `limit` and
//! `cooldown`) and its rules, lowered to an [`ir::Policy`].

use super::{units, Checker, PolicyContext, PolicySpans};
use crate::catalog::MODES;
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, Limit, Mode, Seconds};
use crate::safety;
use crate::span::Span;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn policy(&mut self, policy: &ast::Policy) {
        // A policy with any error is left out of the program; counting errors
        // is the one reliable way to know, whichever check reported it.
        let errors_before = self.error_count();
        self.check_name(&policy.name, "policy");
        let mut select: Option<(&ast::Select, Span)> = None;
        let mut mode: Option<(Mode, Span)> = None;
        let mut limit: Option<(Option<Limit>, Span)> = None;
        let mut cooldown: Option<(Option<Seconds>, Span)> = None;
        let mut mode_ok = true;
        let mut rules: Vec<&ast::Rule> = Vec::new();

        for statement in &policy.statements {
            let span = statement.span();
            let first = match statement {
                ast::Statement::Select(s) => select
                    .replace((s, span))
                    .map(|(_, first)| (first, "select")),
                ast::Statement::Mode(word, _) => {
                    let parsed = self.mode(word);
                    mode_ok &= parsed.is_some();
                    mode.replace((parsed.unwrap_or(Mode::DryRun), span))
                        .map(|(_, first)| (first, "mode"))
                }
                ast::Statement::Limit { count, per, .. } => {
                    let parsed = self.limit(count, per);
                    limit
                        .replace((parsed, span))
                        .map(|(_, first)| (first, "limit"))
                }
                ast::Statement::Cooldown(lit, _) => {
                    let parsed = self.ok(units::duration(lit));
                    cooldown
                        .replace((parsed, span))
                        .map(|(_, first)| (first, "cooldown"))
                }
                ast::Statement::Rule(rule) => {
                    rules.push(rule);
                    None
                }
            };
            if let Some((first, what)) = first {
                self.report(
                    Diagnostic::new(
                        Code::RepeatedStatement,
                        span,
                        format!("policy `{}` has a second `{what}`", policy.name.name),
                    )
                    .label("second one")
                    .related(first, "first one")
                    .help(format!("a policy has at most one `{what}`: keep one")),
                );
            }
        }

        let Some((select, _)) = select else {
            if !policy.recovered {
                self.report(
                    Diagnostic::new(
                        Code::MissingSelect,
                        policy.name.span,
                        format!("policy `{}` does not say what it selects", policy.name.name),
                    )
                    .label("no `select` in this policy")
                    .help("add a line such as `select pods in shop where app = \"checkout\"`"),
                );
            }
            return;
        };
        if rules.is_empty() && !policy.recovered {
            self.report(
                Diagnostic::new(
                    Code::NoRules,
                    policy.name.span,
                    format!("policy `{}` has no rules", policy.name.name),
                )
                .label("nothing to do")
                .help("add a rule: `when CONDITION [for DURATION] then ACTION`"),
            );
        }
        let selector = self.select(select);
        let mode_value = mode.map_or(Mode::DryRun, |(m, _)| m);
        let Some(selector) = selector else {
            // Without a kind, rules cannot be checked without a cascade of
            // errors; the select error says what to fix first.
            return;
        };
        let context = PolicyContext {
            selector: &selector,
            mode: mode_value,
        };
        let mut lowered = Vec::new();
        let mut rule_spans = Vec::new();
        let mut rules_ok = true;
        for rule in &rules {
            match self.rule(rule, &context) {
                Some(ir_rule) => {
                    lowered.push(ir_rule);
                    rule_spans.push(rule.span);
                }
                None => rules_ok = false,
            }
        }
        rules_ok &= self.fill_ai_candidates(&mut lowered, &rule_spans, &context);
        self.finish_rules(&mut lowered, &context);
        let limit_value = limit.and_then(|(l, _)| l);
        let cooldown_value = cooldown.and_then(|(c, _)| c);
        let ir_policy = ir::Policy {
            name: policy.name.name.clone(),
            selector,
            mode: mode_value,
            limit: limit_value,
            cooldown: cooldown_value,
            rules: lowered,
        };
        let statements_ok = mode_ok
            && limit.is_none_or(|(l, _)| l.is_some())
            && cooldown.is_none_or(|(c, _)| c.is_some());
        self.lint_policy(
            policy,
            &ir_policy,
            &rule_spans,
            limit.map(|(_, s)| s),
            statements_ok,
        );
        if rules_ok && self.error_count() == errors_before && !policy.recovered {
            self.program.policies.push(ir_policy);
            self.spans.policies.push(PolicySpans {
                name: policy.name.span,
                rules: rule_spans,
            });
        }
    }

    /// `ask ai` without `among` may choose among the policy's other actions,
    /// each classified as its own rule is. Returns false when one has nothing
    /// to choose from.
    fn fill_ai_candidates(
        &mut self,
        rules: &mut [ir::Rule],
        spans: &[Span],
        ctx: &PolicyContext,
    ) -> bool {
        let mut others: Vec<ir::Choice> = Vec::new();
        for rule in rules.iter() {
            let is_new = !others.iter().any(|c| c.action == rule.action);
            if is_new && !matches!(rule.action, ir::Action::AskAi(_)) {
                others.push(self.choice(rule.action.clone(), rule.effect, ctx));
            }
        }
        let mut ok = true;
        for (rule, span) in rules.iter_mut().zip(spans) {
            let ir::Action::AskAi(candidates) = &mut rule.action else {
                continue;
            };
            if !candidates.is_empty() {
                continue;
            }
            if others.is_empty() {
                ok = false;
                self.report(
                    Diagnostic::new(Code::InvalidAction, *span, "`ask ai` has no actions to choose from")
                        .label("the policy has no other action")
                        .help("list the actions the AI may choose: `ask ai among [restart rolling, scale up 1]`"),
                );
                continue;
            }
            *candidates = others.clone();
        }
        ok
    }

    /// What depends on a rule's final action, known once `ask ai` has its
    /// choices: its position, its safety class (for `ask ai`, the strictest of
    /// its choices') and its fingerprint (which covers the choices).
    fn finish_rules(&self, rules: &mut [ir::Rule], ctx: &PolicyContext) {
        for (index, rule) in rules.iter_mut().enumerate() {
            rule.index = index;
            rule.safety = safety::classify(&rule.action, ctx.selector, ctx.mode, self.config);
            rule.fingerprint =
                self.program
                    .fingerprint(&rule.condition, rule.hold, &rule.action, rule.priority);
        }
    }

    fn mode(&mut self, word: &ast::Ident) -> Option<Mode> {
        if let Some(mode) = Mode::from_keyword(&word.name) {
            return Some(mode);
        }
        let d = Diagnostic::new(
            Code::UnknownMode,
            word.span,
            format!("unknown mode `{}`", word.name),
        )
        .label("expected a mode");
        let names = MODES.iter().map(|(m, _)| *m);
        let d = match closest(&word.name, names.clone()) {
            Some(s) => d.suggest(s),
            None => d.help(format!(
                "modes: {} (default `dryrun`)",
                names
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        self.report(d);
        None
    }

    fn limit(&mut self, count: &ast::Literal, per: &ast::Literal) -> Option<Limit> {
        let n = self.ok(units::count(count));
        let per_value = self.ok(units::duration(per));
        let (n, per_value) = (n?, per_value?);
        if n == 0 {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    count.span,
                    "`limit 0` allows no action at all",
                )
                .help("use `mode monitor` for a policy that only reports"),
            );
            return None;
        }
        if per_value.0 == 0 {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    per.span,
                    "the window of a `limit` must be longer than 0s",
                )
                .help("for example `limit 5 per 1h`"),
            );
            return None;
        }
        Some(Limit {
            count: n,
            per: per_value,
        })
    }
}
