//! Literals to numbers in canonical units. The unit of a literal comes from the
//! place it stands in: `500m` is 500 minutes where a duration is expected and
//! half a core where cores are, and an error where neither fits.

// A literal's error is a whole Diagnostic: errors are the rare path, built once
// and moved once, so boxing them would only add noise.
#![allow(clippy::result_large_err)]

use crate::catalog::{Unit, BYTE_SUFFIXES};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Seconds, Type};
use crate::syntax::ast::Literal;

pub(crate) const DURATIONS: &[(&str, u64)] = &[
    ("s", 1),
    ("m", 60),
    ("h", 3_600),
    ("d", 86_400),
    ("w", 604_800),
];

/// Spellings people reach for, and the suffix Skippy uses instead.
const ALIASES: &[(&str, &str)] = &[
    ("sec", "s"),
    ("secs", "s"),
    ("second", "s"),
    ("seconds", "s"),
    ("min", "m"),
    ("mins", "m"),
    ("minute", "m"),
    ("minutes", "m"),
    ("hr", "h"),
    ("hrs", "h"),
    ("hour", "h"),
    ("hours", "h"),
    ("day", "d"),
    ("days", "d"),
    ("KB", "k"),
    ("MB", "M"),
    ("GB", "G"),
    ("TB", "T"),
    ("KiB", "Ki"),
    ("MiB", "Mi"),
    ("GiB", "Gi"),
    ("TiB", "Ti"),
    ("pct", "%"),
    ("percent", "%"),
];

/// Per-time units of a rate (`2%/min`), in seconds.
const PER_UNITS: &[(&str, f64)] = &[
    ("s", 1.0),
    ("sec", 1.0),
    ("m", 60.0),
    ("min", 60.0),
    ("h", 3_600.0),
    ("hour", 3_600.0),
    ("d", 86_400.0),
    ("day", 86_400.0),
];

/// What a literal looks like on its own, for "found …" in messages.
pub(crate) fn looks_like(lit: &Literal) -> String {
    let text = lit.text();
    if lit.per.is_some() {
        return format!("the rate `{text}`");
    }
    match lit.suffix.as_deref() {
        None => format!("the number `{text}`"),
        Some("%") => format!("the percent `{text}`"),
        Some("m") => format!("the duration `{text}`"),
        Some(s) if DURATIONS.iter().any(|(d, _)| *d == s) => format!("the duration `{text}`"),
        Some(s) if BYTE_SUFFIXES.iter().any(|(b, _)| *b == s) => {
            format!("the byte quantity `{text}`")
        }
        Some(_) => format!("`{text}`"),
    }
}

fn number(lit: &Literal) -> Result<f64, Diagnostic> {
    lit.number
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .ok_or_else(|| {
            Diagnostic::new(
                Code::OutOfRange,
                lit.span,
                format!("`{}` is not a number Skippy can represent", lit.number),
            )
        })
}

/// The unknown-suffix error, with the suffix Skippy uses when the one written is
/// a common alias (`5min` → `5m`, `1GB` → `1G`).
fn unknown_suffix(lit: &Literal, suffix: &str, expected: &str) -> Diagnostic {
    if let Some(d) = exponent(lit, suffix) {
        return d;
    }
    let d = Diagnostic::new(
        Code::UnknownUnit,
        lit.span,
        format!("unknown unit `{suffix}` in `{}`", lit.text()),
    )
    .label(format!("expected {expected}"));
    match ALIASES.iter().find(|(alias, _)| *alias == suffix) {
        Some((_, canonical)) => d.suggest(format!("{}{canonical}", lit.number)),
        None => d.help(format!("write {expected}")),
    }
}

/// `1e9`: Skippy has no exponents (Kubernetes quantities use suffixes).
fn exponent(lit: &Literal, suffix: &str) -> Option<Diagnostic> {
    let digits = suffix.strip_prefix(['e', 'E'])?;
    let power: i32 = digits.parse().ok().filter(|p: &i32| (0..=18).contains(p))?;
    let value = lit.number.parse::<f64>().ok()? * 10f64.powi(power);
    let d = Diagnostic::new(
        Code::UnknownUnit,
        lit.span,
        format!(
            "`{}` is written with an exponent, which Skippy does not read",
            lit.text()
        ),
    )
    .label("no exponents");
    Some(if value.fract() == 0.0 && value.abs() < 1e18 {
        d.suggest(format!("{}", value as i64)).help(format!(
            "write `{}`, or a quantity suffix such as `1G` for bytes",
            value as i64
        ))
    } else {
        d.help("write the number in full, or with a quantity suffix such as `1G` or `500m`")
    })
}

fn mismatch(lit: &Literal, expected: Type, subject: Option<&str>) -> Diagnostic {
    let wanted = match expected {
        Type::Scalar(unit) => unit.described().to_string(),
        Type::Rate(unit) => format!("a rate of {} per time", unit.keyword()),
    };
    let example = match expected {
        Type::Scalar(unit) => unit.example().to_string(),
        Type::Rate(Unit::Percent) => "`2%/min`".to_string(),
        Type::Rate(Unit::Bytes) => "`10Mi/m`".to_string(),
        Type::Rate(_) => "`0.5/s` or `3/min`".to_string(),
    };
    let mut d = Diagnostic::new(
        Code::UnitMismatch,
        lit.span,
        format!("expected {wanted}, found {}", looks_like(lit)),
    )
    .label(format!("this should be {wanted}"))
    .help(format!("write {example}"));
    if let Some(subject) = subject {
        d.label = Some(format!("{subject} is {wanted}"));
    }
    d
}

/// The value of `lit` in the canonical form of `ty`. `subject` names what the
/// literal is compared with, for the label ("`memory_percent` is a percent").
pub(crate) fn resolve(lit: &Literal, ty: Type, subject: Option<&str>) -> Result<f64, Diagnostic> {
    match ty {
        Type::Scalar(unit) => {
            if lit.per.is_some() {
                return Err(mismatch(lit, ty, subject));
            }
            scalar(lit, unit, subject)
        }
        Type::Rate(unit) => {
            let Some(per) = lit.per.as_deref() else {
                return Err(mismatch(lit, ty, subject));
            };
            let Some((_, seconds)) = PER_UNITS.iter().find(|(p, _)| *p == per) else {
                return Err(Diagnostic::new(
                    Code::UnknownUnit,
                    lit.span,
                    format!("unknown time unit `/{per}` in `{}`", lit.text()),
                )
                .help("a rate is per `s`, `min`, `h` or `d`, as in `2%/min`"));
            };
            // A rate of a count need not be whole: `0.5/s`.
            let value = match (unit, lit.suffix.as_deref()) {
                (Unit::Count, None) => number(lit)?,
                _ => scalar(lit, unit, subject)?,
            };
            Ok(value / seconds)
        }
    }
}

fn scalar(lit: &Literal, unit: Unit, subject: Option<&str>) -> Result<f64, Diagnostic> {
    let n = number(lit)?;
    let suffix = lit.suffix.as_deref();
    let ty = Type::Scalar(unit);
    match (unit, suffix) {
        (Unit::Percent, None | Some("%")) => Ok(n),
        (Unit::Ratio, None) => Ok(n),
        (Unit::Ratio, Some("%")) => Ok(n / 100.0),
        (Unit::Count, None) => whole(lit, n).map(|w| w as f64),
        (Unit::Bytes, None) => Ok(n),
        (Unit::Bytes, Some(s)) => match BYTE_SUFFIXES.iter().find(|(b, _)| *b == s) {
            Some((_, factor)) => Ok(n * factor),
            None if s == "m" || s == "%" || DURATIONS.iter().any(|(d, _)| *d == s) => {
                Err(mismatch(lit, ty, subject))
            }
            None => Err(unknown_suffix(
                lit,
                s,
                "a byte quantity such as `512Mi` or `2Gi`",
            )),
        },
        (Unit::Cores, None) => Ok(n),
        (Unit::Cores, Some("m")) => Ok(n / 1000.0),
        (Unit::Duration, _) => duration_threshold(lit, n),
        (Unit::Percent | Unit::Ratio | Unit::Count | Unit::Cores | Unit::Bool, Some(s))
            if !is_known_suffix(s) =>
        {
            Err(unknown_suffix(lit, s, unit.example()))
        }
        _ => Err(mismatch(lit, ty, subject)),
    }
}

fn is_known_suffix(s: &str) -> bool {
    s == "%"
        || s == "m"
        || DURATIONS.iter().any(|(d, _)| *d == s)
        || BYTE_SUFFIXES.iter().any(|(b, _)| *b == s)
}

/// A duration literal: `for`, `within`, `cooldown`, windows.
pub(crate) fn duration(lit: &Literal) -> Result<Seconds, Diagnostic> {
    if lit.per.is_some() {
        return Err(expected_duration(lit));
    }
    duration_value(lit, number(lit)?)
}

fn expected_duration(lit: &Literal) -> Diagnostic {
    let d = Diagnostic::new(
        Code::ExpectedDuration,
        lit.span,
        format!("expected a duration, found {}", looks_like(lit)),
    )
    .label("this should be a duration");
    if lit.suffix.is_none() && lit.per.is_none() {
        d.suggest(format!("{}m", lit.number)).help(format!(
            "add a unit: `{0}s`, `{0}m`, `{0}h` or `{0}d`",
            lit.number
        ))
    } else {
        d.help("write a duration such as `30s`, `5m`, `1h` or `1d`")
    }
}

/// A duration compared with a duration metric, in seconds: there a fraction of
/// a second (`0.5s`) and milliseconds (`500ms`) make sense, as for a latency;
/// `for`, `within`, `cooldown` and windows stay whole seconds, the engine's
/// precision.
fn duration_threshold(lit: &Literal, n: f64) -> Result<f64, Diagnostic> {
    let size = match lit.suffix.as_deref() {
        Some("ms") => 0.001,
        Some(suffix) => match DURATIONS.iter().find(|(d, _)| *d == suffix) {
            Some((_, size)) => *size as f64,
            None => return duration_value(lit, n).map(|s| s.0 as f64),
        },
        None => return duration_value(lit, n).map(|s| s.0 as f64),
    };
    let seconds = n * size;
    if seconds < 0.0 {
        return Err(Diagnostic::new(
            Code::OutOfRange,
            lit.span,
            format!("a duration cannot be negative, found `{}`", lit.text()),
        ));
    }
    Ok(seconds)
}

fn duration_value(lit: &Literal, n: f64) -> Result<Seconds, Diagnostic> {
    let Some(suffix) = lit.suffix.as_deref() else {
        return Err(expected_duration(lit));
    };
    let Some((_, size)) = DURATIONS.iter().find(|(d, _)| *d == suffix) else {
        if suffix == "ms" {
            return Err(Diagnostic::new(
                Code::OutOfRange,
                lit.span,
                format!("`{}` is shorter than a second", lit.text()),
            )
            .help("`for`, `within`, `cooldown` and windows are whole seconds; milliseconds are only for comparisons with a duration metric"));
        }
        if is_known_suffix(suffix) {
            return Err(expected_duration(lit));
        }
        return Err(unknown_suffix(
            lit,
            suffix,
            "a duration such as `30s`, `5m` or `1h`",
        ));
    };
    let seconds = n * *size as f64;
    if seconds < 0.0 {
        return Err(Diagnostic::new(
            Code::OutOfRange,
            lit.span,
            format!("a duration cannot be negative, found `{}`", lit.text()),
        ));
    }
    if seconds > u32::MAX as f64 {
        return Err(Diagnostic::new(
            Code::OutOfRange,
            lit.span,
            format!("`{}` is too long a duration", lit.text()),
        )
        .help("durations are at most 4294967295s, about 136 years"));
    }
    if seconds.fract() != 0.0 {
        return Err(Diagnostic::new(
            Code::OutOfRange,
            lit.span,
            format!("`{}` is not a whole number of seconds", lit.text()),
        )
        .help("durations here are whole seconds: write `90s` rather than `1.5s`"));
    }
    Ok(Seconds(seconds as u64))
}

fn whole(lit: &Literal, n: f64) -> Result<u32, Diagnostic> {
    if n.fract() != 0.0 {
        return Err(Diagnostic::new(
            Code::ExpectedWholeNumber,
            lit.span,
            format!("expected a whole number, found `{}`", lit.text()),
        )
        .help("counts and replicas are whole numbers"));
    }
    if !(0.0..=u32::MAX as f64).contains(&n) {
        return Err(Diagnostic::new(
            Code::OutOfRange,
            lit.span,
            format!("`{}` is out of range", lit.text()),
        )
        .help("counts are between 0 and 4294967295"));
    }
    Ok(n as u32)
}

/// A plain whole number: counts, replicas, priorities.
pub(crate) fn count(lit: &Literal) -> Result<u32, Diagnostic> {
    if lit.suffix.is_some() || lit.per.is_some() {
        return Err(Diagnostic::new(
            Code::ExpectedWholeNumber,
            lit.span,
            format!("expected a whole number, found {}", looks_like(lit)),
        )
        .help("write a plain number such as `3`"));
    }
    whole(lit, number(lit)?)
}

/// A plain number without unit: the factor of `current * 1.5`.
pub(crate) fn plain(lit: &Literal) -> Result<f64, Diagnostic> {
    if lit.suffix.is_some() || lit.per.is_some() {
        return Err(Diagnostic::new(
            Code::UnitMismatch,
            lit.span,
            format!("expected a plain number, found {}", looks_like(lit)),
        )
        .help("a factor has no unit: `current * 1.5`"));
    }
    number(lit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn lit(number: &str, suffix: Option<&str>, per: Option<&str>) -> Literal {
        Literal {
            number: number.into(),
            suffix: suffix.map(Into::into),
            per: per.map(Into::into),
            span: Span::default(),
        }
    }

    #[test]
    fn the_context_decides_what_500m_means() {
        let l = lit("500", Some("m"), None);
        assert_eq!(duration(&l).unwrap(), Seconds(30_000));
        assert_eq!(resolve(&l, Type::Scalar(Unit::Cores), None).unwrap(), 0.5);
        let err = resolve(&l, Type::Scalar(Unit::Bytes), None).unwrap_err();
        assert_eq!(err.code, Code::UnitMismatch);
    }

    #[test]
    fn percent_literals_convert_to_ratios() {
        let five = lit("5", Some("%"), None);
        assert_eq!(
            resolve(&five, Type::Scalar(Unit::Ratio), None).unwrap(),
            0.05
        );
        assert_eq!(
            resolve(&five, Type::Scalar(Unit::Percent), None).unwrap(),
            5.0
        );
        let bare = lit("85", None, None);
        assert_eq!(
            resolve(&bare, Type::Scalar(Unit::Percent), None).unwrap(),
            85.0
        );
    }

    #[test]
    fn byte_suffixes_are_kubernetes_quantities() {
        let gi = lit("1.5", Some("Gi"), None);
        assert_eq!(
            resolve(&gi, Type::Scalar(Unit::Bytes), None).unwrap(),
            1.5 * 1_073_741_824.0
        );
        let g = lit("1", Some("G"), None);
        assert_eq!(resolve(&g, Type::Scalar(Unit::Bytes), None).unwrap(), 1e9);
        let gb = resolve(&lit("1", Some("GB"), None), Type::Scalar(Unit::Bytes), None).unwrap_err();
        assert_eq!(gb.code, Code::UnknownUnit);
        assert_eq!(gb.suggestion.unwrap().replacement, "1G");
    }

    #[test]
    fn rates_are_per_second() {
        let r = lit("2", Some("%"), Some("min"));
        let v = resolve(&r, Type::Rate(Unit::Percent), None).unwrap();
        assert!((v - 2.0 / 60.0).abs() < 1e-12);
        assert_eq!(
            resolve(&r, Type::Scalar(Unit::Percent), None)
                .unwrap_err()
                .code,
            Code::UnitMismatch
        );
    }

    #[test]
    fn durations_are_whole_seconds_with_a_unit() {
        assert_eq!(duration(&lit("1.5", Some("m"), None)).unwrap(), Seconds(90));
        assert_eq!(
            duration(&lit("5", None, None)).unwrap_err().code,
            Code::ExpectedDuration
        );
        assert_eq!(
            duration(&lit("0.5", Some("s"), None)).unwrap_err().code,
            Code::OutOfRange
        );
        let min = duration(&lit("5", Some("min"), None)).unwrap_err();
        assert_eq!(min.suggestion.unwrap().replacement, "5m");
        let huge = duration(&lit("4294967296", Some("s"), None)).unwrap_err();
        assert!(huge.message.contains("too long"), "{}", huge.message);
    }

    #[test]
    fn duration_thresholds_may_be_fractions_of_a_second() {
        let seconds = Type::Scalar(Unit::Duration);
        assert_eq!(
            resolve(&lit("0.5", Some("s"), None), seconds, None).unwrap(),
            0.5
        );
        assert_eq!(
            resolve(&lit("500", Some("ms"), None), seconds, None).unwrap(),
            0.5
        );
        assert_eq!(
            resolve(&lit("2", Some("m"), None), seconds, None).unwrap(),
            120.0
        );
        assert_eq!(
            resolve(&lit("-1", Some("s"), None), seconds, None)
                .unwrap_err()
                .code,
            Code::OutOfRange
        );
        assert_eq!(
            resolve(&lit("5", None, None), seconds, None)
                .unwrap_err()
                .code,
            Code::ExpectedDuration
        );
        // `for` and windows stay whole seconds.
        assert_eq!(
            duration(&lit("500", Some("ms"), None)).unwrap_err().code,
            Code::OutOfRange
        );
    }

    #[test]
    fn exponents_are_explained_with_the_number_in_full() {
        let err =
            resolve(&lit("1", Some("e9"), None), Type::Scalar(Unit::Bytes), None).unwrap_err();
        assert_eq!(err.code, Code::UnknownUnit);
        assert_eq!(err.suggestion.unwrap().replacement, "1000000000");
        let err = duration(&lit("1", Some("e3"), None)).unwrap_err();
        assert!(err.message.contains("exponent"), "{}", err.message);
    }

    #[test]
    fn counts_are_whole() {
        assert_eq!(count(&lit("3", None, None)).unwrap(), 3);
        assert_eq!(
            count(&lit("2.5", None, None)).unwrap_err().code,
            Code::ExpectedWholeNumber
        );
        assert_eq!(
            count(&lit("-1", None, None)).unwrap_err().code,
            Code::OutOfRange
        );
    }
}
