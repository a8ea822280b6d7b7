//! The builder's own bound, tested past the scanner: these trees come
//! straight from pest (on a large stack, as pest recurses per level), as they
//! would if `scan::too_deep` ever let a deep line through.

use super::{items, Unbuilt};
use crate::syntax::ast::{Action, Condition, Item, MetricExpr, Statement};
use crate::syntax::grammar::{Rule, SkippyParser};
use crate::syntax::MAX_DEPTH;
use pest::Parser as _;

/// Builds the one rule of `rule_text`'s policy, bypassing the scanner.
fn build_rule(rule_text: String) -> Result<crate::syntax::ast::Rule, String> {
    let run = move || {
        let text = format!("policy p {{\n  select pods\n  {rule_text}\n}}\n");
        let pair = SkippyParser::parse(Rule::declaration, &text)
            .map_err(|e| format!("pest: {e}"))?
            .next()
            .ok_or("no pair")?;
        match items(pair, 0) {
            Ok(mut items) => match items.pop() {
                Some(Item::Policy(mut policy)) => match policy.statements.pop() {
                    Some(Statement::Rule(rule)) => Ok(rule),
                    other => Err(format!("not a rule: {other:?}")),
                },
                other => Err(format!("not a policy: {other:?}")),
            },
            Err(Unbuilt::TooDeep(span)) => {
                Err(format!("too deep at {}", &text[span.start..span.end]))
            }
            Err(Unbuilt::Bug(span)) => Err(format!("bug at {span:?}")),
        }
    };
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run)
        .expect("spawn")
        .join()
        .expect("no panic")
}

/// How deep a condition nests, counting the root as 1 (by a loop).
fn depth(condition: &Condition) -> usize {
    let mut deepest = 0;
    let mut open = vec![(condition, 1)];
    while let Some((c, d)) = open.pop() {
        deepest = deepest.max(d);
        match c {
            Condition::Or(a, b) | Condition::And(a, b) => {
                open.extend([(&**a, d + 1), (&**b, d + 1)])
            }
            Condition::Not(inner, _) | Condition::Paren(inner, _) => open.push((inner, d + 1)),
            Condition::Compare {
                metric: MetricExpr::Call { .. },
                ..
            } => deepest = deepest.max(d + 1),
            _ => {}
        }
    }
    deepest
}

#[test]
fn trees_up_to_the_bound_are_built() {
    let n = MAX_DEPTH - 1;
    let parens = build_rule(format!(
        "when {}x > 1{} then restart",
        "(".repeat(n),
        ")".repeat(n)
    ));
    assert_eq!(parens.map(|r| depth(&r.condition)), Ok(MAX_DEPTH));
    let chain = build_rule(format!("when x > 1{} then restart", " and x > 1".repeat(n)));
    assert_eq!(chain.map(|r| depth(&r.condition)), Ok(MAX_DEPTH));
    let nots = build_rule(format!("when {}x > 1 then restart", "not ".repeat(n)));
    assert_eq!(nots.map(|r| depth(&r.condition)), Ok(MAX_DEPTH));
}

#[test]
fn deeper_trees_are_refused_where_they_pass_the_bound() {
    let n = MAX_DEPTH;
    for (rule, at) in [
        (
            format!("when {}x > 1{} then restart", "(".repeat(n), ")".repeat(n)),
            "x > 1",
        ),
        (
            format!("when x > 1{} then restart", " and x > 1".repeat(n)),
            "x > 1",
        ),
        (
            format!("when x > 1{} then restart", " or x > 1".repeat(2_000)),
            "x > 1",
        ),
        (
            format!("when {}x > 1 then restart", "not ".repeat(n)),
            "x > 1",
        ),
        (
            format!(
                "when {}x{} > 1 then restart",
                "avg(".repeat(n),
                ", 5m)".repeat(n)
            ),
            "avg(x, 5m)",
        ),
        (
            format!(
                "when x > 1 then {}restart{}",
                "ask ai among [".repeat(n),
                "]".repeat(n)
            ),
            "restart",
        ),
    ] {
        let shape = &rule[..20];
        assert_eq!(
            build_rule(rule.clone()).err(),
            Some(format!("too deep at {at}")),
            "{shape}"
        );
    }
}

#[test]
fn operands_keep_their_order_and_grouping() {
    let rule =
        build_rule("when not (a > 1 or b > 2) and c > 3 or d > 4 then restart".into()).unwrap();
    let Condition::Or(left, right) = &rule.condition else {
        panic!("an `or` at the root: {:?}", rule.condition);
    };
    let Condition::And(not, c) = &**left else {
        panic!("`and` binds tighter than `or`");
    };
    assert!(matches!(&**not, Condition::Not(inner, _) if matches!(&**inner, Condition::Paren(..))));
    let names: Vec<_> = [&**c, &**right]
        .iter()
        .map(|c| match c {
            Condition::Compare {
                metric: MetricExpr::Metric(m),
                ..
            } => m.name.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["c", "d"]);
    let action =
        build_rule("when a > 1 then ask ai among [restart, ask ai among [delete]]".into()).unwrap();
    let Action::AskAi {
        among: Some(among), ..
    } = action.action
    else {
        panic!("ask ai");
    };
    assert!(matches!(
        among.as_slice(),
        [Action::Restart { .. }, Action::AskAi { .. }]
    ));
}
