//! `select`: the kind, the namespaces and the label matches of a policy, with
//! the safety rules on what may be selected.

use super::Checker;
use crate::catalog::{self, Kind};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, Namespaces, Selector};
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn select(&mut self, select: &ast::Select) -> Option<Selector> {
        let kind = self.kind(&select.kind);
        let namespaces = kind.and_then(|kind| self.namespaces(kind, select));
        let mut labels = Vec::new();
        let mut labels_ok = true;
        if let (Some(Kind::Cluster), Some(first)) = (kind, select.labels.first()) {
            self.report(
                Diagnostic::new(
                    Code::InvalidLabel,
                    first.span,
                    "the cluster has no labels to match",
                )
                .label("never matches")
                .help(
                    "`select cluster` is the one target of the whole cluster: remove the `where`",
                ),
            );
            labels_ok = false;
        }
        for m in &select.labels {
            match self.label_match(m) {
                Some(label) => labels.push(label),
                None => labels_ok = false,
            }
        }
        Some(Selector {
            kind: kind?,
            namespaces: namespaces?,
            labels: labels_ok.then_some(labels)?,
        })
    }

    fn kind(&mut self, word: &ast::Ident) -> Option<Kind> {
        if let Some(kind) = Kind::from_keyword(&word.name) {
            return Some(kind);
        }
        let lower = word.name.to_ascii_lowercase();
        let plural = if lower.ends_with('s') {
            lower.clone()
        } else {
            format!("{lower}s")
        };
        if catalog::FORBIDDEN_KINDS.contains(&plural.as_str()) {
            self.report(
                Diagnostic::new(
                    Code::ForbiddenAction,
                    word.span,
                    format!("KubeSkippy never acts on {plural}"),
                )
                .label("never selectable")
                .help("persistent volumes, RBAC objects, service accounts and CRDs are outside what KubeSkippy may change"),
            );
            return None;
        }
        let d = Diagnostic::new(
            Code::UnknownKind,
            word.span,
            format!("unknown kind `{}`", word.name),
        )
        .label("expected a kind");
        let keywords = Kind::ALL.map(Kind::keyword);
        let d = match short_name(&plural).or_else(|| closest(&plural, keywords)) {
            Some(s) => d.suggest(s),
            None => d.help(format!(
                "a policy selects {}",
                keywords.map(|k| format!("`{k}`")).join(", ")
            )),
        };
        self.report(d);
        None
    }

    fn namespaces(&mut self, kind: Kind, select: &ast::Select) -> Option<Namespaces> {
        let protected = &self.config.protected_namespaces;
        match &select.namespaces {
            None if kind.is_namespaced() => Some(Namespaces::Own),
            None => Some(Namespaces::ClusterScoped),
            Some(given) if !kind.is_namespaced() => {
                let span = match given {
                    ast::Namespaces::Any(span) => *span,
                    ast::Namespaces::Named(names) => names
                        .iter()
                        .map(|n| n.span)
                        .reduce(|a, b| a.to(b))
                        .unwrap_or(select.span),
                };
                self.report(
                    Diagnostic::new(
                        Code::NamespaceOnClusterKind,
                        span,
                        format!("{kind} are not namespaced"),
                    )
                    .label("remove the namespaces")
                    .help(match kind {
                        Kind::Nodes => "select nodes by label: `select nodes where node-role = \"worker\"`".to_string(),
                        Kind::Cluster => "the cluster is one target, in no namespace: write `select cluster`".to_string(),
                        _ => format!("{kind} belong to no namespace: select them by label, `select {kind} where …`"),
                    }),
                );
                None
            }
            Some(ast::Namespaces::Any(_)) => Some(Namespaces::AnyExcept(protected.clone())),
            Some(ast::Namespaces::Named(names)) => {
                let mut ok = true;
                let mut out: Vec<String> = Vec::new();
                // A set beside the list: a `select … in` of many namespaces
                // was quadratic (200,000 names took a minute).
                let mut seen = std::collections::HashSet::new();
                for name in names {
                    if let Err(problem) = crate::safety::namespace_name(&name.name) {
                        ok = false;
                        self.report(
                            Diagnostic::new(
                                Code::InvalidName,
                                name.span,
                                format!("`{}` is not a valid namespace name", name.name),
                            )
                            .label(problem)
                            .help("a namespace name is up to 63 lowercase letters, digits and `-`, starting and ending with a letter or digit"),
                        );
                    } else if self.config.is_protected_namespace(&name.name) {
                        ok = false;
                        self.report(
                            Diagnostic::new(
                                Code::ProtectedNamespace,
                                name.span,
                                format!("`{}` is a protected namespace", name.name),
                            )
                            .label("no policy may act here")
                            .help(format!(
                                "protected namespaces: {} (set by the safety configuration, `--safety FILE`)",
                                protected.join(", ")
                            )),
                        );
                    } else if seen.insert(name.name.as_str()) {
                        out.push(name.name.clone());
                    }
                }
                ok.then_some(Namespaces::Named(out))
            }
        }
    }

    fn label_match(&mut self, m: &ast::LabelMatch) -> Option<ir::LabelSelector> {
        let key = &m.key.name;
        if let Err(problem) = label_key(key) {
            self.report(
                Diagnostic::new(Code::InvalidLabel, m.key.span, format!("`{key}` is not a valid label key"))
                    .label(problem)
                    .help("a label key is an optional DNS prefix and `/`, then up to 63 letters, digits, `-`, `_` or `.`: `app.kubernetes.io/name`"),
            );
            return None;
        }
        let values: Vec<&ast::StringLit> = match &m.op {
            ast::LabelOp::Equals(v) | ast::LabelOp::NotEquals(v) => vec![v],
            ast::LabelOp::In(vs) => vs.iter().collect(),
            ast::LabelOp::Exists | ast::LabelOp::NotExists => vec![],
        };
        let mut ok = true;
        for value in &values {
            if let Err(problem) = label_value(&value.value) {
                ok = false;
                self.report(
                    Diagnostic::new(
                        Code::InvalidLabel,
                        value.span,
                        format!("\"{}\" is not a valid label value", value.value),
                    )
                    .label(problem)
                    .help("a label value is up to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"),
                );
            }
        }
        if !ok {
            return None;
        }
        let selects_protected = match &m.op {
            ast::LabelOp::Equals(v) => self.config.protected_labels.get(key) == Some(&v.value),
            ast::LabelOp::In(vs) => {
                vs.len() == 1 && self.config.protected_labels.get(key) == Some(&vs[0].value)
            }
            _ => false,
        };
        if selects_protected {
            self.report(
                Diagnostic::new(
                    Code::ProtectedLabel,
                    m.span,
                    format!("this selects only objects labelled `{key}`, which are protected"),
                )
                .label("nothing selected here can ever be acted on")
                .help(
                    "protected objects are never touched; remove the label match or the protection",
                ),
            );
            return None;
        }
        let op = match &m.op {
            ast::LabelOp::Equals(v) => ir::LabelOp::Equals(v.value.clone()),
            ast::LabelOp::NotEquals(v) => ir::LabelOp::NotEquals(v.value.clone()),
            ast::LabelOp::In(vs) => ir::LabelOp::In(vs.iter().map(|v| v.value.clone()).collect()),
            ast::LabelOp::Exists => ir::LabelOp::Exists,
            ast::LabelOp::NotExists => ir::LabelOp::NotExists,
        };
        Some(ir::LabelSelector {
            key: key.clone(),
            op,
        })
    }
}

/// Kubernetes' rule for label keys: `[prefix/]name`.
fn label_key(key: &str) -> Result<(), &'static str> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let valid = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !valid {
            return Err("the prefix before `/` must be a DNS subdomain");
        }
    }
    if name.is_empty() || name.len() > 63 {
        return Err("the name must have 1 to 63 characters");
    }
    label_chars(name).map_err(|_| "the name must start and end with a letter or digit")
}

fn label_value(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 63 {
        return Err("at most 63 characters");
    }
    label_chars(value)
}

fn label_chars(text: &str) -> Result<(), &'static str> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    let inner_ok = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if inner_ok && edge_ok(text.chars().next()) && edge_ok(text.chars().last()) {
        Ok(())
    } else {
        Err("letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit")
    }
}

/// The kind kubectl's short name stands for (`hpa`, `pvcs`), which a policy
/// spells out so that it reads the same to everyone.
fn short_name(plural: &str) -> Option<&'static str> {
    let kind = match plural {
        "hpas" => Kind::HorizontalPodAutoscalers,
        "pvcs" => Kind::PersistentVolumeClaims,
        "pdbs" => Kind::PodDisruptionBudgets,
        "quotas" => Kind::ResourceQuotas,
        "pvs" => Kind::PersistentVolumes,
        "deploys" => Kind::Deployments,
        "sts" => Kind::StatefulSets,
        "ds" => Kind::DaemonSets,
        _ => return None,
    };
    Some(kind.keyword())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_follow_kubernetes() {
        assert!(label_key("app").is_ok());
        assert!(label_key("k8s-app").is_ok());
        assert!(label_key("app.kubernetes.io/name").is_ok());
        assert!(label_key("-app").is_err());
        assert!(label_key("Bad_Prefix/x").is_err());
        assert!(label_key(&"a".repeat(64)).is_err());
    }
}
