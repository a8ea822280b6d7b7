//! The rules a policy obeys when it lives in a cluster object rather than a
//! file: a `HealingPolicy` or `ClusterHealingPolicy` holds exactly one
//! policy, and a `HealingPolicy` acts only in its own namespace — a tenant
//! who may create one in `shop` cannot heal, or break, someone else's pods.

use super::{compile, Compiled};
use crate::diagnostic::{Code, Diagnostic};
use crate::safety::SafetyConfig;
use crate::span::Span;
use crate::syntax::ast::{self, Item, Statement};

/// Where a policy's source lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host<'a> {
    /// A `.skippy` file: any number of policies, any scope.
    File,
    /// `spec.policy` of a `HealingPolicy` in `namespace`.
    HealingPolicy { namespace: &'a str },
    /// `spec.policy` of a `ClusterHealingPolicy`.
    ClusterHealingPolicy,
}

/// Compiles `source` as it lives in `host`: [`compile`], plus the host's
/// rules.
pub fn compile_in(source: &str, config: &SafetyConfig, host: Host) -> Compiled {
    let mut compiled = compile(source, config);
    if host != Host::File {
        // An object's empty text is said by its own rule (E0308).
        compiled.diagnostics.retain(|d| d.code != Code::EmptyFile);
        let mut found = object_rules(&compiled.ast, source, host);
        if !found.is_empty() {
            compiled.diagnostics.append(&mut found);
            compiled
                .diagnostics
                .sort_by_key(|d| (d.span.start, d.severity, d.code));
        }
    }
    compiled
}

fn object_rules(file: &ast::File, source: &str, host: Host) -> Vec<Diagnostic> {
    let kind = match host {
        Host::ClusterHealingPolicy => "ClusterHealingPolicy",
        _ => "HealingPolicy",
    };
    let policies: Vec<&ast::Policy> = file
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Policy(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    match policies.as_slice() {
        [] => out.push(
            Diagnostic::new(
                Code::OnePolicyPerObject,
                Span::new(0, source.len().min(1)),
                format!("a {kind} holds one policy, and this holds none"),
            )
            .help("write `policy NAME { select …; when … then … }` in `spec.policy`"),
        ),
        [_] => {}
        [_, rest @ ..] => {
            for extra in rest {
                out.push(
                    Diagnostic::new(
                        Code::OnePolicyPerObject,
                        extra.name.span,
                        format!("a {kind} holds one policy; this is a second one"),
                    )
                    .label("a second policy")
                    .help(format!("put each policy in a {kind} of its own")),
                );
            }
        }
    }
    for policy in policies {
        for statement in &policy.statements {
            if let Statement::Select(select) = statement {
                out.extend(scope(select, host));
            }
        }
    }
    out
}

/// What a `select` may reach from `host`.
fn scope(select: &ast::Select, host: Host) -> Option<Diagnostic> {
    let kind = &select.kind.name;
    // Nodes and persistent volumes: the kinds that belong to no namespace.
    let cluster_scoped =
        crate::catalog::Kind::from_keyword(kind).is_some_and(|k| !k.is_namespaced());
    match (host, &select.namespaces) {
        (Host::HealingPolicy { .. }, _) if cluster_scoped => Some(
            Diagnostic::new(
                Code::OutsideObjectScope,
                select.kind.span,
                format!("a HealingPolicy acts in its own namespace, and {kind} belong to none"),
            )
            .label(format!("{kind} are cluster-scoped"))
            .help(format!("select {kind} in a ClusterHealingPolicy")),
        ),
        (Host::HealingPolicy { .. }, Some(ast::Namespaces::Any(span))) => Some(
            Diagnostic::new(
                Code::OutsideObjectScope,
                *span,
                "a HealingPolicy acts in its own namespace only, not `in any`",
            )
            .label("every namespace")
            .help("leave out `in …` (the policy's own namespace), or use a ClusterHealingPolicy"),
        ),
        (Host::HealingPolicy { namespace }, Some(ast::Namespaces::Named(names))) => {
            names.iter().find(|n| n.name != namespace).map(|other| {
                Diagnostic::new(
                    Code::OutsideObjectScope,
                    other.span,
                    format!(
                        "a HealingPolicy in `{namespace}` acts in `{namespace}` only, not in `{}`",
                        other.name
                    ),
                )
                .label("another namespace")
                .help(
                    "leave out `in …` (the policy's own namespace), or use a ClusterHealingPolicy",
                )
            })
        }
        (Host::ClusterHealingPolicy, None) if !cluster_scoped => Some(
            Diagnostic::new(
                Code::OutsideObjectScope,
                select.span,
                "a ClusterHealingPolicy has no namespace of its own: say which it acts in",
            )
            .label("in which namespaces?")
            .help("add `in NAMESPACE, …` or `in any`"),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(source: &str, host: Host) -> Vec<(Code, String)> {
        compile_in(source, &SafetyConfig::default(), host)
            .diagnostics
            .into_iter()
            .map(|d| (d.code, d.message))
            .collect()
    }

    const SHOP: Host = Host::HealingPolicy { namespace: "shop" };

    #[test]
    fn a_healing_policy_acts_in_its_own_namespace() {
        let own = "policy p {\n  select pods where app = \"a\"\n  cooldown 5m\n  when restarts > 3 then restart\n}\n";
        assert_eq!(codes(own, SHOP), []);
        let named = own.replace("select pods", "select pods in shop");
        assert_eq!(codes(&named, SHOP), []);
        let other = own.replace("select pods", "select pods in shop, billing");
        assert_eq!(
            codes(&other, SHOP),
            [(
                Code::OutsideObjectScope,
                "a HealingPolicy in `shop` acts in `shop` only, not in `billing`".to_string()
            )]
        );
        let any = own.replace("select pods", "select pods in any");
        assert_eq!(codes(&any, SHOP)[0].0, Code::OutsideObjectScope);
    }

    #[test]
    fn nodes_need_a_cluster_policy_and_a_cluster_policy_names_its_namespaces() {
        let nodes = "policy n {\n  select nodes\n  cooldown 30m\n  when status is MemoryPressure for 5m then notify \"pressure\"\n}\n";
        assert_eq!(codes(nodes, SHOP)[0].0, Code::OutsideObjectScope);
        assert_eq!(codes(nodes, Host::ClusterHealingPolicy), []);
        let pods = "policy p {\n  select pods where app = \"a\"\n  cooldown 5m\n  when restarts > 3 then restart\n}\n";
        assert_eq!(
            codes(pods, Host::ClusterHealingPolicy)[0].0,
            Code::OutsideObjectScope
        );
        assert_eq!(codes(pods, Host::File), []);
        let volumes = "policy v {\n  select persistentvolumes\n  cooldown 1h\n  when status is Failed for 5m then notify \"failed\"\n}\n";
        assert_eq!(codes(volumes, Host::ClusterHealingPolicy), []);
        let filesystems = "policy f {\n  select filesystems\n  cooldown 1h\n  when readonly == true for 5m then notify \"read-only\"\n}\n";
        assert_eq!(codes(filesystems, Host::ClusterHealingPolicy), []);
        assert_eq!(codes(filesystems, SHOP)[0].0, Code::OutsideObjectScope);
        assert_eq!(
            codes(volumes, SHOP),
            [(
                Code::OutsideObjectScope,
                "a HealingPolicy acts in its own namespace, and persistentvolumes belong to none"
                    .to_string()
            )]
        );
    }

    #[test]
    fn an_object_holds_exactly_one_policy() {
        let one = "policy a {\n  select pods\n  cooldown 5m\n  when restarts > 3 then restart\n}\n";
        let two = format!("{one}{}", one.replace("policy a", "policy b"));
        assert_eq!(
            codes(&two, SHOP),
            [(
                Code::OnePolicyPerObject,
                "a HealingPolicy holds one policy; this is a second one".to_string()
            )]
        );
        assert_eq!(codes("# nothing\n", SHOP)[0].0, Code::OnePolicyPerObject);
    }
}
