//! Where a position is, found by scanning text rather than parsing it, so it
//! works on the half-typed line at the cursor: the policy around it and the
//! kind that policy selects.

use super::declared::{metric_unit, Declared};
use crate::catalog::{self, Kind, Unit};

/// The offset of the `{` of the policy around `offset`, if any.
///
/// Brackets in comments and strings do not count; an unbalanced `}` does not
/// make the depth negative.
pub(crate) fn enclosing_policy(text: &str, offset: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = offset.min(bytes.len());
    let (mut depth, mut open) = (0usize, None);
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'#' => {
                while i < end && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < end && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    open = None;
                }
            }
            _ => {}
        }
        i += 1;
    }
    open
}

/// The kind selected by the policy whose body opens at `brace`.
pub(crate) fn policy_kind(text: &str, brace: usize) -> Option<Kind> {
    let body = text.get(brace + 1..)?;
    for line in body.split('\n') {
        let line = line.trim_start();
        if line.starts_with('}') {
            return None;
        }
        for statement in line.split(';') {
            let mut words = statement.split_whitespace();
            if words.next() == Some("select") {
                return words.next().and_then(Kind::from_keyword);
            }
        }
    }
    None
}

/// The unit of a literal that follows `words` (the words of its statement
/// before it): a duration after `for`, `cooldown`, `within`, `per` or a
/// window's comma; after a comparison or `=`, the unit of the nearest metric
/// or resource before it (in the action, only the action's own words count).
pub(crate) fn expected_unit(words: &[&str], declared: &[Declared<'_>]) -> Option<Unit> {
    let then = words.iter().position(|w| *w == "then");
    match *words.last()? {
        "for" | "cooldown" | "within" | "per" => return Some(Unit::Duration),
        "," if then.is_none() => return Some(Unit::Duration),
        ">" | ">=" | "<" | "<=" | "==" | "!=" | "=" | "max" | "min" => {}
        _ => return None,
    }
    let scope = then.map_or(words, |i| &words[i + 1..]);
    scope.iter().rev().find_map(|word| {
        if then.is_none() {
            if let Some(m) = catalog::metric(word) {
                return Some(m.unit);
            }
            return metric_unit(declared, word).and_then(Unit::from_keyword);
        }
        catalog::RESOURCES
            .iter()
            .find(|(r, _)| r == word)
            .map(|(_, unit)| *unit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_policy_and_its_kind() {
        let text = "# { not this\npolicy a { select nodes\n  when x > \"}\" then\n}\npolicy b {\n  when\n  select deployments in x\n}\n";
        let in_a = text.find("then").unwrap();
        let brace = enclosing_policy(text, in_a).unwrap();
        assert_eq!(policy_kind(text, brace), Some(Kind::Nodes));
        let in_b = text.rfind("when").unwrap();
        let brace = enclosing_policy(text, in_b).unwrap();
        assert_eq!(policy_kind(text, brace), Some(Kind::Deployments));
        assert_eq!(enclosing_policy(text, text.len()), None);
        assert_eq!(enclosing_policy(text, 0), None);
    }

    #[test]
    fn the_unit_a_literal_must_have() {
        let unit = |words: &str| {
            let words: Vec<&str> = words.split(' ').collect();
            expected_unit(&words, &[])
        };
        assert_eq!(unit("when memory_percent > 1 for"), Some(Unit::Duration));
        assert_eq!(unit("when avg(cpu_cores ,"), Some(Unit::Duration));
        assert_eq!(unit("when cpu_cores >"), Some(Unit::Cores));
        assert_eq!(
            unit("when cpu_cores > 1 then set memory_limit = 1Gi max"),
            Some(Unit::Bytes)
        );
        assert_eq!(unit("when memory_percent > 1 then scale up 2 max"), None);
        assert_eq!(unit("limit"), None);
    }
}
