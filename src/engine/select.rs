//! Which targets a policy visits: its kind, namespaces and labels, never a
//! protected namespace or a protected object. Namespaces are compared by
//! rank and protected labels read once per target (see [`super::targets`]),
//! so that selecting reads no strings that are cache misses by then.

use super::decide::Context;
use super::observation::Target;
use super::targets::Targets;
use crate::ir::{LabelOp, Namespaces, Policy};

/// Which namespaces a policy selects in, by their ranks among the targets'
/// namespaces (see [`Targets::rank`]): a namespace no target is in has no
/// rank and can be left out, as no target could match it.
pub(super) enum Scope {
    /// In one of these.
    In(Vec<u32>),
    /// In none of these, or in no namespace.
    NotIn(Vec<u32>),
    /// In no namespace (nodes).
    ClusterScoped,
}

impl Scope {
    pub(super) fn of(policy: &Policy, targets: &Targets, context: &Context) -> Scope {
        let ranks = |names: &[String]| names.iter().filter_map(|n| targets.rank(n)).collect();
        match &policy.selector.namespaces {
            Namespaces::Own => Scope::In(
                context
                    .home_namespace
                    .as_deref()
                    .and_then(|ns| targets.rank(ns))
                    .into_iter()
                    .collect(),
            ),
            Namespaces::Named(names) => Scope::In(ranks(names)),
            Namespaces::AnyExcept(except) => Scope::NotIn(ranks(except)),
            Namespaces::ClusterScoped => Scope::ClusterScoped,
        }
    }

    pub(super) fn holds(&self, namespace: Option<u32>) -> bool {
        match self {
            Scope::In(ranks) => namespace.is_some_and(|ns| ranks.contains(&ns)),
            Scope::NotIn(ranks) => !namespace.is_some_and(|ns| ranks.contains(&ns)),
            Scope::ClusterScoped => namespace.is_none(),
        }
    }
}

/// Whether `policy`'s kind and labels select `target` (the namespaces and
/// what is protected are checked by rank, see [`Scope`]). The label at
/// `matched` is known to match (the label index found the target by it).
pub(super) fn selects(policy: &Policy, target: &Target, matched: Option<usize>) -> bool {
    let selector = &policy.selector;
    target.id.kind == selector.kind
        && selector.labels.iter().enumerate().all(|(i, l)| {
            if Some(i) == matched {
                return true;
            }
            let value = target.labels.get(&l.key);
            match &l.op {
                LabelOp::Equals(v) => value == Some(v),
                LabelOp::NotEquals(v) => value != Some(v),
                LabelOp::In(vs) => value.is_some_and(|x| vs.contains(x)),
                LabelOp::Exists => value.is_some(),
                LabelOp::NotExists => value.is_none(),
            }
        })
}
