//! A bound on the nesting of test and scenario files, checked before the YAML
//! parser reads them. libyaml's scanner does work per open level for each
//! token, so 100,000 nested `[` took more than 30 s before serde_yaml's own
//! recursion limit could refuse them; this pass is linear.
//!
//! It counts what can nest: block indentation levels, sequence dashes that
//! open an entry on the same line (`- - - x`), and flow brackets. Brackets in
//! quoted scalars, comments, block scalars (`|`, `>`) and inside plain
//! scalars do not count. The count errs high (a sequence dash and the indent
//! of its entry may both count), which the bound leaves ample room for: the
//! deepest file of either format nests about eight levels.

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 100;

/// Where `text` first nests deeper than [`MAX_DEPTH`], as a 1-based line and
/// column (in characters), if it does.
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut scan = Scan::default();
    for (n, line) in lines(text).enumerate() {
        if let Some(at) = scan.line(line) {
            let column = line.get(..at).map_or(at, |before| before.chars().count());
            return Some((n + 1, column + 1));
        }
    }
    None
}

/// The lines of `text`, split at `\n`, `\r\n` and a lone `\r` as YAML splits
/// them.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let text = rest?;
        match text.find(['\n', '\r']) {
            Some(end) => {
                let after = if text[end..].starts_with("\r\n") {
                    end + 2
                } else {
                    end + 1
                };
                rest = Some(&text[after..]);
                Some(&text[..end])
            }
            None => {
                rest = None;
                Some(text)
            }
        }
    })
}

#[derive(Default)]
struct Scan {
    /// The indents of the open block levels, innermost last.
    indents: Vec<usize>,
    /// Open flow collections.
    flow: usize,
    /// The quote of a quoted scalar that goes on past its line.
    quote: Option<u8>,
    /// The indent of the line that opened a block scalar still going on.
    block_scalar: Option<usize>,
}

impl Scan {
    /// Scans one line; the byte where it passes the bound, if it does.
    fn line(&mut self, line: &str) -> Option<usize> {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        let blank = bytes[indent..].iter().all(|b| b.is_ascii_whitespace());
        if let Some(owner) = self.block_scalar {
            if blank || indent > owner {
                return None;
            }
            self.block_scalar = None;
        }
        let mut at = 0;
        let mut dashes = 0;
        if self.flow == 0 && self.quote.is_none() {
            if blank || bytes[indent] == b'#' {
                return None;
            }
            while self.indents.last().is_some_and(|&open| open >= indent) {
                self.indents.pop();
            }
            self.indents.push(indent);
            at = indent;
            // `- - x`: each dash opens an entry on this line.
            while bytes.get(at) == Some(&b'-')
                && bytes.get(at + 1).is_none_or(|b| b.is_ascii_whitespace())
            {
                dashes += 1;
                if self.indents.len() + dashes > MAX_DEPTH {
                    return Some(at);
                }
                at += 1;
                while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
                    at += 1;
                }
            }
        }
        let depth = |flow: usize| self.indents.len() + dashes + flow;
        // Whether a node may start here (a bracket there opens a collection).
        let mut node_start = true;
        while at < bytes.len() {
            let b = bytes[at];
            if let Some(quote) = self.quote {
                match b {
                    b'\\' if quote == b'"' => at += 1,
                    b'\'' if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') => at += 1,
                    _ if b == quote => self.quote = None,
                    _ => {}
                }
                at += 1;
                continue;
            }
            let after_blank = at == 0 || bytes[at - 1].is_ascii_whitespace();
            match b {
                b'#' if after_blank => return None,
                b'"' | b'\'' if self.flow > 0 || node_start => self.quote = Some(b),
                b'[' | b'{' if self.flow > 0 || node_start => {
                    self.flow += 1;
                    if depth(self.flow) > MAX_DEPTH {
                        return Some(at);
                    }
                }
                b']' | b'}' if self.flow > 0 => self.flow -= 1,
                b'|' | b'>' if self.flow == 0 && node_start => {
                    self.block_scalar = Some(indent);
                    return None;
                }
                b' ' | b'\t' => {}
                // A value starts after `: `; in a flow collection after `,` too.
                b':' if bytes.get(at + 1).is_none_or(|b| b.is_ascii_whitespace()) => {
                    node_start = true;
                    at += 1;
                    continue;
                }
                b',' if self.flow > 0 => {
                    node_start = true;
                    at += 1;
                    continue;
                }
                // An anchor or a tag comes before the node it names.
                b'&' | b'!' if node_start => {
                    while bytes.get(at).is_some_and(|b| !b.is_ascii_whitespace()) {
                        at += 1;
                    }
                    continue;
                }
                _ => node_start = false,
            }
            if !matches!(b, b' ' | b'\t') {
                node_start = self.flow > 0 && matches!(b, b'[' | b'{');
            }
            at += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_formats_own_files_are_shallow() {
        let test = "tests:\n  - name: a [b\n    targets:\n      - target: pods/a/b\n        series: { memory_percent: '1 [ 2' }\n        labels: {app: \"[[[\"}\n    expect:\n      - at: 0s\n        decisions: []\n";
        assert_eq!(too_deep(test), None);
        let scenario = "name: t # [[[[\ndescription: |\n  [[[[[[\n  {{{{\nnodes: [a, b]\nworkloads:\n  - name: w\n    faults:\n      - memory_leak: { per_minute: 2, after: 5m }\n";
        assert_eq!(too_deep(scenario), None);
    }

    #[test]
    fn flow_brackets_past_the_bound_are_found_where_they_pass_it() {
        let deep = format!("tests: {}", "[".repeat(100_000));
        // `tests:` is one level, and the 100th bracket the 101st.
        assert_eq!(too_deep(&deep), Some((1, 7 + 100)));
        let shallow = format!("tests: {}1{}", "[".repeat(90), "]".repeat(90));
        assert_eq!(too_deep(&shallow), None);
        let maps = format!("a:\n  b: {}", "{c: ".repeat(200));
        assert!(too_deep(&maps).is_some());
    }

    #[test]
    fn dashes_on_one_line_and_brackets_on_many_lines_count() {
        let dashes = format!("tests:\n  {}x\n", "- ".repeat(100_000));
        assert_eq!(too_deep(&dashes).map(|(line, _)| line), Some(2));
        let lines = format!("tests:\n{}", "[\n".repeat(200));
        assert_eq!(too_deep(&lines).map(|(line, _)| line), Some(101));
        // A lone CR ends a line as a LF does.
        let cr = format!("tests:\r{}", "[\r".repeat(200));
        assert_eq!(too_deep(&cr).map(|(line, _)| line), Some(101));
    }

    #[test]
    fn quotes_comments_and_block_scalars_hide_brackets() {
        let quoted = format!("a: \"{}\"\nb: '{}'\n", "[".repeat(500), "{".repeat(500));
        assert_eq!(too_deep(&quoted), None);
        let commented = format!("a: 1 # {}\n", "[".repeat(500));
        assert_eq!(too_deep(&commented), None);
        let block = format!("a: >\n  {}\nb: 1\n", "[".repeat(500));
        assert_eq!(too_deep(&block), None);
        let plain = format!("a: x{}\n", "[".repeat(500));
        assert_eq!(too_deep(&plain), None);
        // A quote inside a flow collection hides its brackets, and the
        // collection closes after it.
        let flow = format!("a: [\"{}\", 1]\nb: {}", "]".repeat(10), "[".repeat(150));
        assert!(too_deep(&flow).is_some_and(|(line, _)| line == 2));
    }
}
