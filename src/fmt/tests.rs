//! Inline fixtures: each input beside its expected canonical text.

use super::*;
use crate::check::compile;
use crate::safety::SafetyConfig;

/// Asserts `input` formats to `expected`, and what every formatting must hold:
/// idempotent, same IR, every comment kept once and in order.
fn check(input: &str, expected: &str) {
    let formatted = format(input).unwrap_or_else(|d| panic!("{input:?} does not parse: {d:?}"));
    assert_eq!(formatted, expected, "formatting {input:?}");
    assert_eq!(
        format(&formatted).ok().as_deref(),
        Some(expected),
        "not idempotent"
    );
    assert_eq!(comments(&formatted), comments(input), "comments changed");
    let config = SafetyConfig::default();
    assert_eq!(
        compile(&formatted, &config).program,
        compile(input, &config).program,
        "the IR changed"
    );
}

fn comments(source: &str) -> Vec<String> {
    syntax::parse(source)
        .file
        .comments
        .iter()
        .map(|c| c.text.trim_end().to_string())
        .collect()
}

#[test]
fn canonical_text_is_left_as_it_is() {
    let canonical = r#"metric error_rate: ratio = promql "sum(rate(x{code=~\"5..\"}[5m]))"

patch debug-logging: merge "{\"spec\":{\"replicas\":1}}"

policy memory-leak-healing {
  select pods in shop where app = "checkout", tier != "db"
  mode auto
  limit 5 per 1h
  cooldown 10m

  when memory_percent > 85 for 3m then restart rolling
  when increase(restarts, 5m) > 3 then patch debug-logging
  when predict(memory_percent, 30m) > 100% for 5m then restart rolling priority 8
  when error_rate > 5% for 2m then ask ai among [restart rolling, scale up 2, rollback]
}
"#;
    check(canonical, canonical);
}

#[test]
fn messy_spacing_becomes_single_spaces() {
    check(
        "metric   e :ratio=promql   \"up\"\npatch p:merge\t\"{}\"\npolicy   a{\n\t  select pods   in shop,web   where app=\"x\" ,k in (\"a\",\"b\")\n        when avg( cpu_percent ,5m )>80%   for 2m then scale   up 2 max 4   priority 3\n}",
        "metric e: ratio = promql \"up\"\n\npatch p: merge \"{}\"\n\npolicy a {\n  select pods in shop, web where app = \"x\", k in (\"a\", \"b\")\n  when avg(cpu_percent, 5m) > 80% for 2m then scale up 2 max 4 priority 3\n}\n",
    );
}

#[test]
fn statements_separated_by_semicolons_get_a_line_each() {
    check(
        "policy a {\n  select pods;mode auto ;  limit 5 per 1h;\n  cooldown 5m;when restarts > 3 then restart;\n}\n",
        "policy a {\n  select pods\n  mode auto\n  limit 5 per 1h\n  cooldown 5m\n  when restarts > 3 then restart\n}\n",
    );
    check(
        "policy a { select pods; when restarts > 3 then delete }\n",
        "policy a {\n  select pods\n  when restarts > 3 then delete\n}\n",
    );
    check(
        "policy a { select pods; };\n;\npatch p: merge \"{}\";  # c\n",
        "policy a {\n  select pods\n}\n\npatch p: merge \"{}\"  # c\n",
    );
}

#[test]
fn declarations_are_separated_by_exactly_one_blank_line() {
    check(
        "\n\n\npatch p: merge \"{}\"\npolicy a {\n  select pods\n}\n\n\n\npolicy b {\n  select pods\n}\n\n\n",
        "patch p: merge \"{}\"\n\npolicy a {\n  select pods\n}\n\npolicy b {\n  select pods\n}\n",
    );
}

#[test]
fn blank_lines_between_statements_keep_the_authors_grouping() {
    check(
        "policy a {\n\n\n  select pods\n  mode auto\n\n\n\n  when restarts > 3 then restart\n  when restarts > 9 then delete\n\n  when ready == false then notify \"x\"\n\n\n}\n",
        "policy a {\n  select pods\n  mode auto\n\n  when restarts > 3 then restart\n  when restarts > 9 then delete\n\n  when ready == false then notify \"x\"\n}\n",
    );
}

#[test]
fn comments_on_their_own_line_stay_before_what_follows() {
    check(
        "# file header\n\n# about e\nmetric e: ratio = promql \"up\"\n  # about a\npolicy a {\n# first\n  select pods\n\n\n    # group two\n    # still group two\n\n  when restarts > 3 then restart\n      # end of body\n\n   # really the end\n}\n# after a\n\n\n# end of file\n",
        "# file header\n\n# about e\nmetric e: ratio = promql \"up\"\n\n# about a\npolicy a {\n  # first\n  select pods\n\n  # group two\n  # still group two\n\n  when restarts > 3 then restart\n  # end of body\n\n  # really the end\n}\n# after a\n\n# end of file\n",
    );
}

#[test]
fn a_comment_between_declarations_goes_with_the_next_one() {
    check(
        "patch p: merge \"{}\"\n# about q\npatch q: merge \"{}\"\n",
        "patch p: merge \"{}\"\n\n# about q\npatch q: merge \"{}\"\n",
    );
}

#[test]
fn trailing_comments_stay_at_the_end_of_their_line() {
    check(
        "metric e: ratio = promql \"up\" # m\npatch p: merge \"{}\"# p\npolicy a {   # header\n  select pods in any # select\n  mode auto; cooldown 5m      # after the semicolon\n  when restarts > 3 then delete\t# ends in an optional part\n  when restarts > 3 then scale up 1 max 3 # scale\n}    # close\n",
        "metric e: ratio = promql \"up\"  # m\n\npatch p: merge \"{}\"  # p\n\npolicy a {  # header\n  select pods in any  # select\n  mode auto\n  cooldown 5m  # after the semicolon\n  when restarts > 3 then delete  # ends in an optional part\n  when restarts > 3 then scale up 1 max 3  # scale\n}  # close\n",
    );
    check(
        "policy a { mode auto; select pods }  # one line\n",
        "policy a {\n  mode auto\n  select pods\n}  # one line\n",
    );
    check("policy a { # header\n}\n", "policy a {  # header\n}\n");
}

#[test]
fn comments_keep_their_text_but_not_trailing_blanks() {
    check(
        "#no space   \n#  two  spaces # and a hash\npolicy a {\n  select pods #\n}\n",
        "#no space\n#  two  spaces # and a hash\npolicy a {\n  select pods  #\n}\n",
    );
}

#[test]
fn a_file_of_comments_only_keeps_them() {
    check(
        "\n\n# one\n\n\n# two\n# three\n\n",
        "# one\n\n# two\n# three\n",
    );
    check("", "");
    check("\n \n\t\n", "");
}

#[test]
fn strings_are_re_escaped_only_where_needed() {
    check(
        r#"metric e: ratio = promql "a{x=~\"5..\", y=~\"a\.b\"} \\ \\\\ \q \\\."
patch p: merge "{\"k\":\"v \\\" w\"}"
policy a {
  select pods where app in ("x\"y", "\\")
  when restarts > 1 then notify "back\\slash at the end\\"
}
"#,
        r#"metric e: ratio = promql "a{x=~\"5..\", y=~\"a\.b\"} \ \\\\ \q \\\\."

patch p: merge "{\"k\":\"v \\\" w\"}"

policy a {
  select pods where app in ("x\"y", "\\")
  when restarts > 1 then notify "back\slash at the end\\"
}
"#,
    );
}

#[test]
fn parentheses_are_kept_as_written() {
    check(
        "policy a {\n  when ( (restarts>3) or not (ready == false and age < 5m) ) and not not status is Error then delete\n}\n",
        "policy a {\n  when ((restarts > 3) or not (ready == false and age < 5m)) and not not status is Error then delete\n}\n",
    );
}

#[test]
fn every_label_match_and_namespace_form() {
    check(
        "policy a {\n  select deployments in shop , web where a = \"1\", b != \"2\", c in (\"3\" , \"4\"), d exists, not e exists\n}\npolicy b {\n  select pods in   any\n}\n",
        "policy a {\n  select deployments in shop, web where a = \"1\", b != \"2\", c in (\"3\", \"4\"), d exists, not e exists\n}\n\npolicy b {\n  select pods in any\n}\n",
    );
}

#[test]
fn every_condition_and_action_form() {
    let canonical = r#"patch p: strategic "{}"

policy a {
  select deployments in shop
  when restarts > 3 then restart
  when restarts >= 3 then restart immediate
  when restarts < 3 then restart rolling
  when restarts <= 3 then delete
  when restarts == 3 then scale up 1
  when restarts != 3 then scale up 1 max 9
  when ready == true then scale down 1
  when ready != false then scale down 2 min 1
  when status is CrashLoopBackOff then scale to 3
  when event BackOff count > 2 within 10m then patch p
  when memory_bytes > 1.5Gi then set memory_limit = 2Gi
  when cpu_cores > 500m then set cpu_limit = current * 1.5 max 4
  when trend(memory_percent, 10m) > 2%/min then rollback
  when age > 1d then cordon
  when age > 1h then drain
  when rate(restarts, 5m) > 0.1 then notify "hi"
  when error_rate > 5% then ask ai
  when unavailable_replicas > 0 then ask ai among [restart rolling, scale up 2, notify "x"]
}
"#;
    check(canonical, canonical);
}

#[test]
fn a_file_with_syntax_errors_is_not_formatted() {
    let errors = format("policy a {\n  when restarts > 3 restart\n}\n").err();
    assert!(errors.is_some_and(|d| !d.is_empty() && d.iter().all(Diagnostic::is_error)));
    assert!(
        format("policy a {\n  select pods\n").is_err(),
        "a missing `}}`"
    );
    assert!(format("notify \"unterminated\n").is_err());
}

#[test]
fn a_file_with_check_errors_still_formats() {
    check(
        "policy Bad {\n  select podz\n  when memroy_percent>85 then frobnicate  12  \"x\"\n}\n",
        "policy Bad {\n  select podz\n  when memroy_percent > 85 then frobnicate  12  \"x\"\n}\n",
    );
}

#[test]
fn windows_line_endings_become_newlines() {
    check(
        "# c\r\npolicy a {\r\n  select pods  # t\r\n\r\n\r\n  mode auto\r\n}\r\n",
        "# c\npolicy a {\n  select pods  # t\n\n  mode auto\n}\n",
    );
}

#[test]
fn a_hand_built_tree_without_parentheses_gets_them_where_meaning_needs_them() {
    let source = "policy a {\n  when (restarts > 3 or age < 1m) and not (ready == true and age > 1h) then delete\n}\n";
    let mut file = syntax::parse(source).file;
    let ast::Item::Policy(policy) = &mut file.items[0] else {
        panic!("a policy");
    };
    let ast::Statement::Rule(rule) = &mut policy.statements[0] else {
        panic!("a rule");
    };
    strip_parens(&mut rule.condition);
    assert_eq!(format_file(&file, source), source);
}

fn strip_parens(cond: &mut ast::Condition) {
    use ast::Condition::*;
    match cond {
        Paren(inner, _) => {
            strip_parens(inner);
            *cond = (**inner).clone();
        }
        Or(a, b) | And(a, b) => {
            strip_parens(a);
            strip_parens(b);
        }
        Not(inner, _) => strip_parens(inner),
        _ => {}
    }
}
