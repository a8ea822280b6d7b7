//! Syntax errors that point where the fix goes and name it: each mistake a
//! newcomer makes from another language's habits, with the diagnostic a user
//! then reads (snapshotted) and the fix an editor applies.

use kubeskippy::check::compile;
use kubeskippy::diagnostic::render;
use kubeskippy::safety::SafetyConfig;

/// The one diagnostic of `source`, rendered, and the text its quick fix
/// would leave.
fn only(source: &str) -> (String, Option<String>) {
    let compiled = compile(source, &SafetyConfig::default());
    let [d] = compiled.diagnostics.as_slice() else {
        panic!("one diagnostic expected: {:#?}", compiled.diagnostics);
    };
    assert_eq!(d.code.as_str(), "E0001", "{d:#?}");
    let fixed = d.suggestion.as_ref().map(|s| {
        let mut text = source.to_string();
        text.replace_range(s.span.start..s.span.end, &s.replacement);
        text
    });
    (
        render(&compiled.diagnostics, "aim.skippy", source, false),
        fixed,
    )
}

fn policy(body: &str) -> String {
    format!("policy a {{\n  select pods in shop\n  cooldown 5m\n{body}\n}}\n")
}

#[test]
fn an_unclosed_brace_is_pointed_at_not_the_end_of_the_file() {
    let source = "policy a {\n  select pods\n  cooldown 5m\n  when restarts > 3 then restart\n";
    let (rendered, _) = only(source);
    insta::assert_snapshot!("aim_unclosed_brace", rendered);
    assert!(rendered.contains("aim.skippy:1:10"), "{rendered}");
}

#[test]
fn an_unclosed_brace_ignores_braces_in_strings_and_comments() {
    let source = "patch p: merge \"{\\\"a\\\": 1}\"\npolicy a { # }\n  select deployments\n  cooldown 5m\n  when restarts > 3 then patch p\n";
    let (rendered, _) = only(source);
    assert!(rendered.contains("aim.skippy:2:10"), "{rendered}");
}

#[test]
fn single_quotes_suggest_double_quotes() {
    let source = policy("  when restarts > 3 then notify 'checkout restarts'");
    let (rendered, fixed) = only(&source);
    insta::assert_snapshot!("aim_single_quotes", rendered);
    let fixed = fixed.expect("a quick fix");
    assert!(fixed.contains("notify \"checkout restarts\""), "{fixed}");
    assert!(!compile(&fixed, &SafetyConfig::default()).has_errors());
}

#[test]
fn a_single_equals_suggests_double_equals() {
    let (rendered, fixed) = only(&policy("  when memory_percent = 85 then restart"));
    insta::assert_snapshot!("aim_single_equals", rendered);
    assert!(fixed.expect("a quick fix").contains("memory_percent == 85"));
}

#[test]
fn is_false_suggests_double_equals() {
    let (rendered, fixed) = only(&policy("  when ready is false then restart"));
    insta::assert_snapshot!("aim_is_false", rendered);
    assert!(fixed.expect("a quick fix").contains("ready == false"));
}

#[test]
fn a_unit_apart_from_its_number_goes_on_it() {
    let (rendered, fixed) = only(&policy(
        "  when memory_percent > 85 for 3 minutes then restart",
    ));
    insta::assert_snapshot!("aim_unit_apart", rendered);
    let fixed = fixed.expect("a quick fix");
    assert!(fixed.contains("for 3m then"), "{fixed}");
    assert!(!compile(&fixed, &SafetyConfig::default()).has_errors());
    for (written, short) in [("10 s", "10s"), ("2 hours", "2h"), ("1.5 min", "1.5m")] {
        let (_, fixed) = only(&policy(&format!(
            "  when restarts > 3 for {written} then restart"
        )));
        assert!(
            fixed
                .expect("a quick fix")
                .contains(&format!("for {short} ")),
            "{written}"
        );
    }
}

#[test]
fn a_unit_word_after_a_multibyte_character_is_no_duration() {
    // Found by `fuzz/run`: the digits before a unit word were sought by
    // byte, and a byte order mark ends in a byte that is no char boundary.
    for before in ["\u{feff}", "é"] {
        let source = format!("policy a {{\n  select nodes\n{before} m\n}}\n");
        let compiled = compile(&source, &SafetyConfig::default());
        let [d] = compiled.diagnostics.as_slice() else {
            panic!("one diagnostic: {:#?}", compiled.diagnostics);
        };
        assert_eq!(d.code.as_str(), "E0001", "{before}");
        assert!(
            d.suggestion.is_none(),
            "no number, no duration to fix: {d:#?}"
        );
        let rendered = render(&compiled.diagnostics, "aim.skippy", &source, false);
        assert!(rendered.contains("aim.skippy:3:"), "{rendered}");
    }
}

#[test]
fn a_colon_after_the_policy_name_says_the_body_is_in_braces() {
    let (rendered, _) = only("policy x:\n  select pods\n  when restarts > 3 then restart\n");
    insta::assert_snapshot!("aim_policy_colon", rendered);
    assert!(rendered.contains("braces"), "{rendered}");
}
