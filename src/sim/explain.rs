//! Where a rule stood, step by step: `simulate --explain RULE`, and the
//! "why" under a failing `kubeskippy test` case that expected a decision
//! and got none. The engine says it ([`crate::engine::Standing`]); this
//! names rules as the command line does and puts the standings in words.

use crate::engine::observation::TargetId;
use crate::engine::{Context, Evaluation, Explain, Standing};
use crate::ir::{Program, Seconds};
use serde::Serialize;
use std::fmt::Write as _;

/// A rule as `--explain` names it: `POLICY:N` (N from 1, as `explain`, the
/// timeline and a test's `rule:` number rules), `POLICY` for a policy of
/// one rule, or `N` when the programs hold a single policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    /// Which program (policy file) holds it.
    pub program: usize,
    pub policy: usize,
    /// From 0.
    pub rule: usize,
}

impl RuleRef {
    /// What the engine is asked to explain for its program.
    pub fn explain(&self) -> Explain {
        Explain::Rule {
            policy: self.policy,
            rule: self.rule,
        }
    }
}

/// Finds the rule `spec` names among `programs`.
pub fn resolve(programs: &[Program], spec: &str) -> Result<RuleRef, String> {
    let spec = spec.trim();
    let (name, number) = match spec.rsplit_once(':') {
        Some((name, n)) => (Some(name), Some(n)),
        None if spec.chars().all(|c| c.is_ascii_digit()) && !spec.is_empty() => (None, Some(spec)),
        None => (Some(spec), None),
    };
    let number = match number {
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(format!(
                    "`{n}` is not a rule number: rules are numbered from 1, as `kubeskippy explain` shows them"
                ))
            }
        },
        None => None,
    };
    let policies: Vec<(usize, usize)> = programs
        .iter()
        .enumerate()
        .flat_map(|(i, p)| (0..p.policies.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| name.is_none_or(|n| programs[i].policies[j].name == n))
        .collect();
    let names = || {
        programs
            .iter()
            .flat_map(|p| p.policies.iter().map(|p| p.name.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (program, policy) = match policies.as_slice() {
        [one] => *one,
        [] => {
            return Err(match name {
                Some(n) => format!("no policy is named `{n}` (the policies: {})", names()),
                None => "no policy to explain".into(),
            })
        }
        _ => {
            return Err(match name {
                Some(n) => format!("more than one policy is named `{n}`"),
                None => format!("several policies ({}): name one, as `POLICY:RULE`", names()),
            })
        }
    };
    let rules = programs[program].policies[policy].rules.len();
    let rule = match number {
        Some(n) if n <= rules => n - 1,
        Some(n) => {
            return Err(format!(
                "policy `{}` has {rules} rule(s), not {n}",
                programs[program].policies[policy].name
            ))
        }
        None if rules == 1 => 0,
        None => {
            return Err(format!(
                "policy `{}` has {rules} rules: name one, as `{}:N`",
                programs[program].policies[policy].name, programs[program].policies[policy].name
            ))
        }
    };
    Ok(RuleRef {
        program,
        policy,
        rule,
    })
}

/// Whether `target` is the one `--target NAME` names: its whole id
/// (`pods/demo/cart-1`) or its name alone.
pub fn names_target(name: &str, target: &TargetId) -> bool {
    target.name == name || target.to_string() == name
}

/// The rule an explanation follows, and what it saw at each step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// `policy p, rule 2: when … then …`.
    pub rule: String,
    /// `--target`, if given.
    pub target: Option<String>,
    pub steps: Vec<Step>,
    /// Steps past [`MAX_STEPS`], not kept.
    pub omitted: usize,
}

/// The most explained steps a report keeps (a long run on many pods would
/// otherwise fill memory).
pub const MAX_STEPS: usize = 100_000;

/// One step of an explanation: the rule's standing on each target it
/// visited, or none (not selected, protected, or not observed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub at: i64,
    pub standings: Vec<Standing>,
}

impl Explanation {
    /// The explanation of `rule` in `program`, before any step.
    pub fn new(program: &Program, rule: &RuleRef, target: Option<&str>) -> Explanation {
        let policy = &program.policies[rule.policy];
        let words = policy.rules.get(rule.rule).map_or(String::new(), |r| {
            let hold = r
                .hold
                .map_or(String::new(), |h| format!(" for {}", h.spelled()));
            format!(
                "when {}{hold} then {}",
                program.render_condition(&r.condition),
                program.render_action(&r.action)
            )
        });
        Explanation {
            rule: format!("policy {}, rule {}: {words}", policy.name, rule.rule + 1),
            target: target.map(str::to_string),
            steps: Vec::new(),
            omitted: 0,
        }
    }

    /// Records a step's standings (those on `--target` only, if given).
    pub fn record(&mut self, at: i64, standings: Vec<Standing>) {
        let standings: Vec<Standing> = standings
            .into_iter()
            .filter(|s| {
                self.target
                    .as_deref()
                    .is_none_or(|t| names_target(t, &s.target))
            })
            .collect();
        if self.steps.len() >= MAX_STEPS {
            self.omitted += 1;
            return;
        }
        self.steps.push(Step { at, standings });
    }

    /// In words: one line per step and target; consecutive steps that read
    /// the same (a target not selected, data missing for an hour) fold into
    /// one line that says until when.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "why: {}", self.rule);
        if let Some(target) = &self.target {
            let _ = writeln!(out, "on {target}");
        }
        let mut run: Option<(i64, i64, Vec<String>)> = None;
        for step in &self.steps {
            let lines = self.lines(step);
            match &mut run {
                Some((_, end, same)) if *same == lines => *end = step.at,
                _ => {
                    if let Some(done) = run.take() {
                        flush(&mut out, done);
                    }
                    run = Some((step.at, step.at, lines));
                }
            }
        }
        if let Some(done) = run {
            flush(&mut out, done);
        }
        if self.omitted > 0 {
            let _ = writeln!(
                out,
                "… and {} more steps (an explanation keeps the first {MAX_STEPS})",
                self.omitted
            );
        }
        out
    }

    fn lines(&self, step: &Step) -> Vec<String> {
        if step.standings.is_empty() {
            return vec![
                "not evaluated: no target selected (or it is protected, or not observed)".into(),
            ];
        }
        step.standings
            .iter()
            .map(|s| match self.target {
                Some(_) => s.describe(),
                None => format!("{}  {}", s.target, s.describe()),
            })
            .collect()
    }
}

fn flush(out: &mut String, (start, end, lines): (i64, i64, Vec<String>)) {
    let clock = |at: i64| Seconds(u64::try_from(at).unwrap_or(0)).spelled();
    for line in lines {
        if end > start {
            let _ = writeln!(
                out,
                "{:>8}  {line} (the same through {})",
                clock(start),
                clock(end)
            );
        } else {
            let _ = writeln!(out, "{:>8}  {line}", clock(start));
        }
    }
}

/// `--explain` during a run: the engine's context for the program of the
/// rule followed, which asks for the rule's standings (only that program
/// pays for them), and what they were.
pub struct Follow {
    program: usize,
    context: Context,
    explanation: Explanation,
}

impl Follow {
    /// Follows `rule` (on `target`, if given) under the run's `context`.
    pub fn new(
        programs: &[Program],
        rule: &RuleRef,
        target: Option<&str>,
        context: &Context,
    ) -> Option<Follow> {
        Some(Follow {
            program: rule.program,
            context: Context {
                explain: rule.explain(),
                ..context.clone()
            },
            explanation: Explanation::new(programs.get(rule.program)?, rule, target),
        })
    }

    /// The context to evaluate the program at `program` with, if it holds
    /// the rule followed.
    pub fn context(&self, program: usize) -> Option<&Context> {
        (program == self.program).then_some(&self.context)
    }

    /// Takes a step's standings out of its evaluations (by program).
    pub fn record(&mut self, at: i64, evaluations: &mut [Evaluation]) {
        if let Some(evaluation) = evaluations.get_mut(self.program) {
            self.explanation
                .record(at, std::mem::take(&mut evaluation.standings));
        }
    }

    pub fn finish(self) -> Explanation {
        self.explanation
    }
}

/// A standing as a failing test's report prints it, with its rule named:
/// `policy p, rule 2: true, held for 2m30s of 3m: …`.
pub fn with_rule(standing: &Standing) -> String {
    format!(
        "policy {}, rule {}: {}",
        standing.policy,
        standing.rule + 1,
        standing.describe()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::compile;
    use crate::safety::SafetyConfig;

    fn programs(sources: &[&str]) -> Vec<Program> {
        sources
            .iter()
            .map(|s| compile(s, &SafetyConfig::default()).program)
            .collect()
    }

    #[test]
    fn rules_are_named_as_the_command_line_numbers_them() {
        let one = "policy a {\n  select pods\n  cooldown 5m\n  when memory_percent > 90 then restart\n}\n";
        let two = "policy b {\n  select pods\n  cooldown 5m\n  when memory_percent > 90 then restart\n  when restarts > 3 then delete\n}\n";
        let both = programs(&[one, two]);
        let at = |spec| resolve(&both, spec).map(|r| (r.program, r.policy, r.rule));
        assert_eq!(at("b:2"), Ok((1, 0, 1)));
        assert_eq!(at("a"), Ok((0, 0, 0)));
        assert!(at("b").unwrap_err().contains("`b:N`"));
        assert!(at("b:3").unwrap_err().contains("2 rule(s)"));
        assert!(at("b:0").unwrap_err().contains("numbered from 1"));
        assert!(at("c:1").unwrap_err().contains("a, b"));
        assert!(at("1").unwrap_err().contains("several policies"));
        let alone = programs(&[two]);
        assert_eq!(resolve(&alone, "2").map(|r| r.rule), Ok(1));
    }

    #[test]
    fn a_failing_test_says_where_the_rule_stood_on_the_expected_target() {
        use crate::sim::unit_test::{parse, render_failure, run};
        let policy = "policy p {\n  select pods where app = \"a\"\n  cooldown 5m\n  when memory_percent > 85 for 1m then restart\n}\n";
        let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/low\n        labels: {app: a}\n        series: {memory_percent: '40x10'}\n      - target: pods/shop/blind\n        labels: {app: a}\n      - target: pods/shop/other\n        labels: {app: b}\n        series: {memory_percent: '95x10'}\n    expect:\n      - at: 30s\n        decisions:\n          - {act: restart, target: pods/shop/low}\n          - {act: restart, target: pods/shop/blind, rule: 1}\n          - {act: restart, target: pods/shop/other, policy: p}\n";
        let file = parse(yaml).expect("a test file");
        let reports = run(&file, policy, "p.skippy", &SafetyConfig::default());
        insta::assert_snapshot!(render_failure(&reports[0].outcome), @r"
        at 30s:
          - expected act: restart on pods/shop/low
          - expected act: restart on pods/shop/blind (rule 1)
          - expected act: restart on pods/shop/other (policy p)
              why: on pods/shop/low: policy p, rule 1: false: memory_percent=40% (not > 85%)
              why: on pods/shop/blind: policy p, rule 1: unknown: no data for memory_percent
              why: on pods/shop/other: no policy evaluated it (not selected, or protected)
          + actual   no decision
        ");
    }
}
