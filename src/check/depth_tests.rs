//! The checker's own bound on recursion: a tree deeper than
//! [`syntax::MAX_DEPTH`] cannot come from the parser, but one built by hand is
//! refused with the parser's nesting error instead of being recursed into.

use super::check;
use crate::diagnostic::Code;
use crate::safety::SafetyConfig;
use crate::syntax::{self, ast};

/// A policy whose one rule's condition is `not` × `nots` around `memory_percent > 90`.
fn policy_with_nots(nots: usize) -> (ast::File, String) {
    let source = "policy p {\n  select pods\n  cooldown 10m\n  when not memory_percent > 90 then restart\n}\n";
    let mut file = syntax::parse(source).file;
    let ast::Item::Policy(policy) = &mut file.items[0] else {
        panic!("a policy");
    };
    let ast::Statement::Rule(rule) = &mut policy.statements[2] else {
        panic!("a rule");
    };
    let ast::Condition::Not(inner, span) = &rule.condition else {
        panic!("a `not`");
    };
    let (mut condition, span) = ((**inner).clone(), *span);
    for _ in 0..nots {
        condition = ast::Condition::Not(Box::new(condition), span);
    }
    rule.condition = condition;
    (file, source.to_string())
}

/// Takes a deep `not` chain apart one level at a time: the derived `Drop`
/// would recurse once per level.
fn dismantle(mut file: ast::File) {
    let Some(ast::Item::Policy(policy)) = file.items.pop() else {
        return;
    };
    for statement in policy.statements {
        if let ast::Statement::Rule(rule) = statement {
            let mut condition = rule.condition;
            while let ast::Condition::Not(inner, _) = condition {
                condition = *inner;
            }
        }
    }
}

/// The codes of the diagnostics of checking `nots` nested `not`, on a stack
/// of `kib` KiB.
fn codes_on_a_stack_of(kib: usize, nots: usize) -> Vec<Code> {
    std::thread::Builder::new()
        .stack_size(kib << 10)
        .spawn(move || {
            let (file, source) = policy_with_nots(nots);
            let checked = check(&file, &source, &SafetyConfig::default());
            dismantle(file);
            checked.diagnostics.iter().map(|d| d.code).collect()
        })
        .expect("spawn")
        .join()
        .expect("no panic")
}

/// At the bound, checking recurses 160 levels, about 1.3 KiB each in a debug
/// build (a tenth of that optimised): a quarter of a tokio worker's 2 MiB.
#[test]
fn a_tree_at_the_bound_is_checked() {
    assert_eq!(codes_on_a_stack_of(512, syntax::MAX_DEPTH - 1), []);
}

#[test]
fn a_deeper_tree_built_by_hand_is_refused_not_recursed_into() {
    assert_eq!(codes_on_a_stack_of(256, syntax::MAX_DEPTH), [Code::Syntax]);
    assert_eq!(codes_on_a_stack_of(256, 100_000), [Code::Syntax]);
}
