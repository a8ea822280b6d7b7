//! Every form of the notation, every error with its column and exact message,
//! and proptests: `parse` never panics, and expanded series read back to the
//! same points.

use super::*;
use proptest::prelude::*;
use Point::{Missing as M, Stale as S, Value as V};

fn ok(text: &str) -> Vec<Point> {
    match parse(text) {
        Ok(points) => points,
        Err(error) => panic!("{text:?}: {error}"),
    }
}

fn values(values: &[f64]) -> Vec<Point> {
    values.iter().map(|&v| V(v)).collect()
}

#[track_caller]
fn err(text: &str) -> NotationError {
    match parse(text) {
        Ok(points) => panic!("{text:?} parsed as {points:?}"),
        Err(error) => error,
    }
}

#[test]
fn numbers() {
    assert_eq!(ok("85"), values(&[85.0]));
    assert_eq!(
        ok("-1.5 0.05 +3 1e3 2.5E-1 5. .5 -0"),
        values(&[-1.5, 0.05, 3.0, 1000.0, 0.25, 5.0, 0.5, -0.0])
    );
}

#[test]
fn missing_and_stale() {
    assert_eq!(ok("0 0 1 _ 3"), vec![V(0.0), V(0.0), V(1.0), M, V(3.0)]);
    assert_eq!(ok("1 stale"), vec![V(1.0), S]);
}

#[test]
fn series_up_and_down() {
    // promtool's examples.
    assert_eq!(ok("-2+4x3"), values(&[-2.0, 2.0, 6.0, 10.0]));
    assert_eq!(ok("1-2x4"), values(&[1.0, -1.0, -3.0, -5.0, -7.0]));
    // 50, 55, …, 100: 11 points.
    let ramp = ok("50+5x10");
    assert_eq!(ramp.len(), 11);
    assert_eq!(ramp.first(), Some(&V(50.0)));
    assert_eq!(ramp.last(), Some(&V(100.0)));
    // Exponents in both numbers: 1000, 1000.5, 1001.
    assert_eq!(ok("1e3+5e-1x2"), values(&[1000.0, 1000.5, 1001.0]));
}

#[test]
fn steps_do_not_accumulate_rounding() {
    // 0.1 added 30 times is 3.0000000000000013; 0 + 30 · 0.1 rounds to 3.
    assert_eq!(ok("0+0.1x30").last(), Some(&V(3.0)));
}

#[test]
fn repeats() {
    // `AxN` is A then N more (N + 1 points); `_xN` and `stalexN` are N points.
    assert_eq!(ok("1x4"), values(&[1.0; 5]));
    assert_eq!(ok("1 _x3 stale"), vec![V(1.0), M, M, M, S]);
    assert_eq!(ok("stalex2"), vec![S, S]);
    assert_eq!(ok("7x0"), values(&[7.0]));
    assert_eq!(ok("_x0"), vec![]);
    assert_eq!(ok("0x100000").len(), 100_001);
}

#[test]
fn any_whitespace_separates_tokens() {
    assert_eq!(ok(""), vec![]);
    assert_eq!(ok(" \t\n"), vec![]);
    assert_eq!(ok("  1\t2\n 3  "), values(&[1.0, 2.0, 3.0]));
}

/// Every error kind: the text, the bad token's column and the exact message.
#[test]
fn errors_name_the_token_its_column_and_the_fix() {
    let cases = [
        ("1 5+x3", 3, "`5+x3` (column 3): expected a number after `+`"),
        ("5-x3", 1, "`5-x3` (column 1): expected a number after `-`"),
        ("5+-1x3", 1, "`5+-1x3` (column 1): expected a number after `+`"),
        ("0 5+1", 3, "`5+1` (column 3): expected `x` and a count after `5+1` (like `5+1x10`)"),
        ("5x", 1, "`5x` (column 1): expected a whole number after `x` (like `x10`)"),
        ("5x1.5", 1, "`5x1.5` (column 1): expected a whole number after `x` (like `x10`)"),
        ("5+1x-2", 1, "`5+1x-2` (column 1): expected a whole number after `x` (like `x10`)"),
        ("_xx", 1, "`_xx` (column 1): expected a whole number after `x` (like `x10`)"),
        ("5x100001", 1, "`5x100001` (column 1): the count is too large: at most 100000"),
        ("_x99999999999999999999999", 1, "`_x99999999999999999999999` (column 1): the count is too large: at most 100000"),
        ("1  abc", 4, "`abc` (column 4): expected a number, `_`, `stale` or a series like `50+5x10`"),
        ("x3", 1, "`x3` (column 1): expected a number, `_`, `stale` or a series like `50+5x10`"),
        ("-", 1, "`-` (column 1): expected a number, `_`, `stale` or a series like `50+5x10`"),
        (".", 1, "`.` (column 1): expected a number, `_`, `stale` or a series like `50+5x10`"),
        ("NaN", 1, "`NaN` (column 1): values are finite numbers; write `_` for a missing sample"),
        ("1 -Inf", 3, "`-Inf` (column 3): values are finite numbers; write `_` for a missing sample"),
        ("1e400", 1, "`1e400` (column 1): the number is too large"),
        ("85%", 1, "`85%` (column 1): unexpected `%` after `85`; values are plain numbers in the metric's unit"),
        ("5ex2", 1, "`5ex2` (column 1): unexpected `ex2` after `5`; values are plain numbers in the metric's unit"),
        ("_+1x3", 1, "`_+1x3` (column 1): `_` repeats as `_xN`, without a step"),
        ("stale-1x2", 1, "`stale-1x2` (column 1): `stale` repeats as `stalexN`, without a step"),
        ("1e308+1e308x2", 1, "`1e308+1e308x2` (column 1): the values leave the range of 64-bit numbers"),
    ];
    for (text, column, message) in cases {
        let error = err(text);
        assert_eq!(error.column, column, "{text:?}");
        assert_eq!(error.to_string(), message, "{text:?}");
    }
}

#[test]
fn columns_count_bytes() {
    // A no-break space is whitespace of two bytes: `5+x3` starts at byte 3,
    // column 4.
    let error = err("1\u{a0}5+x3");
    assert_eq!((error.column, error.token.as_str()), (4, "5+x3"));
    // `é` is two bytes too: its range is 2..4.
    let error = err("1\té 2");
    assert_eq!((error.column, error.range()), (3, 2..4));
    let error = err("1 5+x3");
    assert_eq!(error.range(), 2..6);
    assert_eq!(&"1 5+x3"[error.range()], "5+x3");
}

#[test]
fn a_series_is_bounded_in_total_too() {
    // Ten tokens of 100,001 points pass MAX_POINTS at the tenth, which starts
    // at byte 9 · 9 = 81 (each `0x100000 ` is 9 bytes).
    let text = "0x100000 ".repeat(10);
    let error = err(&text);
    assert_eq!(error.kind, NotationErrorKind::TooManyPoints);
    assert_eq!(error.column, 82);
    assert_eq!(
        error.to_string(),
        "`0x100000` (column 82): the series is too long: at most 1000000 points"
    );
    assert_eq!(ok(&"0x100000 ".repeat(9)).len(), 900_009);
}

#[test]
fn points_print_as_tokens() {
    let points = [V(85.0), V(-1.5), V(0.1 + 0.2), M, S, V(-0.0), V(1e300)];
    let text = expand_to_string(&points);
    assert!(text.starts_with("85 -1.5 0.30000000000000004 _ stale -0 1000000000"));
    assert_eq!(parse(&text), Ok(points.to_vec()));
}

/// A valid token and how many points it stands for.
fn token() -> impl Strategy<Value = (String, usize)> {
    let number = prop_oneof![
        (-1e6..1e6_f64).prop_map(|v| v.to_string()),
        (-1000_i32..1000).prop_map(|v| v.to_string()),
        (-9.99_f64..9.99, -20_i32..20).prop_map(|(m, e)| format!("{m}e{e}")),
    ]
    .boxed();
    let step = prop_oneof![
        (0_u32..100).prop_map(|v| v.to_string()),
        (0.0..100.0_f64).prop_map(|v| v.to_string()),
    ];
    let count = 0_usize..20;
    prop_oneof![
        number.clone().prop_map(|n| (n, 1)),
        Just(("_".to_string(), 1)),
        Just(("stale".to_string(), 1)),
        (
            number.clone(),
            prop::sample::select(vec!['+', '-']),
            step,
            count.clone()
        )
            .prop_map(|(a, sign, b, n)| (format!("{a}{sign}{b}x{n}"), n + 1)),
        (number, count.clone()).prop_map(|(a, n)| (format!("{a}x{n}"), n + 1)),
        count.clone().prop_map(|n| (format!("_x{n}"), n)),
        count.prop_map(|n| (format!("stalex{n}"), n)),
    ]
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![" ", "  ", "\t", " \n "])
}

/// Bits, so that `-0` and `0` are told apart.
fn bits(points: &[Point]) -> Vec<Option<u64>> {
    points
        .iter()
        .map(|p| match p {
            V(v) => Some(v.to_bits()),
            M => None,
            S => Some(u64::MAX),
        })
        .collect()
}

fn point() -> impl Strategy<Value = Point> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    prop_oneof![
        (POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO).prop_map(V),
        Just(M),
        Just(S),
    ]
}

proptest! {
    #[test]
    fn parse_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_near_misses(text in "[-+0-9._xeE staleinfNa\t]{0,40}") {
        if let Err(error) = parse(&text) {
            // The column points at the token, inside the text.
            prop_assert_eq!(text.get(error.range()), Some(error.token.as_str()));
        }
    }

    #[test]
    fn valid_series_expand_and_read_back(
        tokens in prop::collection::vec((token(), separator()), 0..12),
    ) {
        let text: String = tokens.iter().map(|((t, _), sep)| format!("{t}{sep}")).collect();
        let expected: usize = tokens.iter().map(|((_, n), _)| n).sum();
        let points = parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(points.len(), expected);
        let again = parse(&expand_to_string(&points));
        prop_assert_eq!(again.map(|p| bits(&p)), Ok(bits(&points)));
    }

    #[test]
    fn any_points_read_back(points in prop::collection::vec(point(), 0..30)) {
        let again = parse(&expand_to_string(&points));
        prop_assert_eq!(again.map(|p| bits(&p)), Ok(bits(&points)));
    }
}
