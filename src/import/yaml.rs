//! YAML read into a tree whose every node knows where it stands in the file,
//! so the import can point at the field it could not convert.
//!
//! Built from yaml-rust2's events, which carry the position where each node
//! starts; where a node ends is read off the source (see [`scalar_end`]).
//! Scalars stay text: the import reads each as the field it fills expects
//! (a number, a duration, a name) and says where one does not fit.

use crate::span::Span;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Deeper nesting than this is refused: a healing policy is a few levels deep,
/// and the tree is dropped recursively.
const MAX_DEPTH: usize = 64;
/// More nodes than this (counting each alias as a copy) are refused, so that
/// aliases of aliases cannot blow up a small file.
const MAX_NODES: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar's text; `plain` when unquoted (so `null`, `~` and an empty
    /// value mean no value, and numbers may be read from it).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
}

/// YAML that could not be read, at the byte where the reader stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct YamlError {
    pub at: usize,
    pub message: String,
}

impl Node {
    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// `key: value` in a mapping, as far as it goes on the key's line: where
    /// a note about the field points.
    pub fn field(&self, key: &str, source: &str) -> Option<Span> {
        let (k, v) = self
            .entries()
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))?;
        let same_line = source
            .get(k.span.end..v.span.start)
            .is_some_and(|between| !between.contains('\n'));
        let end = if same_line {
            v.head(source).end
        } else {
            k.span.end
        };
        Some(Span::new(k.span.start, end.max(k.span.end)))
    }

    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(entries) => entries,
            _ => &[],
        }
    }

    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A plain `null`, `~` or empty scalar: a key written with no value.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    pub fn as_f64(&self) -> Option<f64> {
        let text = self.as_str()?.trim();
        let number = text.strip_prefix('+').unwrap_or(text);
        // Rust also reads `inf` and `NaN`, which no threshold means.
        if !number.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
            return None;
        }
        number.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    pub fn as_i64(&self) -> Option<i64> {
        let v = self.as_f64()?;
        (v.fract() == 0.0 && v.abs() < 1e15).then_some(v as i64)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()? {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    /// The node's first line: where a note about the whole of a mapping
    /// points, rather than underlining all of it.
    pub fn head(&self, source: &str) -> Span {
        let start = self.span.start.min(source.len());
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        Span::new(start, self.span.end.min(line_end).max(start))
    }
}

/// Every document of `source`, in order; an empty document is a null scalar.
pub fn documents(source: &str) -> Result<Vec<Node>, YamlError> {
    // A byte-order mark is not YAML's to read (yaml-rust2 takes it for a
    // character of the first scalar), but editors write one.
    let body = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut builder = Builder {
        source,
        chars: CharOffsets::new(body, source.len() - body.len()),
        stack: Vec::new(),
        anchors: Vec::new(),
        documents: Vec::new(),
        nodes: 0,
        error: None,
    };
    let mut parser = Parser::new_from_str(body);
    let loaded = parser.load(&mut builder, true);
    if let Some(error) = builder.error {
        return Err(error);
    }
    loaded.map_err(|e| YamlError {
        at: builder.chars.byte(e.marker().index()),
        message: e.info().to_string(),
    })?;
    Ok(builder.documents)
}

/// Byte offsets in the source of character indexes in the text parsed
/// (the source after `base` bytes): yaml-rust2 counts characters.
struct CharOffsets {
    ascii: bool,
    offsets: Vec<usize>,
    len: usize,
    base: usize,
}

impl CharOffsets {
    fn new(text: &str, base: usize) -> CharOffsets {
        let ascii = text.is_ascii();
        let offsets = if ascii {
            Vec::new()
        } else {
            text.char_indices().map(|(i, _)| i).collect()
        };
        CharOffsets {
            ascii,
            offsets,
            len: text.len(),
            base,
        }
    }

    fn byte(&self, index: usize) -> usize {
        let offset = if self.ascii {
            index.min(self.len)
        } else {
            self.offsets.get(index).copied().unwrap_or(self.len)
        };
        self.base + offset
    }
}

/// A collection being read: its items, where it starts, its anchor, and
/// whether it is a flow collection (`[…]`, `{…}`), where `,` ends a scalar.
enum Open {
    Seq(Vec<Node>, usize, usize, bool),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize, bool),
}

impl Open {
    fn flow(&self) -> bool {
        match self {
            Open::Seq(.., flow) | Open::Map(.., flow) => *flow,
        }
    }
}

struct Builder<'a> {
    source: &'a str,
    chars: CharOffsets,
    stack: Vec<Open>,
    /// Anchored nodes by the parser's anchor id.
    anchors: Vec<(usize, Node)>,
    documents: Vec<Node>,
    nodes: usize,
    error: Option<YamlError>,
}

impl Builder<'_> {
    fn fail(&mut self, at: usize, message: &str) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                at,
                message: message.to_string(),
            });
        }
        self.stack.clear();
    }

    fn count(&mut self, nodes: usize, at: usize) -> bool {
        self.nodes = self.nodes.saturating_add(nodes);
        if self.nodes > MAX_NODES {
            self.fail(
                at,
                "the file has too many nodes (aliases included) to import",
            );
            return false;
        }
        true
    }

    /// A finished node: into its parent, or a document of its own.
    fn place(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq(items, ..)) => items.push(node),
            Some(Open::Map(entries, key, ..)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn open(&mut self, open: Open, at: usize) {
        if self.stack.len() >= MAX_DEPTH {
            self.fail(at, "the YAML is nested too deeply to be a healing policy");
            return;
        }
        self.stack.push(open);
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let at = self.chars.byte(mark.index());
        match event {
            Event::Scalar(text, style, anchor, _) => {
                if !self.count(1, at) {
                    return;
                }
                let flow = self.stack.iter().any(Open::flow);
                let end = scalar_end(self.source, at, style, flow);
                let plain = style == TScalarStyle::Plain;
                self.place(
                    Node {
                        value: Value::Scalar { text, plain },
                        span: Span::new(at, end),
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => {
                let flow = self.source.get(at..).is_some_and(|r| r.starts_with('['));
                self.open(Open::Seq(Vec::new(), at, anchor, flow), at)
            }
            Event::MappingStart(anchor, _) => {
                let flow = self.source.get(at..).is_some_and(|r| r.starts_with('{'));
                self.open(Open::Map(Vec::new(), None, at, anchor, flow), at)
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (value, start, anchor) = match self.stack.pop() {
                    Some(Open::Seq(items, start, anchor, _)) => (Value::Seq(items), start, anchor),
                    Some(Open::Map(entries, _, start, anchor, _)) => {
                        (Value::Map(entries), start, anchor)
                    }
                    None => return,
                };
                if !self.count(1, start) {
                    return;
                }
                // A block mapping's event is marked where its first value
                // is: it starts at its first key.
                let start = first_start(&value).map_or(start, |first| first.min(start));
                let end = last_end(&value).max(start);
                self.place(
                    Node {
                        value,
                        span: Span::new(start, end),
                    },
                    anchor,
                );
            }
            Event::Alias(id) => {
                let Some(node) = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                else {
                    self.fail(at, "an alias names no anchor");
                    return;
                };
                if !self.count(size(&node), at) {
                    return;
                }
                // The copy stands where the alias is written.
                let flow = self.stack.iter().any(Open::flow);
                let end = scalar_end(self.source, at, TScalarStyle::Plain, flow);
                self.place(
                    Node {
                        span: Span::new(at, end),
                        ..node
                    },
                    0,
                );
            }
            Event::DocumentStart => self.anchors.clear(),
            Event::DocumentEnd | Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
    }
}

fn size(node: &Node) -> usize {
    // Iterative: the tree may be as deep as MAX_DEPTH allows.
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Value::Scalar { .. } => {}
            Value::Seq(items) => todo.extend(items),
            Value::Map(entries) => todo.extend(entries.iter().flat_map(|(k, v)| [k, v])),
        }
    }
    count
}

fn first_start(value: &Value) -> Option<usize> {
    match value {
        Value::Scalar { .. } => None,
        Value::Seq(items) => items.first().map(|n| n.span.start),
        Value::Map(entries) => entries.first().map(|(k, _)| k.span.start),
    }
}

fn last_end(value: &Value) -> usize {
    match value {
        Value::Scalar { .. } => 0,
        Value::Seq(items) => items.iter().map(|n| n.span.end).max().unwrap_or(0),
        Value::Map(entries) => entries.iter().map(|(_, v)| v.span.end).max().unwrap_or(0),
    }
}

/// Where a scalar starting at `start` ends in the source: a quoted one at its
/// closing quote, any other at the end of its first line (before a comment).
fn scalar_end(source: &str, start: usize, style: TScalarStyle, flow: bool) -> usize {
    let Some(rest) = source.get(start..) else {
        return source.len();
    };
    let bytes = rest.as_bytes();
    let quote = match style {
        TScalarStyle::SingleQuoted => Some(b'\''),
        TScalarStyle::DoubleQuoted => Some(b'"'),
        _ => None,
    };
    if let Some(q) = quote.filter(|q| bytes.first() == Some(q)) {
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if q == b'"' => i += 2,
                b'\'' if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
                c if c == q => return start + i + 1,
                _ => i += 1,
            }
        }
        return source.len();
    }
    let line = rest.find(['\n', '\r']).unwrap_or(rest.len());
    let text = &rest[..line];
    let text = text.find(" #").map_or(text, |i| &text[..i]);
    // A flow collection's scalar ends at its separator.
    let text = if flow && matches!(style, TScalarStyle::Plain) {
        text.find([',', ']', '}']).map_or(text, |i| &text[..i])
    } else {
        text
    };
    start + text.trim_end().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_where_they_are() {
        let source = "a: 1\nb:\n  - name: x # c\n    v: \"q\\\"\"\n---\nc: [1, two]\n";
        let docs = documents(source).expect("valid");
        assert_eq!(docs.len(), 2);
        let b = docs[0].get("b").expect("b");
        let item = &b.items()[0];
        let name = item.get("name").expect("name");
        assert_eq!(&source[name.span.start..name.span.end], "x");
        let v = item.get("v").expect("v");
        assert_eq!(&source[v.span.start..v.span.end], "\"q\\\"\"");
        assert_eq!(v.as_str(), Some("q\""));
        let c = docs[1].get("c").expect("c");
        assert_eq!(
            &source[c.items()[1].span.start..c.items()[1].span.end],
            "two"
        );
    }

    #[test]
    fn bad_yaml_is_an_error_with_a_place() {
        let error = documents("a: [1, 2\nb: c\n").expect_err("unclosed");
        assert!(error.at > 0, "{error:?}");
    }

    #[test]
    fn deep_nesting_and_alias_bombs_are_refused() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(documents(&deep).is_err());
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..8 {
            let refs = vec![format!("*{}", (b'a' + i) as char); 10].join(", ");
            bomb.push_str(&format!(
                "{}: &{} [{refs}]\n",
                (b'b' + i) as char,
                (b'b' + i) as char
            ));
        }
        assert!(documents(&bomb).is_err());
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_counted() {
        let source = "\u{feff}k: v\n";
        let docs = documents(source).expect("valid");
        let v = docs[0].get("k").expect("k");
        assert_eq!(&source[v.span.start..v.span.end], "v");
    }

    #[test]
    fn positions_count_bytes_in_non_ascii_text() {
        let source = "é: ü\nk: v\n";
        let docs = documents(source).expect("valid");
        let v = docs[0].get("k").expect("k");
        assert_eq!(&source[v.span.start..v.span.end], "v");
    }
}
