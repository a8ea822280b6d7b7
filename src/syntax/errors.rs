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
    // A clause's `for` looks ahead for `and`, `or` or `)`: a `)` is worth
    // naming only where a bracket is open.
    let line = text.get(..pos).unwrap_or("");
    let line = line.rsplit('\n').next().unwrap_or(line);
    if line.matches('(').count() <= line.matches(')').count() && positives.contains(&Rule::kw_then)
    {
        positives.retain(|rule| *rule != Rule::rparen);
    }

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
    if let Some(near) = near_miss(&positives, text, pos, found, offset) {
        diagnostic = near.apply(diagnostic);
    } else if positives.contains(&Rule::statement) && continues_a_rule {
        diagnostic = diagnostic.help(format!(
            "a rule fits on one line: join this `{found}` to the line before it"
        ));
    } else if positives.contains(&Rule::ident) && RESERVED_WORDS.contains(&found) {
        diagnostic = diagnostic.help(format!("`{found}` is a reserved word: choose another name"));
    } else if at_end && positives.contains(&Rule::rbrace) {
        diagnostic =
            diagnostic.help("every `{` needs its `}`: add one after the policy's last statement");
        // The end of the file says nothing of where the fix goes: point at
        // the brace left open instead.
        if let Some(open) = text.get(..pos).and_then(unclosed_brace) {
            diagnostic.span = Span::new(open, open + 1).shifted(offset);
            diagnostic.label = Some("this `{` is never closed".to_string());
        }
    } else if let Some(suggestion) = keyword_suggestion(&positives, found) {
        diagnostic = diagnostic.suggest(suggestion);
    } else if let Some(help) = help_for(&positives) {
        diagnostic = diagnostic.help(help);
    }
    diagnostic
}

/// A mistake that reads like another language's habit (`=` for `==`,
/// `'…'` for `"…"`, `3 minutes` for `3m`, `policy x:`), and how the
/// diagnostic says so.
struct NearMiss {
    /// Where the fix goes, when not at the token found.
    span: Option<Span>,
    message: Option<String>,
    /// The text that replaces the span: the editor's quick fix.
    replacement: Option<String>,
    help: String,
}

impl NearMiss {
    fn apply(self, mut diagnostic: Diagnostic) -> Diagnostic {
        if let Some(span) = self.span {
            diagnostic.span = span;
        }
        if let Some(message) = self.message {
            diagnostic.message = message;
        }
        if let Some(replacement) = self.replacement {
            diagnostic = diagnostic.suggest(replacement);
        }
        diagnostic.help(self.help)
    }
}

fn near_miss(
    positives: &[Rule],
    text: &str,
    pos: usize,
    found: &str,
    offset: usize,
) -> Option<NearMiss> {
    let rest = text.get(pos..).unwrap_or("");
    let expects_string =
        positives.contains(&Rule::string) || positives.contains(&Rule::string_body);
    if positives.contains(&Rule::cmp_op) && found == "=" && !rest.starts_with("==") {
        return Some(NearMiss {
            span: None,
            message: None,
            replacement: Some("==".into()),
            help: "`=` is not a comparison: equality is `==`".into(),
        });
    }
    // `a and b for 1m for 3m then`: the first `for` was the last clause's
    // only if a bracket closes it, so the second has nowhere to go.
    let after_for = text
        .get(..pos)
        .unwrap_or("")
        .trim_end()
        .rsplit_once(char::is_whitespace)
        .is_some_and(|(before, _)| before.trim_end().ends_with(" for"));
    if positives.contains(&Rule::kw_then) && found == "for" && after_for {
        return Some(NearMiss {
            span: None,
            message: Some("a second `for` before `then`".into()),
            replacement: None,
            help: "a `for` right before `then` times the whole condition; to time the last clause alone as well, bracket it: `a and (b for 1m) for 3m`".into(),
        });
    }
    if positives.contains(&Rule::cmp_op) && found == "is" {
        return Some(NearMiss {
            span: None,
            message: None,
            replacement: Some("==".into()),
            help: "`is` is for `status is REASON`; a metric is compared with `==`, as in `ready == false`".into(),
        });
    }
    if expects_string && found == "'" {
        let line = rest.lines().next().unwrap_or(rest);
        let close = line[1..].find('\'')? + 1;
        let quoted = format!("\"{}\"", line[1..close].replace('"', "\\\""));
        return Some(NearMiss {
            span: Some(Span::new(pos, pos + close + 1).shifted(offset)),
            message: Some(format!("expected a string, found `{}`", &line[..=close])),
            help: format!("strings are in double quotes: `{quoted}`"),
            replacement: Some(quoted),
        });
    }
    if positives.contains(&Rule::lbrace) && found == ":" {
        return Some(NearMiss {
            span: None,
            message: None,
            replacement: None,
            help: "a policy's statements go in braces: `policy NAME {`, one statement a line, then `}`".into(),
        });
    }
    // `3 minutes`, `3 m`: a duration's unit apart from its number.
    let unit = duration_word(found)?;
    let before = text.get(..pos)?.trim_end_matches([' ', '\t']);
    if before.len() == pos {
        return None;
    }
    // Counted in bytes from the end: the digits are ASCII, whatever precedes
    // them may not be (a byte past a multi-byte character is no boundary).
    let number_start = before.len()
        - before
            .bytes()
            .rev()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
    let number = &before[number_start..];
    if !number.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let fixed = format!("{number}{unit}");
    Some(NearMiss {
        span: Some(Span::new(number_start, pos + found.len()).shifted(offset)),
        message: None,
        help: format!("a unit goes on its number, with no space and in short: `{fixed}`"),
        replacement: Some(fixed),
    })
}

/// The short unit of a duration written as a word (`minutes`) or apart from
/// its number (`3 m`).
fn duration_word(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "ms" | "millisecond" | "milliseconds" => "ms",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "d" | "day" | "days" => "d",
        _ => return None,
    })
}

/// The offset of the last `{` of `text` that no `}` closes, as the grammar
/// lexes it: braces in strings and comments do not count.
fn unclosed_brace(text: &str) -> Option<usize> {
    let mut open: Vec<usize> = Vec::new();
    let mut chars = text.char_indices();
    while let Some((i, ch)) = chars.next() {
        match ch {
            '{' => open.push(i),
            '}' => {
                open.pop();
            }
            '#' => {
                for (_, c) in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '"' => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' | '\r' => break,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    open.pop()
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
        condition | conjunction | clause | negation => &["a condition"],
        comparison | paren_expr | call => &["a metric"],
        // Where a side of a comparison or an operand is expected, a number
        // is as welcome as a metric.
        metric_expr | term => &["a number", "a metric"],
        // Arithmetic may follow any operand, but a comparison is what a
        // condition lacks when one is missing: naming `+ - * /` there would
        // bury the likely fix.
        add_op | mul_op => &[],
        status_cond | status_was => &["`status`"],
        event_cond => &["`event`"],
        cmp_op => &["a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)"],
        when_rule | kw_when => &["`when`"],
        for_clause | clause_for | kw_for => &["`for`"],
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
        kw_was => &["`was`"],
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
        kw_rerun | rerun_action => &["`rerun`"],
        kw_expand | expand_action => &["`expand`"],
        kw_notify | notify_action => &["`notify`"],
        kw_ask | ask_ai_action => &["`ask`"],
        kw_ai => &["`ai`"],
        kw_among => &["`among`"],
        kw_unbounded => &["`unbounded`"],
        kw_counter => &["`counter`"],
        // Only in tests, and never expected by the real rules.
        #[cfg(test)]
        test_lexing | test_line_break | test_code => &[],
        WHITESPACE | COMMENT | ident_char | reserved | action_keyword | factor | call_arg => &[],
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
            "a condition is a comparison (`memory_percent > 85`), `status is REASON`, \
             `status was REASON within DURATION` or `event REASON count > N within DURATION`, \
             joined by `and`, `or`, `not`"
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
