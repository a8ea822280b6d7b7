//! A converted policy before it is compiled: its lines, each with the place
//! in the YAML it came from, so a problem `check` finds in a line is
//! reported at the field that produced it.

use crate::span::Span;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    /// The HealingPolicy document's first line.
    pub origin: Span,
    /// `select`, `mode`, `limit` and `cooldown`, each with its origin.
    pub header: Vec<(String, Span)>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
pub struct Rule {
    /// The trigger's name, written above the rule as a comment.
    pub trigger: String,
    pub condition: String,
    /// `for D`, when the trigger has a duration.
    pub hold: Option<String>,
    pub action: String,
    /// The trigger's place in the YAML, and its action's.
    pub origin: Span,
    pub action_origin: Span,
    /// All of the trigger, for the notes about it.
    pub extent: Span,
    /// A metric or patch declaration the rule needs.
    pub declarations: Vec<Declaration>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Declaration {
    pub name: String,
    pub text: String,
}

/// Where a line of the emitted text came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin {
    Header(Span),
    Rule(usize),
    /// A declaration, by the index of the first rule that needs it.
    Declaration(usize),
    /// Comments, braces and blank lines.
    Layout,
}

impl Draft {
    /// The declarations the rules need, each once, as lines.
    pub fn declarations(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.rules
            .iter()
            .flat_map(|r| &r.declarations)
            .filter(|d| seen.insert(d.name.as_str()))
            .map(|d| d.text.clone())
            .collect()
    }

    /// The policy as Skippy text (its declarations first), and each line's
    /// origin.
    pub fn emit(&self) -> (String, Vec<Origin>) {
        let mut text = String::new();
        let mut origins = Vec::new();
        let mut line = |text: &mut String, s: &str, origin: Origin| {
            text.push_str(s);
            text.push('\n');
            origins.push(origin);
        };
        let mut declared = HashSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            for d in &rule.declarations {
                if declared.insert(d.name.as_str()) {
                    line(&mut text, &d.text, Origin::Declaration(i));
                }
            }
        }
        if !declared.is_empty() {
            line(&mut text, "", Origin::Layout);
        }
        line(
            &mut text,
            &format!("policy {} {{", self.name),
            Origin::Layout,
        );
        for (statement, span) in &self.header {
            line(&mut text, &format!("  {statement}"), Origin::Header(*span));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            line(&mut text, "", Origin::Layout);
            let comment = format!("  # trigger {}", rule.trigger.replace(['\n', '\r'], " "));
            line(&mut text, &comment, Origin::Rule(i));
            let hold = rule
                .hold
                .as_ref()
                .map(|d| format!(" for {d}"))
                .unwrap_or_default();
            let rule_text = format!("  when {}{hold} then {}", rule.condition, rule.action);
            line(&mut text, &rule_text, Origin::Rule(i));
        }
        line(&mut text, "}", Origin::Layout);
        (text, origins)
    }
}

/// The names given so far, file-wide: policies, metrics and patches each
/// have their own, and a name is declared once per file.
#[derive(Debug, Default)]
pub struct Names {
    policies: HashSet<String>,
    metrics: HashSet<String>,
    patches: HashSet<String>,
    /// The names already given to what one place in the YAML declares, so
    /// the policies of one HealingPolicy (one per kind) share them.
    given: HashMap<(u8, usize), String>,
}

#[derive(Clone, Copy)]
pub enum Space {
    Policy,
    Metric,
    Patch,
}

impl Names {
    /// The name of what the YAML at `origin` declares: claimed the first
    /// time, the same after.
    pub fn claim_for(&mut self, space: Space, origin: usize, wanted: &str) -> String {
        let key = (space as u8, origin);
        if let Some(name) = self.given.get(&key) {
            return name.clone();
        }
        let name = self.claim(space, wanted);
        self.given.insert(key, name.clone());
        name
    }

    /// `wanted`, or `wanted-2`, `wanted-3`… if it is taken (or, for a
    /// metric, built in).
    pub fn claim(&mut self, space: Space, wanted: &str) -> String {
        let (set, sep) = match space {
            Space::Policy => (&mut self.policies, '-'),
            Space::Metric => (&mut self.metrics, '_'),
            Space::Patch => (&mut self.patches, '-'),
        };
        let builtin =
            |n: &str| matches!(space, Space::Metric) && crate::catalog::metric(n).is_some();
        let mut name = wanted.to_string();
        let mut n = 2;
        while set.contains(&name) || builtin(&name) {
            name = format!("{wanted}{sep}{n}");
            n += 1;
        }
        set.insert(name.clone());
        name
    }
}
