//! Skippy embedded in Kubernetes YAML: the `spec.policy` of each
//! `HealingPolicy` document of a file, and the mapping of offsets between
//! the policy text and the YAML file; and the compilation of each as the
//! operator compiles that object, so `kubeskippy check` on a manifest and
//! the editor say what the operator's status will.
//!
//! A line scanner rather than a YAML parser, on purpose: the editor needs
//! byte positions inside the scalar, which YAML libraries do not report,
//! and a manifest being edited is often not valid YAML. What it reads: `---`
//! document separators; top-level `kind: HealingPolicy` (or
//! `ClusterHealingPolicy`) and, if present, an `apiVersion` in the
//! `kubeskippy.io` group; `metadata.namespace`; a top-level `spec:` holding
//! `policy:` as a literal (`|`) or folded (`>`) block, with chomping and
//! an optional indentation digit, or as a double- or single-quoted scalar
//! starting on the key's line (see [`scalar`] for how each is read). A plain
//! (unquoted) scalar is not read: `#` and `: ` in Skippy would end it.

mod scalar;

use scalar::{content, indent, Chomping, Piece, Style};

/// One embedded policy: its text (the scalar's value, as a YAML parser reads
/// it), and where each of its bytes stands in the YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    pub text: String,
    /// A `ClusterHealingPolicy` rather than a namespaced `HealingPolicy`.
    pub cluster: bool,
    /// The HealingPolicy's `metadata.namespace`, if the manifest names one.
    pub namespace: Option<String>,
    pieces: Vec<Piece>,
    /// Where the scalar's value starts in the YAML (for an empty one).
    start: usize,
    style: Style,
    /// A block's indentation in the YAML file, in spaces; for a quoted
    /// scalar, that of its continuation lines.
    indent: usize,
}

impl Embedded {
    /// `inserted` policy text as it must be written into this scalar in
    /// the YAML: inserted lines carry a block's indentation, and a quoted
    /// scalar's quotes, backslashes and line breaks are escaped. Skippy's
    /// line breaks are separators, so none may be folded away: in a folded
    /// block, a break before a more-indented line is kept as it is (a
    /// policy's body is, formatted), and any other is written as an empty
    /// line, which YAML reads as one break between two lines at the
    /// block's indentation (and as a harmless blank line elsewhere).
    pub fn spell(&self, inserted: &str) -> String {
        let indent = " ".repeat(self.indent);
        match self.style {
            Style::Literal => inserted.replace('\n', &format!("\n{indent}")),
            Style::Folded => {
                let mut out = String::new();
                for (i, line) in inserted.split('\n').enumerate() {
                    if i > 0 {
                        out.push('\n');
                        if !line.starts_with([' ', '\t']) {
                            out.push('\n');
                        }
                        out.push_str(&indent);
                    }
                    out.push_str(line);
                }
                out
            }
            Style::DoubleQuoted => inserted
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n"),
            // A single-quoted scalar has no escapes: an empty line is its
            // line break, and YAML drops each line's leading spaces (which
            // Skippy ignores).
            Style::SingleQuoted => inserted
                .replace('\'', "''")
                .replace('\n', &format!("\n\n{indent}")),
        }
    }

    /// The YAML offset of byte `offset` of the policy text. A byte inside
    /// an escape or a folded line break (which has no byte of its own in
    /// the YAML) maps to the start of what it was read from.
    pub fn to_yaml(&self, offset: usize) -> usize {
        let i = self
            .pieces
            .partition_point(|p| p.text <= offset)
            .saturating_sub(1);
        let Some(p) = self.pieces.get(i) else {
            return self.start;
        };
        let into = offset.saturating_sub(p.text);
        if p.verbatim {
            p.yaml + into.min(p.yaml_len)
        } else if into >= p.text_len && p.text_len > 0 {
            p.yaml + p.yaml_len
        } else {
            p.yaml
        }
    }

    /// The YAML range of `range` of the policy text. Its end is the end of
    /// the bytes before it, so a token just before an escaped line break
    /// or a stripped final one does not reach onto the next line; an empty
    /// range (an insertion point) stays empty.
    pub fn range_to_yaml(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        let start = self.to_yaml(range.start);
        if range.end <= range.start {
            return start..start;
        }
        let i = self
            .pieces
            .partition_point(|p| p.text < range.end)
            .saturating_sub(1);
        let end = match self.pieces.get(i) {
            Some(p) if p.verbatim => p.yaml + (range.end - p.text).min(p.yaml_len),
            Some(p) if range.end - p.text >= p.text_len => p.yaml + p.yaml_len,
            Some(p) => p.yaml,
            None => start,
        };
        start..end.max(start)
    }

    /// Compiles the policy as the operator compiles its object: one policy,
    /// and a `HealingPolicy` only in its own namespace (`default` when the
    /// manifest names none, as `kubectl apply` would put it there).
    pub fn compile(&self, config: &crate::safety::SafetyConfig) -> crate::check::Compiled {
        let host = if self.cluster {
            crate::check::Host::ClusterHealingPolicy
        } else {
            crate::check::Host::HealingPolicy {
                namespace: self.namespace.as_deref().unwrap_or("default"),
            }
        };
        crate::check::compile_in(&self.text, config, host)
    }

    /// `diagnostic` of the policy text, placed in the YAML file.
    pub fn diagnostic_to_yaml(
        &self,
        diagnostic: &crate::diagnostic::Diagnostic,
    ) -> crate::diagnostic::Diagnostic {
        let span = |s: crate::span::Span| {
            let yaml = self.range_to_yaml(s.start..s.end);
            crate::span::Span {
                start: yaml.start,
                end: yaml.end,
            }
        };
        let mut out = diagnostic.clone();
        out.span = span(out.span);
        for (related, _) in &mut out.related {
            *related = span(*related);
        }
        if let Some(suggestion) = &mut out.suggestion {
            suggestion.span = span(suggestion.span);
        }
        out
    }

    /// The offset in the policy text of YAML byte `offset`, if it is inside
    /// the policy: in bytes read as they are, or at the start of an escape
    /// or a line break (not in the indentation after it, which is the
    /// YAML's). A line break's end is the next line's start, often a YAML
    /// key after the block; only the end of a policy that does not end in a
    /// line break (before a closing quote, or at the end of the file) is
    /// inside.
    pub fn from_yaml(&self, offset: usize) -> Option<usize> {
        let i = self
            .pieces
            .partition_point(|p| p.yaml <= offset)
            .checked_sub(1)?;
        let p = &self.pieces[i];
        let into = offset - p.yaml;
        if (p.verbatim && into < p.yaml_len) || into == 0 {
            return Some(p.text + into.min(p.text_len));
        }
        let last = i + 1 == self.pieces.len();
        (last && into == p.yaml_len && !self.text.ends_with('\n')).then_some(self.text.len())
    }
}

/// Every `spec.policy` of a HealingPolicy in `yaml`, in order.
pub fn policies(yaml: &str) -> Vec<Embedded> {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in yaml.split_inclusive('\n') {
        lines.push((offset, line));
        offset += line.len();
    }
    lines
        .split(|(_, line)| is_document_marker(line))
        .filter(|document| is_healing_policy(document))
        .filter_map(|document| {
            let mut embedded = policy_block(yaml, document)?;
            embedded.cluster = top_level(document, "kind") == Some("ClusterHealingPolicy");
            embedded.namespace = namespace(document);
            Some(embedded)
        })
        .collect()
}

fn is_document_marker(line: &str) -> bool {
    let line = line.trim_end();
    line == "---" || line.starts_with("--- ") || line == "..."
}

/// A top-level `key: value`, its value without quotes and comments.
fn top_level<'a>(document: &[(usize, &'a str)], key: &str) -> Option<&'a str> {
    document.iter().find_map(|(_, line)| {
        let value = content(line).strip_prefix(key)?.strip_prefix(':')?;
        let value = value.split(" #").next().unwrap_or("").trim();
        Some(value.trim_matches(|c| c == '"' || c == '\''))
    })
}

fn is_healing_policy(document: &[(usize, &str)]) -> bool {
    matches!(
        top_level(document, "kind"),
        Some("HealingPolicy" | "ClusterHealingPolicy")
    ) && top_level(document, "apiVersion").is_none_or(|v| v.starts_with("kubeskippy.io/"))
}

/// `metadata.namespace` of a document: the first child of a top-level
/// `metadata:` named `namespace`.
fn namespace(document: &[(usize, &str)]) -> Option<String> {
    let start = document.iter().position(|(_, line)| {
        content(line).split(" #").next().map(str::trim_end) == Some("metadata:")
    })?;
    document[start + 1..]
        .iter()
        .map(|(_, line)| content(line))
        .filter(|text| !text.trim().is_empty() && !text.trim_start().starts_with('#'))
        .take_while(|text| indent(text) > 0)
        .find_map(|text| {
            let value = text.trim_start().strip_prefix("namespace:")?;
            let value = value.split(" #").next().unwrap_or("").trim();
            Some(value.trim_matches(|c| c == '"' || c == '\'').to_string())
        })
        .filter(|v| !v.is_empty())
}

fn policy_block(yaml: &str, document: &[(usize, &str)]) -> Option<Embedded> {
    let spec = document.iter().position(|(_, line)| {
        content(line).split(" #").next().map(str::trim_end) == Some("spec:")
    })?;
    let mut child_indent = None;
    for (i, &(offset, line)) in document.iter().enumerate().skip(spec + 1) {
        let text = content(line);
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        let n = indent(text);
        if n == 0 {
            return None;
        }
        if *child_indent.get_or_insert(n) != n {
            continue;
        }
        let Some(header) = text[n..].strip_prefix("policy:") else {
            continue;
        };
        let value = header.trim_start_matches([' ', '\t']);
        let start = offset + text.len() - value.len();
        let (style, indicators) = match value.chars().next() {
            Some('|') => (Style::Literal, &value[1..]),
            Some('>') => (Style::Folded, &value[1..]),
            Some(quote @ ('"' | '\'')) => {
                let style = if quote == '"' {
                    Style::DoubleQuoted
                } else {
                    Style::SingleQuoted
                };
                let end = document.last().map_or(offset, |(o, l)| o + l.len());
                let read = scalar::quoted(yaml, start, end, style)?;
                return Some(embedded(read, start + 1, style, n + 2));
            }
            _ => return None,
        };
        let indicators = indicators.split(" #").next().unwrap_or("").trim_end();
        let mut explicit = None;
        let mut chomping = Chomping::Clip;
        for c in indicators.chars() {
            match c {
                '-' => chomping = Chomping::Strip,
                '+' => chomping = Chomping::Keep,
                '1'..='9' => explicit = c.to_digit(10).map(|d| n + d as usize),
                _ => return None,
            }
        }
        let (read, block_indent) = scalar::block(&document[i + 1..], n, explicit, style, chomping);
        let body_start = document.get(i + 1).map_or(offset + line.len(), |(o, _)| *o);
        return Some(embedded(
            read,
            body_start + block_indent,
            style,
            block_indent,
        ));
    }
    None
}

fn embedded(read: scalar::Read, start: usize, style: Style, indent: usize) -> Embedded {
    Embedded {
        text: read.text,
        cluster: false,
        namespace: None,
        pieces: read.pieces,
        start,
        style,
        indent,
    }
}

#[cfg(test)]
mod styles_tests;

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFESTS: &str = "\
apiVersion: v1
kind: ConfigMap
data:
  policy: |
    not this
---
apiVersion: kubeskippy.io/v1alpha1
kind: HealingPolicy
metadata:
  name: a
spec:
  policy: |
    policy a {
      select pods

      when x > 1 then delete
    }
  other: 1
---
# comment
apiVersion: kubeskippy.io/v1alpha1
kind: \"HealingPolicy\"
spec:
    policy: |2-
        indented more
";

    #[test]
    fn finds_each_healing_policy_block() {
        let found = policies(MANIFESTS);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].text,
            "policy a {\n  select pods\n\n  when x > 1 then delete\n}\n"
        );
        // `-` strips the final line break, as YAML does.
        assert_eq!(found[1].text, "  indented more");
    }

    #[test]
    fn offsets_map_both_ways() {
        let found = &policies(MANIFESTS)[0];
        let in_policy = found.text.find("when").unwrap();
        let in_yaml = MANIFESTS.find("when").unwrap();
        assert_eq!(found.to_yaml(in_policy), in_yaml);
        assert_eq!(found.from_yaml(in_yaml), Some(in_policy));
        assert_eq!(found.from_yaml(0), None);
        // The start of the YAML key after the block is not in the policy.
        assert_eq!(found.from_yaml(MANIFESTS.find("  other").unwrap()), None);
        let last = found.text.len();
        assert_eq!(
            found.from_yaml(MANIFESTS.find("  other").unwrap() - 1),
            Some(last - 1)
        );
        // A last line without a line break ends the file: its end is inside.
        let yaml = "kind: HealingPolicy\nspec:\n  policy: |\n    policy a {}";
        let open = &policies(yaml)[0];
        assert_eq!(open.from_yaml(yaml.len()), Some(open.text.len()));
        // Past the end clamps to the end of the last line.
        assert_eq!(found.to_yaml(9999), MANIFESTS.find("  other").unwrap());
    }

    #[test]
    fn odd_yaml_is_not_a_policy() {
        assert!(policies("").is_empty());
        assert!(policies("kind: HealingPolicy\nspec:\n  policy: plain\n").is_empty());
        assert!(policies("kind: HealingPolicy\nspec:\n  policy: |x\n  a\n").is_empty());
        assert!(policies("kind: HealingPolicy\nspec:\n  policy: \"open\n").is_empty());
        assert!(policies("kind: HealingPolicy\nspec:\n  policy: \"\\q\"\n").is_empty());
        assert!(policies("kind: HealingPolicy\nspec:\npolicy: |\n").is_empty());
        let empty = policies("kind: HealingPolicy\nspec:\n  policy: |\n");
        assert_eq!(empty[0].text, "");
    }

    #[test]
    fn a_cluster_policy_and_a_namespace_are_read() {
        let yaml = "\
apiVersion: kubeskippy.io/v1alpha1
kind: HealingPolicy
metadata:
  name: a
  namespace: \"shop\"  # the tenant's
spec:
  policy: |
    policy a {
      select pods in payments
      when restarts > 3 then restart
    }
---
kind: ClusterHealingPolicy
spec:
  policy: |
    policy b {
      select pods in payments
      when restarts > 3 then restart
    }
";
        let found = policies(yaml);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].namespace.as_deref(), Some("shop"));
        assert!(!found[0].cluster && found[1].cluster);
        let config = crate::safety::SafetyConfig::default();
        let codes = |e: &Embedded| {
            e.compile(&config)
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.code.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            codes(&found[0]),
            ["E0309"],
            "a tenant acts in its namespace only"
        );
        assert!(codes(&found[1]).is_empty(), "a cluster policy may");
        let compiled = found[0].compile(&config);
        let outside = compiled
            .diagnostics
            .iter()
            .find(|d| d.code.as_str() == "E0309")
            .expect("E0309");
        let placed = found[0].diagnostic_to_yaml(outside);
        assert_eq!(&yaml[placed.span.start..placed.span.end], "payments");
    }
}
