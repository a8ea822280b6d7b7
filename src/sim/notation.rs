//! The compact series notation of policy unit tests, after the `input_series`
//! of Prometheus' `promtool test rules`: one point per evaluation interval,
//! written as space-separated tokens.
//!
//! | token     | points                                   |
//! |-----------|------------------------------------------|
//! | `85`      | the value 85 (`-1.5`, `0.05`, `1e3` too) |
//! | `_`       | a missing sample                         |
//! | `stale`   | the series went stale                    |
//! | `A+BxN`   | A, A+B, A+2B, …, A+N·B (N+1 points)      |
//! | `A-BxN`   | A, A-B, …, A-N·B (N+1 points)            |
//! | `AxN`     | A repeated N+1 times (`A+0xN`)           |
//! | `_xN`     | N missing samples                        |
//! | `stalexN` | N stale points                           |
//!
//! `AxN` gives N+1 points but `_xN` gives N, as in promtool: `AxN` reads "A,
//! then N more", while a missing sample has nothing to continue from. So
//! `'50+5x10'` is 11 points from 50 to 100, and `'0 0 1 _ 3'` is five.
//!
//! Parsing never panics and never allocates without bound: a count above
//! [`MAX_REPEAT`] or a series above [`MAX_POINTS`] is an error, so a typo
//! (`1x1000000000`) cannot ask for gigabytes.

use std::fmt;
use std::ops::Range;

/// The largest `N` of one `…xN` token.
pub const MAX_REPEAT: u64 = 100_000;

/// The most points one series may expand to (a week at 15 s is 40,320).
pub const MAX_POINTS: usize = 1_000_000;

/// One evaluation interval of an input series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// A sample, in the metric's canonical unit; always finite.
    Value(f64),
    /// No sample in this interval (`_`): the metric is unknown here.
    Missing,
    /// The series went stale (`stale`): no sample, and the series is marked
    /// stale, like a Prometheus stale marker after a target disappears.
    Stale,
}

impl fmt::Display for Point {
    /// The token that parses back to this point. Rust prints an `f64` with the
    /// shortest digits that read back to the same number, so values
    /// round-trip exactly.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::Value(value) => write!(f, "{value}"),
            Point::Missing => f.write_str("_"),
            Point::Stale => f.write_str("stale"),
        }
    }
}

/// Writes points one token each, space-separated: the expanded form of a
/// series, which [`parse`] reads back to the same points.
pub fn expand_to_string(points: &[Point]) -> String {
    let tokens: Vec<String> = points.iter().map(Point::to_string).collect();
    tokens.join(" ")
}

/// A token that is not valid notation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{token}` (column {column}): {kind}")]
pub struct NotationError {
    /// The 1-based byte column where the token starts in the series text.
    pub column: usize,
    /// The whole token, as written.
    pub token: String,
    /// What is wrong with it.
    pub kind: NotationErrorKind,
}

impl NotationError {
    /// The token's byte range in the series text, to underline it.
    pub fn range(&self) -> Range<usize> {
        let start = self.column.saturating_sub(1);
        start..start + self.token.len()
    }
}

/// What is wrong with a token; the message names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotationErrorKind {
    #[error("expected a number, `_`, `stale` or a series like `50+5x10`")]
    Unrecognized,
    #[error("values are finite numbers; write `_` for a missing sample")]
    NotFinite,
    #[error("the number is too large")]
    NumberTooLarge,
    #[error("unexpected `{rest}` after `{number}`; values are plain numbers in the metric's unit")]
    Trailing { number: String, rest: String },
    #[error("expected a number after `{0}`")]
    ExpectedStep(char),
    #[error("expected `x` and a count after `{0}` (like `{0}x10`)")]
    ExpectedRepeat(String),
    #[error("expected a whole number after `x` (like `x10`)")]
    ExpectedCount,
    #[error("the count is too large: at most {MAX_REPEAT}")]
    CountTooLarge,
    #[error("`{0}` repeats as `{0}xN`, without a step")]
    StepOnSpecial(&'static str),
    #[error("the series is too long: at most {MAX_POINTS} points")]
    TooManyPoints,
    #[error("the values leave the range of 64-bit numbers")]
    Overflow,
}

/// Expands a series written in the notation into its points.
pub fn parse(text: &str) -> Result<Vec<Point>, NotationError> {
    let mut points = Vec::new();
    for (start, token) in tokens(text) {
        expand(token, &mut points).map_err(|kind| NotationError {
            column: start + 1,
            token: token.to_string(),
            kind,
        })?;
    }
    Ok(points)
}

/// The whitespace-separated tokens of `text` with their byte offsets.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut offset = 0;
    std::iter::from_fn(move || {
        let trimmed = rest.trim_start();
        offset += rest.len() - trimmed.len();
        if trimmed.is_empty() {
            return None;
        }
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        let (token, after) = trimmed.split_at(end);
        let start = offset;
        offset += end;
        rest = after;
        Some((start, token))
    })
}

/// Appends the points of one token.
fn expand(token: &str, points: &mut Vec<Point>) -> Result<(), NotationErrorKind> {
    for (word, point) in [("_", Point::Missing), ("stale", Point::Stale)] {
        if let Some(rest) = token.strip_prefix(word) {
            if rest.is_empty() {
                return push(points, point, 1);
            }
            if let Some(count) = rest.strip_prefix('x') {
                return push(points, point, count_of(count)?);
            }
            if rest.starts_with(['+', '-']) {
                return Err(NotationErrorKind::StepOnSpecial(word));
            }
        }
    }
    let Some(length) = number_length(token, true) else {
        let word = token.trim_start_matches(['+', '-']).to_ascii_lowercase();
        return Err(match word.as_str() {
            "inf" | "infinity" | "nan" => NotationErrorKind::NotFinite,
            _ => NotationErrorKind::Unrecognized,
        });
    };
    let (number, rest) = token.split_at(length);
    let start = value_of(number)?;
    if rest.is_empty() {
        return push(points, Point::Value(start), 1);
    }
    if let Some(count) = rest.strip_prefix('x') {
        // `AxN` is A, then N more: N + 1 points.
        let count = count_of(count)?.saturating_add(1);
        return push(points, Point::Value(start), count);
    }
    let signed = ['+', '-']
        .into_iter()
        .find_map(|sign| rest.strip_prefix(sign).map(|after| (sign, after)));
    let Some((sign, after_sign)) = signed else {
        return Err(NotationErrorKind::Trailing {
            number: number.to_string(),
            rest: rest.to_string(),
        });
    };
    // The step is unsigned: `5+-1x3` is more likely a typo than a wish.
    let Some(step_length) = number_length(after_sign, false) else {
        return Err(NotationErrorKind::ExpectedStep(sign));
    };
    let (step, rest) = after_sign.split_at(step_length);
    let Some(count) = rest.strip_prefix('x') else {
        let written = token.strip_suffix(rest).unwrap_or(token);
        return Err(NotationErrorKind::ExpectedRepeat(written.to_string()));
    };
    let count = count_of(count)?;
    let step = value_of(step)?;
    let step = if sign == '-' { -step } else { step };
    reserve(points, count.saturating_add(1))?;
    for i in 0..=count {
        // A + i·B rather than adding B N times: no rounding error piles up,
        // so `0+0.1x30` ends on 3, not 3.0000000000000013.
        let value = start + step * i as f64;
        if !value.is_finite() {
            return Err(NotationErrorKind::Overflow);
        }
        points.push(Point::Value(value));
    }
    Ok(())
}

/// Appends `count` copies of `point`.
fn push(points: &mut Vec<Point>, point: Point, count: u64) -> Result<(), NotationErrorKind> {
    let count = reserve(points, count)?;
    points.extend(std::iter::repeat_n(point, count));
    Ok(())
}

/// Checks that `count` more points keep the series within [`MAX_POINTS`].
fn reserve(points: &[Point], count: u64) -> Result<usize, NotationErrorKind> {
    usize::try_from(count)
        .ok()
        .filter(|&count| count <= MAX_POINTS.saturating_sub(points.len()))
        .ok_or(NotationErrorKind::TooManyPoints)
}

/// The `N` of `…xN`: a whole number up to [`MAX_REPEAT`].
fn count_of(digits: &str) -> Result<u64, NotationErrorKind> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NotationErrorKind::ExpectedCount);
    }
    // All digits, so the only parse failure left is overflow.
    match digits.parse::<u64>() {
        Ok(count) if count <= MAX_REPEAT => Ok(count),
        _ => Err(NotationErrorKind::CountTooLarge),
    }
}

/// A number checked by [`number_length`], as a finite `f64`.
fn value_of(number: &str) -> Result<f64, NotationErrorKind> {
    match number.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        Ok(_) => Err(NotationErrorKind::NumberTooLarge),
        // `number_length` only accepts what `f64::from_str` reads.
        Err(_) => Err(NotationErrorKind::Unrecognized),
    }
}

/// The length of the decimal number at the start of `text`, if there is one:
/// an optional sign (when `signed`), digits with an optional fraction, and an
/// optional exponent. Scanned by hand rather than left to `f64::from_str`,
/// which would also take `inf` and `NaN`, and which cannot say where a number
/// ends and a step (`1e3+5x2`, `1-2x4`) begins.
fn number_length(text: &str, signed: bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let digits_from = |i: usize| {
        bytes.get(i..).map_or(0, |rest| {
            rest.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let mut i = 0;
    if signed && matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let whole = digits_from(i);
    i += whole;
    let mut fraction = 0;
    if bytes.get(i) == Some(&b'.') {
        fraction = digits_from(i + 1);
        i += 1 + fraction;
    }
    if whole + fraction == 0 {
        return None;
    }
    // An exponent only when digits follow: in `5ex2` the number is `5`.
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
        let exponent = digits_from(i + 1 + sign);
        if exponent > 0 {
            i += 1 + sign + exponent;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests;
