//! Syntax errors in the user's words: pest reports the rules it tried at the
//! furthest position; this module names them as a person would ("expected `then`
//! after the condition"), says what was found instead, and suggests a keyword
//! when the word found is a typo of one.

use super::grammar::Rule;
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::span::Span;
use pest::error::{ErrorVariant, InputLocation};

/// Words the grammar reserves: no name may be one of them.
pub const RESERVED_WORDS: [&str; 7] = ["when", "then", "for", "and", "or", "not", "priority"];

/// Turns pest's error for `text` (which starts at `offset` in the file) into a
/// diagnostic located in the file.
pub(crate) fn syntax_error(
    error: &pest::error::Error<Rule>,
    text: &str,
    offset: usize,
) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(pos) => pos,
        InputLocation::Span((start, _)) => start,
    };
    if let Some(diagnostic) = unterminated_string(text, pos, offset) {
        return diagnostic;
    }
    let mut positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    positives.sort_by_key(|rule| *rule as usize);
    positives.dedup();

    let found = found_at(text, pos);
    let span = Span::new(pos, pos + found.len()).shifted(offset);
    let expected = describe_all(&positives);
    let at_end = pos >= text.trim_end().len();
    let message = if positives.contains(&Rule::kw_then) {
        "expected `then` after the condition".to_string()
    } else if at_end && positives.contains(&Rule::rbrace) {
        "expected `}` to close the policy".to_string()
    } else {
        format!("expected {expected}")
    };
    let found_text = if found.is_empty() {
        if pos >= text.len() {
            "end of file".to_string()
        } else {
            "end of line".to_string()
        }
    } else {
        format!("`{found}`")
    };
    let mut diagnostic =
        Diagnostic::new(Code::Syntax, span, format!("{message}, found {found_text}"))
            .label(format!("expected {expected} here"));
    let continues_a_rule = ["then", "for", "and", "or", "priority"].contains(&found);
    if positives.contains(&Rule::statement) && continues_a_rule {
        diagnostic = diagnostic.help(format!(
            "a rule fits on one line: join this `{found}` to the line before it"
        ));
    } else if positives.contains(&Rule::ident) && RESERVED_WORDS.contains(&found) {
        diagnostic = diagnostic.help(format!("`{found}` is a reserved word: choose another name"));
    } else if at_end && positives.contains(&Rule::rbrace) {
        diagnostic =
            diagnostic.help("every `{` needs its `}`: add one after the policy's last statement");
    } else if let Some(suggestion) = keyword_suggestion(&positives, found) {
        diagnostic = diagnostic.suggest(suggestion);
    } else if let Some(help) = help_for(&positives) {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}

/// The word or symbol at `pos`, for "found `…`".
fn found_at(text: &str, pos: usize) -> &str {
    let rest = text.get(pos..).unwrap_or("");
    let word_len = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.'))
        .unwrap_or(rest.len());
    if word_len > 0 {
        return &rest[..word_len];
    }
    match rest.chars().next() {
        Some('\n' | '\r') | None => "",
        Some(ch) => &rest[..ch.len_utf8()],
    }
}

fn unterminated_string(text: &str, pos: usize, offset: usize) -> Option<Diagnostic> {
    let rest = text.get(pos..)?;
    if !rest.starts_with('"') {
        return None;
    }
    let line = rest.lines().next().unwrap_or(rest);
    let mut escaped = false;
    for ch in line.chars().skip(1) {
        match ch {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return None,
            _ => {}
        }
    }
    let span = Span::new(pos, pos + line.trim_end_matches('\r').len()).shifted(offset);
    Some(
        Diagnostic::new(Code::UnterminatedString, span, "unterminated string")
            .label("this string has no closing `\"`")
            .help("strings end on the line they start; write `\\\"` for a quote inside a string"),
    )
}

fn describe_all(rules: &[Rule]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for rule in rules {
        for name in describe(*rule) {
            if !names.contains(name) {
                names.push(name);
            }
        }
    }
    match names.as_slice() {
        [] => "something else".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn describe(rule: Rule) -> &'static [&'static str] {
    use Rule::*;
    match rule {
        file | declaration | declaration_item | policy | metric_decl | patch_decl => {
            &["`policy`", "`metric`", "`patch`"]
        }
        kw_policy => &["`policy`"],
        kw_metric => &["`metric`"],
        kw_patch | patch_action => &["`patch`"],
        statement | statement_line => {
            &["a statement (`select`, `mode`, `limit`, `cooldown` or `when`)"]
        }
        sep => &["end of line"],
        EOI => &["end of file"],
        rbrace => &["`}`"],
        lbrace => &["`{`"],
        lparen => &["`(`"],
        rparen => &["`)`"],
        lbracket => &["`[`"],
        rbracket => &["`]`"],
        comma => &["`,`"],
        colon => &["`:`"],
        equals => &["`=`"],
        star => &["`*`"],
        slash => &["`/`"],
        ident => &["a name"],
        namespace => &["a namespace"],
        namespaces => &["a namespace or `any`"],
        label_match | label_absent => &["a label match (`app = \"web\"`)"],
        label_key => &["a label key"],
        label_op | label_compare => &["`=`, `!=`, `in` or `exists`"],
        label_in => &["`in`"],
        reason => &["a reason such as `CrashLoopBackOff`"],
        literal | number => &["a number"],
        suffix | per_unit => &["a unit"],
        boolean => &["`true` or `false`"],
        string | string_body => &["a string"],
        condition | conjunction | negation => &["a condition"],
        comparison | metric_expr | call => &["a metric"],
        status_cond => &["`status`"],
        event_cond => &["`event`"],
        cmp_op => &["a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)"],
        when_rule | kw_when => &["`when`"],
        for_clause | kw_for => &["`for`"],
        priority_clause | kw_priority => &["`priority`"],
        action | unknown_action => &["an action"],
        restart_mode => &["`rolling` or `immediate`"],
        scale_up | kw_up => &["`up`"],
        scale_down | kw_down => &["`down`"],
        scale_to | kw_to => &["`to`"],
        set_value | set_factor => &["a value or `current * FACTOR`"],
        select_stmt | kw_select => &["`select`"],
        mode_stmt | kw_mode => &["`mode`"],
        limit_stmt | kw_limit => &["`limit`"],
        cooldown_stmt | kw_cooldown => &["`cooldown`"],
        kw_promql => &["`promql`"],
        kw_in => &["`in`"],
        kw_any => &["`any`"],
        kw_where => &["`where`"],
        kw_exists => &["`exists`"],
        kw_per => &["`per`"],
        kw_then => &["`then`"],
        kw_and => &["`and`"],
        kw_or => &["`or`"],
        kw_not => &["`not`"],
        kw_status => &["`status`"],
        kw_is => &["`is`"],
        kw_event => &["`event`"],
        kw_count => &["`count`"],
        kw_within => &["`within`"],
        kw_restart | restart_action => &["`restart`"],
        kw_rolling => &["`rolling`"],
        kw_immediate => &["`immediate`"],
        kw_delete | delete_action => &["`delete`"],
        kw_scale | scale_action => &["`scale`"],
        kw_max => &["`max`"],
        kw_min => &["`min`"],
        kw_set | set_action => &["`set`"],
        kw_current => &["`current`"],
        kw_rollback | rollback_action => &["`rollback`"],
        kw_cordon | cordon_action => &["`cordon`"],
        kw_drain | drain_action => &["`drain`"],
        kw_notify | notify_action => &["`notify`"],
        kw_ask | ask_ai_action => &["`ask`"],
        kw_ai => &["`ai`"],
        kw_among => &["`among`"],
        // Only in tests, and never expected by the real rules.
        #[cfg(test)]
        test_lexing | test_line_break | test_code => &[],
        WHITESPACE | COMMENT | ident_char | reserved | value | action_keyword => &[],
    }
}

/// When a keyword was expected and the word found is a typo of one.
fn keyword_suggestion(positives: &[Rule], found: &str) -> Option<&'static str> {
    if found.is_empty() || !found.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut keywords: Vec<&'static str> = Vec::new();
    for &rule in positives {
        use Rule::*;
        match rule {
            statement | statement_line => {
                keywords.extend(["select", "mode", "limit", "cooldown", "when"])
            }
            file | declaration | declaration_item | policy => {
                keywords.extend(["policy", "metric", "patch"])
            }
            _ => keywords.extend(
                describe(rule)
                    .iter()
                    .filter_map(|d| d.strip_prefix('`').and_then(|d| d.strip_suffix('`')))
                    .filter(|d| d.chars().all(|c| c.is_ascii_alphabetic())),
            ),
        }
    }
    closest(found, keywords).filter(|keyword| *keyword != found)
}

fn help_for(positives: &[Rule]) -> Option<String> {
    if positives.contains(&Rule::kw_then) {
        return Some(
            "a rule reads `when CONDITION [for DURATION] then ACTION [priority N]`".into(),
        );
    }
    if positives.contains(&Rule::action) {
        let usages: Vec<String> = crate::catalog::ACTIONS
            .iter()
            .map(|a| format!("`{}`", a.usage))
            .collect();
        return Some(format!("actions: {}", usages.join(", ")));
    }
    if positives.contains(&Rule::condition) || positives.contains(&Rule::negation) {
        return Some(
            "a condition is a comparison (`memory_percent > 85`), `status is REASON` or \
             `event REASON count > N within DURATION`, joined by `and`, `or`, `not`"
                .into(),
        );
    }
    if positives.contains(&Rule::statement) {
        return Some(
            "each statement of a policy ends at the end of its line, at `;` or at `}`".into(),
        );
    }
    None
}
