//! `docs/language.md` against the implementation: every diagnostic code is
//! documented under its exact title with an example that produces it (and a
//! snapshot of what the user then reads), every other `skippy` example checks
//! without errors, every `yaml` block is a valid safety configuration, and the
//! metrics table is the catalog's.

use kubeskippy::catalog::{self, Series};
use kubeskippy::check::{compile, compile_in, Compiled, Host};
use kubeskippy::diagnostic::{render, Code};
use kubeskippy::safety::SafetyConfig;
use std::collections::BTreeMap;

const DOC: &str = include_str!("../docs/language.md");
const DIAGNOSTICS_HEADING: &str = "## Diagnostics";

/// A fenced code block: its info string, its text and the line it starts on.
#[derive(Debug, Clone)]
struct Block {
    info: String,
    text: String,
    line: usize,
}

/// A `### CODE — title` section of the Diagnostics chapter.
#[derive(Debug)]
struct CodeSection {
    heading: String,
    line: usize,
    blocks: Vec<Block>,
}

/// The page split into the construct chapters and the Diagnostics chapter.
#[derive(Debug, Default)]
struct Page {
    /// Blocks outside the Diagnostics chapter.
    blocks: Vec<Block>,
    /// Blocks of the Diagnostics chapter before its first `###` section.
    diagnostics_intro: Vec<Block>,
    sections: Vec<CodeSection>,
}

/// Splits the page by headings and fenced blocks; headings inside a fence are
/// text, not headings.
fn page() -> Page {
    let mut page = Page::default();
    let mut in_diagnostics = false;
    let mut open: Option<Block> = None;
    for (index, line) in DOC.lines().enumerate() {
        let number = index + 1;
        if let Some(block) = open.as_mut() {
            if line.trim_start().starts_with("```") {
                let block = open.take().expect("a block is open");
                match page.sections.last_mut() {
                    Some(section) if in_diagnostics => section.blocks.push(block),
                    _ if in_diagnostics => page.diagnostics_intro.push(block),
                    _ => page.blocks.push(block),
                }
            } else {
                block.text.push_str(line);
                block.text.push('\n');
            }
            continue;
        }
        if let Some(info) = line.trim_start().strip_prefix("```") {
            open = Some(Block {
                info: info.trim().to_string(),
                text: String::new(),
                line: number,
            });
        } else if line.starts_with("## ") {
            in_diagnostics = line.trim_end() == DIAGNOSTICS_HEADING;
        } else if in_diagnostics && line.starts_with("### ") {
            page.sections.push(CodeSection {
                heading: line["### ".len()..].trim_end().to_string(),
                line: number,
                blocks: Vec::new(),
            });
        }
    }
    assert!(
        open.is_none(),
        "docs/language.md has an unclosed code fence"
    );
    page
}

/// The documented section of every code, by code string.
fn sections(page: &Page) -> BTreeMap<String, &CodeSection> {
    let mut out = BTreeMap::new();
    for section in &page.sections {
        let code = section
            .heading
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let previous = out.insert(code.clone(), section);
        assert!(
            previous.is_none(),
            "docs/language.md documents {code} twice (line {})",
            section.line
        );
    }
    out
}

/// The one `skippy` example of a code's section, and the safety configuration
/// it runs with (a `yaml` block in the section, or the defaults).
fn example(code: Code, section: &CodeSection) -> (&Block, SafetyConfig) {
    let skippy: Vec<&Block> = section
        .blocks
        .iter()
        .filter(|b| b.info == "skippy" || b.info.starts_with("skippy "))
        .collect();
    let [block] = skippy.as_slice() else {
        panic!(
            "{code}: its section (line {}) needs exactly one ```skippy example, found {}",
            section.line,
            skippy.len()
        );
    };
    let config = match section.blocks.iter().find(|b| b.info == "yaml") {
        Some(yaml) => SafetyConfig::from_yaml(&yaml.text).unwrap_or_else(|e| {
            panic!(
                "{code}: the safety configuration at line {}: {e}",
                yaml.line
            )
        }),
        None => SafetyConfig::default(),
    };
    (block, config)
}

/// An example compiles as the file it is, or, when its fence says so
/// (```` ```skippy healingpolicy ````, ```` ```skippy clusterhealingpolicy ````),
/// as the `spec.policy` of such an object (a HealingPolicy in `shop`).
fn compile_example(code: Code, section: &CodeSection) -> (String, Compiled) {
    let (block, config) = example(code, section);
    let host = match block.info.as_str() {
        "skippy healingpolicy" => Host::HealingPolicy { namespace: "shop" },
        "skippy clusterhealingpolicy" => Host::ClusterHealingPolicy,
        _ => Host::File,
    };
    (block.text.clone(), compile_in(&block.text, &config, host))
}

fn documented(code: Code) -> String {
    format!("{} — {}", code.as_str(), code.title())
}

#[test]
fn every_code_is_documented_under_its_title_and_nothing_else_is() {
    let page = page();
    let sections = sections(&page);
    let mut problems = Vec::new();
    for code in Code::ALL {
        match sections.get(code.as_str()) {
            None => problems.push(format!(
                "{code} is not documented: add a section `### {}`",
                documented(*code)
            )),
            Some(section) if section.heading != documented(*code) => problems.push(format!(
                "{code}: the heading at line {} is `### {}`, expected `### {}`",
                section.line,
                section.heading,
                documented(*code)
            )),
            Some(_) => {}
        }
    }
    for (name, section) in &sections {
        if !Code::ALL.iter().any(|c| c.as_str() == name) {
            problems.push(format!(
                "line {}: `### {}` documents no code of `Code::ALL`",
                section.line, section.heading
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_code_example_produces_that_code_and_only_that_code() {
    let page = page();
    let sections = sections(&page);
    let mut problems = Vec::new();
    for code in Code::ALL {
        let Some(section) = sections.get(code.as_str()) else {
            continue; // Reported by the test above.
        };
        let (source, compiled) = compile_example(*code, section);
        let found: Vec<&str> = compiled
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect();
        if !found.contains(&code.as_str()) {
            problems.push(format!(
                "{code}: the example of `### {}` (line {}) does not produce {code}; it produces [{}]:\n{}",
                section.heading,
                section.line,
                found.join(", "),
                render(&compiled.diagnostics, "example.skippy", &source, false)
            ));
        } else if found.iter().any(|c| *c != code.as_str()) {
            problems.push(format!(
                "{code}: the example of `### {}` (line {}) also produces other codes [{}]; keep it to {code}:\n{}",
                section.heading,
                section.line,
                found.join(", "),
                render(&compiled.diagnostics, "example.skippy", &source, false)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn diagnostics_of_every_code_example_read_as_snapshotted() {
    let page = page();
    let sections = sections(&page);
    for code in Code::ALL {
        let Some(section) = sections.get(code.as_str()) else {
            continue;
        };
        let (source, compiled) = compile_example(*code, section);
        let rendered = render(&compiled.diagnostics, "example.skippy", &source, false);
        insta::assert_snapshot!(format!("diagnostic_{}", code), rendered);
    }
}

#[test]
fn construct_examples_check_without_errors() {
    let page = page();
    let examples: Vec<&Block> = page.blocks.iter().filter(|b| b.info == "skippy").collect();
    assert!(
        examples.len() >= 10,
        "expected the construct examples, found {}",
        examples.len()
    );
    assert!(
        page.diagnostics_intro.iter().all(|b| b.info != "skippy"),
        "a ```skippy block in the Diagnostics chapter belongs to a `### CODE` section"
    );
    let config = SafetyConfig::default();
    let mut problems = Vec::new();
    for block in examples {
        let compiled = compile(&block.text, &config);
        if compiled.has_errors() {
            problems.push(format!(
                "the example at docs/language.md line {} has errors:\n{}",
                block.line,
                render(&compiled.diagnostics, "example.skippy", &block.text, false)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn yaml_blocks_are_valid_safety_configurations() {
    let page = page();
    let all = page
        .blocks
        .iter()
        .chain(&page.diagnostics_intro)
        .chain(page.sections.iter().flat_map(|s| &s.blocks));
    let mut count = 0;
    for block in all.filter(|b| b.info == "yaml") {
        count += 1;
        if let Err(e) = SafetyConfig::from_yaml(&block.text) {
            panic!(
                "the safety configuration at docs/language.md line {}: {e}",
                block.line
            );
        }
    }
    assert!(count > 0, "docs/language.md shows no safety configuration");
}

/// The rows of the metrics table: `| `name` | unit | series | applies to | source | description |`.
fn metrics_table() -> Vec<Vec<String>> {
    let header = "| metric | unit | series | applies to | source | description |";
    let start = DOC
        .lines()
        .position(|l| l.trim_end() == header)
        .unwrap_or_else(|| panic!("docs/language.md has no metrics table headed `{header}`"));
    DOC.lines()
        .skip(start + 2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn the_metrics_table_is_the_catalog() {
    let documented = metrics_table();
    let expected: Vec<Vec<String>> = catalog::METRICS
        .iter()
        .map(|m| {
            vec![
                format!("`{}`", m.name),
                m.unit.keyword().to_string(),
                match m.series {
                    Series::Gauge => "gauge".to_string(),
                    Series::Counter => "counter".to_string(),
                },
                m.kinds.describe(),
                m.source.to_string(),
                m.description.to_string(),
            ]
        })
        .collect();
    let names =
        |rows: &[Vec<String>]| -> Vec<String> { rows.iter().map(|r| r[0].clone()).collect() };
    assert_eq!(
        names(&documented),
        names(&expected),
        "the metrics in docs/language.md differ from catalog::METRICS"
    );
    for (row, want) in documented.iter().zip(&expected) {
        assert_eq!(
            row,
            want,
            "the row of {} in docs/language.md differs from the catalog; expected:\n| {} |",
            want[0],
            want.join(" | ")
        );
    }
}

/// The table of `docs/policies.md` says of each library policy what its file
/// does: the kind it selects, its mode and its worst-case budget per hour
/// (as `kubeskippy explain` computes it).
#[test]
fn the_policy_library_table_is_what_the_policies_say() {
    let doc = include_str!("../docs/policies.md");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = SafetyConfig::default();
    let rows: Vec<Vec<&str>> = doc
        .lines()
        .filter(|l| l.starts_with("| [`"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    assert!(rows.len() >= 11, "the table lists every library policy");
    for row in rows {
        let [file, selects, _, mode, budget] = row[..] else {
            panic!("a row of five cells: {row:?}");
        };
        let name = file
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("a file name in {file}"));
        let source = std::fs::read_to_string(root.join("policies").join(name)).unwrap();
        let compiled = compile(&source, &config);
        assert!(!compiled.has_errors(), "{name}");
        let policy = &compiled.program.policies[0];
        assert_eq!(selects, policy.selector.kind.keyword(), "{name}: selects");
        assert_eq!(mode, format!("`{}`", policy.mode.keyword()), "{name}: mode");
        let b = kubeskippy::safety::budget(policy, &config);
        let shown = |n: Option<u64>| n.map_or("unbounded".to_string(), |n| n.to_string());
        assert_eq!(
            budget,
            format!("{} / {}", shown(b.per_hour), shown(b.per_target_per_hour)),
            "{name}: budget"
        );
    }
}
