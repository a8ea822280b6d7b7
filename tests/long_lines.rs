//! Diagnostics on very long lines (issue 13, item 2). miette draws a label
//! under its line with a formatting width of the label's column, which
//! panics past 65,535 ("Formatting argument out of range"): `check` and
//! `explain` died with exit 101, and in a folder the files after the long
//! line were never reported. A label on a long line is now drawn in a window
//! of the line around it, while the header keeps the true line and column.

use kubeskippy::diagnostic::{render, Code, Diagnostic, LONG_LINE};
use kubeskippy::span::Span;
use proptest::prelude::*;
use std::path::PathBuf;

mod common;
use common::*;

/// A policy whose `notify` message is `length` characters long, followed on
/// the same line by an error (`priority 99`), and where the `99` starts.
fn long_notify(length: usize) -> (String, usize) {
    let head = "policy p {\n  select pods\n  cooldown 10m\n  when restarts > 3 then notify \"";
    let text = format!("{head}{}\" priority 99\n}}\n", "x".repeat(length));
    let at = head.len() + length + "\" priority ".len();
    (text, at)
}

/// A fresh folder for one test, under the target directory.
fn folder(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the folder");
    dir
}

/// The `[file:line:column]` headers of rendered output.
fn headers(rendered: &str) -> Vec<(String, usize, usize)> {
    rendered
        .lines()
        .filter_map(|line| {
            let inside = line.split_once("─[")?.1.strip_suffix(']')?;
            let (rest, column) = inside.rsplit_once(':')?;
            let (file, line) = rest.rsplit_once(':')?;
            Some((file.to_string(), line.parse().ok()?, column.parse().ok()?))
        })
        .collect()
}

#[test]
fn a_diagnostic_past_column_65535_is_shown_and_the_next_file_still_checked() {
    let dir = folder("long_lines_in_a_folder");
    let (long, _) = long_notify(70_000);
    std::fs::write(dir.join("a-long.skippy"), &long).expect("write");
    std::fs::write(
        dir.join("b-later.skippy"),
        "policy later {\n  select pods\n  when restarts > 3 then reboot\n}\n",
    )
    .expect("write");
    let path = dir.to_str().expect("a UTF-8 path");

    let out = kubeskippy(&["check", "--color", "never", path]);
    let shown = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    let found = headers(&shown);
    let columns: Vec<(usize, usize)> = found.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(columns, [(4, 70_045), (3, 26)], "{shown}");
    assert!(found[0].0.ends_with("a-long.skippy") && found[1].0.ends_with("b-later.skippy"));
    assert!(
        shown.contains("E0203") && shown.contains("E0103"),
        "{shown}"
    );
    assert!(
        shown.lines().all(|line| line.chars().count() < 200),
        "long lines are cut:\n{shown}"
    );
    assert!(
        stderr(&out).contains("checked 2 files: 2 errors"),
        "{}",
        stderr(&out)
    );

    let file = dir.join("a-long.skippy");
    let out = kubeskippy(&["explain", file.to_str().expect("a UTF-8 path")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let shown = stderr(&out);
    assert!(!shown.contains("panicked"), "{shown}");
    assert_eq!(
        headers(&shown)
            .iter()
            .map(|h| (h.1, h.2))
            .collect::<Vec<_>>(),
        [(4, 70_045)]
    );
}

/// What a user reads: the line cut around the label, with `…` where cut, on
/// one side or both, under the true line and column.
#[test]
fn a_long_line_is_shown_cut_around_the_label() {
    let (text, _) = long_notify(70_000);
    let compiled = kubeskippy::check::compile(&text, &Default::default());
    let end = render(&compiled.diagnostics, "long.skippy", &text, false);
    let text = format!(
        "policy p {{\n  select pods\n  cooldown 10m\n  when restarts > 3 then notify \"{}\" priority 99  # {}\n}}\n",
        "x".repeat(600),
        "y".repeat(600)
    );
    let compiled = kubeskippy::check::compile(&text, &Default::default());
    let middle = render(&compiled.diagnostics, "long.skippy", &text, false);
    insta::assert_snapshot!("long_line_cut", format!("{end}{middle}"));
}

/// The source of the test below: short lines, and on line 6 (far enough
/// from line 1 to be shown apart from it) a line of `length` characters
/// drawn from `alphabet`, then a short last line.
fn source(length: usize, alphabet: &[char]) -> (String, usize, usize) {
    let long: String = (0..length).map(|i| alphabet[i % alphabet.len()]).collect();
    let head = "first line\n2\n3\n4\n5\n";
    let text = format!("{head}{long}\nlast\n");
    (text, head.len(), head.len() + long.len())
}

/// The byte offset of the character at `fraction` of `text[start..end]`.
fn at_fraction(text: &str, start: usize, end: usize, fraction: f64) -> usize {
    let chars: Vec<usize> = text[start..end]
        .char_indices()
        .map(|(i, _)| start + i)
        .collect();
    let i = ((chars.len() as f64) * fraction) as usize;
    chars.get(i).copied().unwrap_or(end)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any line length, with the primary span at the start, middle or end of
    /// the long line or anywhere in it, of any length, and maybe a related
    /// span on line 1: no panic, the true line and column in each header, and no
    /// line of output much wider than the window.
    #[test]
    fn any_line_length_renders_with_the_true_position(
        length in prop_oneof![0usize..1_000, 60_000usize..70_000, 0usize..200_000],
        place in prop_oneof![Just(0.0), Just(0.5), Just(1.0), 0.0f64..1.0],
        span_length in prop_oneof![0usize..10, 0usize..100_000],
        alphabet in prop::sample::select(vec![
            vec!['x'], vec!['a', ' ', '(', '"'], vec!['é', '日', 'x'], vec!['\t', 'y'],
        ]),
        related in any::<bool>(),
    ) {
        let (text, start, end) = source(length, &alphabet);
        let from = at_fraction(&text, start, end, place);
        let to = at_fraction(&text, from, end, 1.0).min(
            text[from..end]
                .char_indices()
                .nth(span_length)
                .map_or(end, |(i, _)| from + i),
        );
        let mut diagnostic = Diagnostic::new(Code::Syntax, Span::new(from, to), "here").label("this");
        if related {
            diagnostic = diagnostic.related(Span::new(0, 5), "and there");
        }
        let rendered = render(&[diagnostic], "long.skippy", &text, false);
        let found: Vec<(usize, usize)> = headers(&rendered).iter().map(|h| (h.1, h.2)).collect();
        // Columns count characters, as `--format json` does.
        let mut expected = vec![(6, text[start..from].chars().count() + 1)];
        if related {
            expected.insert(0, (1, 1));
        }
        prop_assert_eq!(found, expected, "{}", rendered);
        let widest = rendered.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        prop_assert!(widest < 4 * 200 + LONG_LINE, "{} wide", widest);
    }

    /// The input at any length: the header names the `99`.
    #[test]
    fn a_long_notify_message_then_an_error(length in 0usize..200_000) {
        let (text, at) = long_notify(length);
        let compiled = kubeskippy::check::compile(&text, &Default::default());
        let rendered = render(&compiled.diagnostics, "long.skippy", &text, false);
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let found: Vec<(usize, usize)> = headers(&rendered).iter().map(|h| (h.1, h.2)).collect();
        prop_assert_eq!(found, vec![(4, at - line_start + 1)], "{}", rendered);
    }
}
