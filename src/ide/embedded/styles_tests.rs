//! Each way to write `spec.policy`: the text read is the one a YAML parser
//! reads (serde_yaml here, as the operator gets the object's value), every
//! byte read as it is maps both ways, and a diagnostic lands on its token.

use super::*;

const POLICY: &str = "\
policy p {
  select pods
  cooldown 10m
  when memory_percnt > 90% for 5m then restart
}
";

/// Skippy separates clauses with line breaks or `;`: a policy on one line,
/// as a quoted scalar often holds it.
const ONE_LINE: &str =
    "policy p { select pods; cooldown 10m; when memory_percnt > 90% for 5m then restart }";

fn manifest(policy: &str) -> String {
    format!(
        "apiVersion: kubeskippy.io/v1alpha1\nkind: HealingPolicy\nmetadata:\n  name: p\nspec:\n  {policy}\n  other: 1\n"
    )
}

/// The value a YAML parser reads for `spec.policy`.
fn parsed(yaml: &str) -> String {
    let value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("valid YAML");
    value["spec"]["policy"]
        .as_str()
        .expect("a string")
        .to_string()
}

/// The one policy of `yaml`, checked against the parser, with every
/// verbatim piece the same bytes in both and mapping both ways.
fn read(yaml: &str) -> Embedded {
    let found = policies(yaml);
    assert_eq!(found.len(), 1, "{yaml}");
    let e = found.into_iter().next().expect("one");
    assert_eq!(e.text, parsed(yaml), "{yaml}");
    let mut text_end = 0;
    for p in &e.pieces {
        assert_eq!(
            p.text, text_end,
            "the pieces cover the text: {:?}",
            e.pieces
        );
        text_end += p.text_len;
        if p.verbatim {
            assert_eq!(
                &e.text[p.text..p.text + p.text_len],
                &yaml[p.yaml..p.yaml + p.yaml_len]
            );
            for i in 0..p.text_len {
                assert_eq!(e.to_yaml(p.text + i), p.yaml + i);
                assert_eq!(e.from_yaml(p.yaml + i), Some(p.text + i));
            }
        }
    }
    assert_eq!(text_end, e.text.len());
    e
}

/// Where the unknown metric's diagnostic lands in the YAML.
fn unknown_metric_at(yaml: &str) -> &str {
    let e = read(yaml);
    let compiled = e.compile(&crate::safety::SafetyConfig::default());
    let d = compiled
        .diagnostics
        .iter()
        .find(|d| d.code.as_str() == "E0101")
        .expect("E0101");
    let placed = e.diagnostic_to_yaml(d);
    &yaml[placed.span.start..placed.span.end]
}

fn indented(text: &str, by: &str) -> String {
    text.lines()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{by}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn literal_and_folded_blocks_read_as_yaml_does() {
    for header in ["|", "|-", "|+", ">", ">-", ">+", ">2", "|2-", "> # why"] {
        let body = indented(POLICY, "    ");
        let yaml = manifest(&format!("policy: {header}\n{body}\n\n"));
        assert_eq!(unknown_metric_at(&yaml), "memory_percnt", "{header}");
    }
}

#[test]
fn folding_joins_lines_at_the_block_indentation() {
    let yaml = manifest(
        "policy: >-\n    policy p { select pods;\n    cooldown 10m\n\n    when memory_percnt > 90%\n    then restart }",
    );
    let e = read(&yaml);
    assert_eq!(
        e.text,
        "policy p { select pods; cooldown 10m\nwhen memory_percnt > 90% then restart }"
    );
    assert_eq!(unknown_metric_at(&yaml), "memory_percnt");
    // The space a line break became is that line break, and the
    // indentation after it is the YAML's.
    let space = e.text.find(" cooldown").expect("folded");
    let line_end = yaml.find("pods;\n").expect("pods") + 5;
    assert_eq!(e.to_yaml(space), line_end);
    assert_eq!(e.from_yaml(line_end), Some(space));
    assert_eq!(e.from_yaml(line_end + 2), None);
}

#[test]
fn quoted_scalars_read_as_yaml_does() {
    let one_line = ONE_LINE;
    let double = format!("policy: \"{}\"", one_line.replace('%', "\\x25"));
    let single = format!("policy: '{one_line}'");
    let escaped_lines = format!(
        "policy: \"{}\"",
        POLICY.trim_end().replace('\n', "\\n\\\n    ")
    );
    let folded_lines = format!("policy: '{}'", ONE_LINE.replace("; ", ";\n    "));
    let blank_lines = format!(
        "policy: \"{}\"",
        indented(&POLICY.replace('\n', "\n\n"), "    ").trim()
    );
    // A token that ends where an escaped line break starts ends there, not
    // on the next line.
    let joined = format!(
        "policy: \"{}\"",
        ONE_LINE.replace("memory_percnt ", "memory_percnt\\\n      \\ ")
    );
    for style in [
        double,
        single,
        escaped_lines,
        folded_lines,
        blank_lines,
        joined,
    ] {
        let yaml = manifest(&style);
        assert_eq!(unknown_metric_at(&yaml), "memory_percnt", "{yaml}");
    }
}

#[test]
fn escapes_map_to_where_they_start() {
    let yaml =
        manifest("policy: \"policy p { select pods where app = \\\"a\\u00e9\\\" when bad > 1 then restart }\"");
    let e = read(&yaml);
    assert!(e.text.contains("app = \"aé\" when"), "{}", e.text);
    let quote = e.text.find("\"a").expect("the string");
    assert_eq!(&yaml[e.to_yaml(quote)..e.to_yaml(quote) + 2], "\\\"");
    let accent = e.text.find('é').expect("é");
    assert_eq!(
        &yaml[e.to_yaml(accent)..e.to_yaml(accent + 'é'.len_utf8())],
        "\\u00e9"
    );
    // The middle of an escape reads as its start.
    assert_eq!(e.from_yaml(e.to_yaml(accent) + 3), None);
    assert_eq!(e.from_yaml(e.to_yaml(accent)), Some(accent));

    let yaml = manifest("policy: 'policy p { select pods where app = ''it''s'' }'");
    let e = read(&yaml);
    assert!(e.text.contains("app = 'it's' }"), "{}", e.text);
    // The end of the text, before the closing quote, is inside the policy.
    let closing = yaml.rfind('\'').expect("the closing quote");
    assert_eq!(e.from_yaml(closing), Some(e.text.len()));
    assert_eq!(e.from_yaml(closing + 1), None);
}

/// An edit made in the policy text, mapped and spelled into the YAML, reads
/// back as the same edit: quick fixes and renames keep each style valid.
#[test]
fn edits_spelled_into_each_style_read_back() {
    let inserted = "\n  # \"why\" it's \\ so\n  cooldown 10m";
    for style in [
        format!("policy: |\n{}", indented(POLICY, "    ")),
        format!("policy: >\n{}", indented(POLICY, "    ")),
        format!("policy: \"{}\"", POLICY.replace('\n', "\\n")),
        format!(
            "policy: '{}'",
            indented(&POLICY.replace('\n', "\n\n"), "    ").trim()
        ),
    ] {
        let yaml = manifest(&style);
        let e = read(&yaml);
        let rule = e.text.find("when").expect("the rule");
        let at = e.text[..rule].rfind('\n').expect("its line");
        let mut expected = e.text.clone();
        expected.insert_str(at, inserted);
        let mut edited = yaml.clone();
        edited.insert_str(e.to_yaml(at), &e.spell(inserted));
        let mut got = read(&edited).text;
        if style.starts_with("policy: '") {
            // YAML strips a flow scalar's leading spaces on each line, which
            // Skippy ignores; no spelling can keep them there.
            let unindented = |t: &str| {
                t.split('\n')
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            (got, expected) = (unindented(&got), unindented(&expected));
        }
        assert_eq!(got, expected, "{edited}");
    }
}

#[test]
fn a_range_ending_at_a_stripped_line_break_ends_on_its_line() {
    let yaml = manifest("policy: |-\n    policy p {}\n");
    let e = read(&yaml);
    let brace = yaml.rfind('}').expect("the brace");
    assert_eq!(
        e.range_to_yaml(e.text.len() - 1..e.text.len()),
        brace..brace + 1
    );
    // An empty range (where an edit inserts) stays empty.
    assert_eq!(
        e.range_to_yaml(e.text.len()..e.text.len()),
        brace + 1..brace + 1
    );
}

#[test]
fn crlf_line_breaks_read_as_line_feeds() {
    let yaml = manifest(&format!("policy: >\n{}", indented(POLICY, "    "))).replace('\n', "\r\n");
    assert_eq!(unknown_metric_at(&yaml), "memory_percnt");
    let yaml = manifest("policy: \"policy p {\n    select pods }\"").replace('\n', "\r\n");
    assert_eq!(read(&yaml).text, "policy p { select pods }");
}

#[test]
fn no_panic_on_any_cut_of_each_style() {
    let styles = [
        format!("policy: >+2\n{}", indented(POLICY, "    ")),
        "policy: \"a\\\n  b\\x4 \\u00e9 \\\"\n\n c\"".to_string(),
        "policy: 'a''\n\n  b'".to_string(),
    ];
    for style in styles {
        let yaml = manifest(&style);
        for end in (0..=yaml.len()).filter(|&i| yaml.is_char_boundary(i)) {
            let cut = &yaml[..end];
            for e in policies(cut) {
                for offset in 0..=e.text.len() + 1 {
                    let _ = e.to_yaml(offset);
                }
                for offset in 0..=cut.len() + 1 {
                    let _ = e.from_yaml(offset);
                }
            }
        }
    }
}

/// A `spec.policy` of pieces drawn from `tokens`, in a manifest.
fn from_tokens(
    open: &'static str,
    close: &'static str,
    tokens: &'static [&'static str],
) -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    prop::collection::vec(prop::sample::select(tokens), 0..24)
        .prop_map(move |t| manifest(&format!("{open}{}{close}", t.concat())))
}

proptest::proptest! {
    // About a quarter of the drawn texts are not valid YAML (a tab where
    // YAML refuses one, say) and are skipped.
    #![proptest_config(proptest::prelude::ProptestConfig {
        max_global_rejects: 1_000_000,
        ..proptest::prelude::ProptestConfig::with_cases(300)
    })]

    /// Whatever a YAML parser accepts in each style, the scanner reads the
    /// same string, and maps every byte it read as it is both ways.
    #[test]
    fn every_style_reads_as_the_yaml_parser_does(
        yaml in proptest::prop_oneof![
            from_tokens("policy: \"", "\"", &[
                "a", " ", "\t", "#", "'", ":", "\\\"", "\\\\", "\\n", "\\t", "\\x41",
                "\\u00e9", "\\ ", "\\\n    ", "\n    ", "\n\n    ", "\n  \t  ",
            ]),
            from_tokens("policy: '", "'", &[
                "a", " ", "\t", "#", "''", "\"", "\\", ":", "\n    ", "\n\n    ", "\n \n   ",
            ]),
            from_tokens("policy: |2\n    ", "", &[
                "a", " ", "\t", "#", "'", "\"", "\\", "\n    ", "\n", "\n      ", "\r\n    ",
            ]),
            from_tokens("policy: >2-\n    ", "", &[
                "a", " ", "\t", "#", "'", "\"", "\\", "\n    ", "\n", "\n      ", "\n    \t",
            ]),
            from_tokens("policy: >+\n    x", "", &["a", " ", "\n    ", "\n", "\n      ", "\n  "]),
        ]
    ) {
        let parses = serde_yaml::from_str::<serde_yaml::Value>(&yaml)
            .is_ok_and(|v| v["spec"]["policy"].is_string());
        proptest::prop_assume!(parses);
        read(&yaml);
    }
}
