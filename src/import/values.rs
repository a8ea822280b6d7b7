//! The seed's scalar values read as Skippy writes them: Go durations as
//! Skippy durations, numbers as literals, names as Skippy names.

/// A Go duration (`metav1.Duration`: `90s`, `1h30m`, `1.5h`, `500ms`) in
/// seconds; `None` when it is not one.
pub fn go_duration(text: &str) -> Option<f64> {
    let text = text.trim();
    if text == "0" {
        return Some(0.0);
    }
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * seconds;
    }
    total.is_finite().then_some(total)
}

/// Whole seconds as a Skippy duration, in the largest unit that keeps it
/// whole: `90m`, not `5400s`.
pub fn duration(seconds: u64) -> String {
    match seconds {
        0 => "0s".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// A number as a Skippy literal: `85`, `0.1`, `-2`. Rust's `Display` of
/// an `f64` never writes an exponent, which Skippy does not read.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        return format!("{}", value as i64);
    }
    format!("{value}")
}

/// Words a Skippy name may not be.
const RESERVED: &[&str] = &["when", "then", "for", "and", "or", "not", "priority"];

/// `text` as a Skippy name (`[a-z][a-z0-9_-]*`, not reserved): lowercase,
/// with any other character as `sep`, and `prefix` before a name that does
/// not start with a letter.
pub fn name(text: &str, sep: char, prefix: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with(sep) {
            out.push(sep);
        }
    }
    let out = out.trim_matches(sep).to_string();
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) || RESERVED.contains(&out.as_str()) {
        return if out.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}{sep}{out}")
        };
    }
    out
}

/// `text` inside a Skippy string: `"` and `\` escaped.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // A string ends on its line.
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("2m"), Some(120.0));
        assert_eq!(go_duration("1h30m"), Some(5400.0));
        assert_eq!(go_duration("1.5h"), Some(5400.0));
        assert_eq!(go_duration("500ms"), Some(0.5));
        assert_eq!(go_duration("5m0s"), Some(300.0));
        assert_eq!(go_duration("5 minutes"), None);
        assert_eq!(go_duration("2d"), None);
        assert_eq!(go_duration(""), None);
    }

    #[test]
    fn skippy_spellings() {
        assert_eq!(duration(5400), "90m");
        assert_eq!(duration(7200), "2h");
        assert_eq!(duration(45), "45s");
        assert_eq!(number(85.0), "85");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(1e-7), "0.0000001");
        assert_eq!(
            name("Memory Leak_Healing", '-', "policy"),
            "memory-leak-healing"
        );
        assert_eq!(name("99-problems", '-', "policy"), "policy-99-problems");
        assert_eq!(name("for", '_', "m"), "m_for");
        assert_eq!(string("a \"b\" \\ c"), "\"a \\\"b\\\" \\\\ c\"");
    }
}
