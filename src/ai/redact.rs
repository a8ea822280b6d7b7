//! What never leaves the operator for a model: the values of Secrets and
//! environment variables the operator knows of, tokens, keys, passwords, and
//! whatever the user's redaction patterns match. Applied to every string from
//! the cluster before it goes into a prompt.
//!
//! Invariant: redaction only removes; it never adds text from the input
//! elsewhere, and the marker it leaves ([`MARK`]) matches no pattern, so
//! redacting twice changes nothing.

use regex::Regex;

/// What a redacted value is replaced with.
pub const MARK: &str = "[REDACTED]";

/// Patterns that match credentials in free text whatever the user
/// configured: `key=value` pairs whose key names a secret, bearer tokens,
/// JWTs, PEM private keys, cloud access keys and long base64 or hex blobs
/// (a token's usual shape; nothing a person needs to read is that shape).
const BUILT_IN: &[&str] = &[
    r"(?is)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
    r#"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?|auth)\b(\s*["']?\s*[:=]\s*["']?)[^\s"',;}]+"#,
    r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}",
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    r"\b(AKIA|ASIA)[A-Z0-9]{16}\b",
    r"\b(sk|pk|rk|ghp|gho|ghs|xox[abposr])[-_][A-Za-z0-9_-]{16,}",
    r"\b[A-Za-z0-9+/]{40,}={0,2}",
    r"\b[0-9a-fA-F]{32,}\b",
];

/// The index in [`BUILT_IN`] of the `key=value` pattern.
const KEY_VALUE: usize = 1;

/// A bad user pattern.
#[derive(Debug, thiserror::Error)]
#[error("redaction pattern {pattern:?} is not a valid regular expression: {source}")]
pub struct PatternError {
    pub pattern: String,
    #[source]
    pub source: regex::Error,
}

/// Removes secrets from text.
#[derive(Debug, Clone)]
pub struct Redactor {
    /// Each pattern, and whether it is the `key=value` one whose key is kept.
    patterns: Vec<(Regex, bool)>,
    /// Exact values to remove wherever they appear, longest first so that a
    /// value containing another is removed whole.
    values: Vec<String>,
}

impl Redactor {
    /// The built-in patterns plus `extra` (the user's).
    pub fn new(extra: &[String]) -> Result<Redactor, PatternError> {
        let mut patterns = Vec::with_capacity(BUILT_IN.len() + extra.len());
        for (i, pattern) in BUILT_IN.iter().enumerate() {
            // The built-in patterns are constants that a unit test compiles.
            match Regex::new(pattern) {
                Ok(re) => patterns.push((re, i == KEY_VALUE)),
                Err(source) => {
                    return Err(PatternError {
                        pattern: (*pattern).to_string(),
                        source,
                    })
                }
            }
        }
        for pattern in extra {
            let re = Regex::new(pattern).map_err(|source| PatternError {
                pattern: pattern.clone(),
                source,
            })?;
            patterns.push((re, false));
        }
        Ok(Redactor {
            patterns,
            values: Vec::new(),
        })
    }

    /// Also removes these exact values (a Secret's data, an environment
    /// variable's value the operator read). Values shorter than 4 characters
    /// are ignored: removing every `1` or `on` from a prompt would hide
    /// everything and protect nothing.
    pub fn with_values<I, S>(mut self, values: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.values.extend(
            values
                .into_iter()
                .map(Into::into)
                .filter(|v| v.trim().chars().count() >= 4),
        );
        self.values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        self.values.dedup();
        self
    }

    /// `text` with every secret replaced by [`MARK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MARK);
            }
            // A value also leaks trimmed (a Secret's data often ends in a
            // newline that a log line drops).
            let trimmed = value.trim();
            if trimmed != value && trimmed.chars().count() >= 4 && out.contains(trimmed) {
                out = out.replace(trimmed, MARK);
            }
        }
        for (re, keep_key) in &self.patterns {
            if re.is_match(&out) {
                out = re
                    .replace_all(&out, |caps: &regex::Captures<'_>| {
                        // `key=value`: keep the key, so the reader knows a
                        // value was there and what it was.
                        match (keep_key, caps.get(1), caps.get(2)) {
                            (true, Some(key), Some(sep)) => {
                                format!("{}{}{MARK}", key.as_str(), sep.as_str())
                            }
                            _ => MARK.to_string(),
                        }
                    })
                    .into_owned();
            }
        }
        out
    }
}
