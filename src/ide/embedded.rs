//! Skippy embedded in Kubernetes YAML: the `spec.policy` block scalar (`|`) of
//! each `HealingPolicy` document of a file, and the mapping of offsets between
//! the policy text and the YAML file; and the compilation of each as the
//! operator compiles that object, so `kubeskippy check` on a manifest and
//! the editor say what the operator's status will.
//!
//! A line scanner rather than a YAML parser, on purpose: the editor needs
//! byte positions inside the block scalar, which YAML libraries do not report,
//! and a manifest being edited is often not valid YAML. What it reads: `---`
//! document separators; top-level `kind: HealingPolicy` (or
//! `ClusterHealingPolicy`) and, if present, an `apiVersion` in the
//! `kubeskippy.io` group; `metadata.namespace`; a top-level `spec:` holding a
//! `policy: |` literal block (with `-`/`+` chomping and an optional explicit
//! indentation digit). Folded (`>`) and quoted policies are not read: their
//! text is not the file's text line for line.

/// One embedded policy: its text (the block scalar without its indentation),
/// and where each of its lines stands in the YAML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    pub text: String,
    /// A `ClusterHealingPolicy` rather than a namespaced `HealingPolicy`.
    pub cluster: bool,
    /// The HealingPolicy's `metadata.namespace`, if the manifest names one.
    pub namespace: Option<String>,
    /// For each line of `text`: (its offset in `text`, its offset in the YAML,
    /// its length in bytes including the line break).
    lines: Vec<(usize, usize, usize)>,
    /// The block's indentation in the YAML file, in spaces.
    indent: usize,
}

impl Embedded {
    /// The indentation a line inserted into the policy needs in the YAML.
    pub fn indent(&self) -> String {
        " ".repeat(self.indent)
    }

    /// The YAML offset of byte `offset` of the policy text.
    pub fn to_yaml(&self, offset: usize) -> usize {
        let i = self
            .lines
            .partition_point(|&(start, _, _)| start <= offset)
            .saturating_sub(1);
        match self.lines.get(i) {
            Some(&(start, yaml, len)) => yaml + offset.saturating_sub(start).min(len),
            None => 0,
        }
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
        let span = |s: crate::span::Span| crate::span::Span {
            start: self.to_yaml(s.start),
            end: self.to_yaml(s.end),
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
    /// the policy. A line's end is exclusive (the offset after its line break
    /// is the next line's, often a YAML key after the block), except for a
    /// last line without a line break, at the end of the file.
    pub fn from_yaml(&self, offset: usize) -> Option<usize> {
        self.lines
            .iter()
            .find(|&&(start, yaml, len)| {
                let open_end = len == 0 || !self.text[start..start + len].ends_with('\n');
                yaml <= offset && (offset < yaml + len || (open_end && offset == yaml + len))
            })
            .map(|&(start, yaml, _)| start + (offset - yaml))
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
            let mut embedded = policy_block(document)?;
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

fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
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

fn policy_block(document: &[(usize, &str)]) -> Option<Embedded> {
    let spec = document.iter().position(|(_, line)| {
        content(line).split(" #").next().map(str::trim_end) == Some("spec:")
    })?;
    let mut child_indent = None;
    for (i, (_, line)) in document.iter().enumerate().skip(spec + 1) {
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
        let Some(header) = text.trim_start().strip_prefix("policy:") else {
            continue;
        };
        let header = header.split(" #").next().unwrap_or("").trim();
        let indicator = header.strip_prefix('|')?;
        let explicit = indicator
            .chars()
            .find(|c| c.is_ascii_digit())
            .and_then(|c| c.to_digit(10))
            .map(|d| n + d as usize);
        return Some(block(&document[i + 1..], n, explicit));
    }
    None
}

/// The literal block scalar in `lines`, below a key indented by `parent`.
fn block(lines: &[(usize, &str)], parent: usize, explicit: Option<usize>) -> Embedded {
    let block_indent = explicit.unwrap_or_else(|| {
        lines
            .iter()
            .map(|(_, line)| content(line))
            .find(|text| !text.trim().is_empty())
            .map_or(parent + 1, indent)
    });
    let mut embedded = Embedded {
        text: String::new(),
        cluster: false,
        namespace: None,
        lines: Vec::new(),
        indent: block_indent,
    };
    for &(offset, line) in lines {
        let text = content(line);
        let blank = text.trim().is_empty();
        if !blank && (indent(text) < block_indent || block_indent <= parent) {
            break;
        }
        let body = line.get(block_indent.min(text.len())..).unwrap_or("");
        embedded.lines.push((
            embedded.text.len(),
            offset + block_indent.min(text.len()),
            body.len(),
        ));
        embedded.text.push_str(body);
    }
    embedded
}

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
        assert_eq!(found[1].text, "  indented more\n");
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
        assert!(policies("kind: HealingPolicy\nspec:\n  policy: >\n    folded\n").is_empty());
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
