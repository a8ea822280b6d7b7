//! Actions: their typed parameters, and whether each can act on what the
//! policy selects under the safety configuration (the rules themselves are in
//! [`crate::safety`], shared with the safety controller).

use super::{units, Checker, PolicyContext};
use crate::catalog::{self, Effect, Kind, Kinds};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, LimitValue, Resource, RestartMode, Scale, Type};
use crate::safety::{self, join_or, Forbidden, STATEFULSET_POD_LABEL};
use crate::span::Span;
use crate::syntax::ast;

impl Checker<'_> {
    /// The lowered action and what it acts on, or `None` after reporting why
    /// it cannot be taken.
    pub(super) fn action(
        &mut self,
        action: &ast::Action,
        ctx: &PolicyContext,
    ) -> Option<(ir::Action, Effect)> {
        let span = action.span();
        let lowered = match action {
            ast::Action::Restart { mode, .. } => {
                let rolling = mode.as_ref().is_some_and(|m| m.name == "rolling");
                ir::Action::Restart(if rolling {
                    RestartMode::Rolling
                } else {
                    RestartMode::Immediate
                })
            }
            ast::Action::Delete(_) => ir::Action::Delete,
            ast::Action::Rollback(_) => ir::Action::Rollback,
            ast::Action::Cordon(_) => ir::Action::Cordon,
            ast::Action::Drain(_) => ir::Action::Drain,
            ast::Action::Rerun(_) => ir::Action::Rerun,
            ast::Action::ScaleUp { by, max, .. } => {
                let by_value = self.replicas(by, 1);
                let max_value = max.as_ref().map(|m| self.replicas(m, 1));
                let (by_value, max_value) =
                    (by_value?, max_value.map_or(Some(None), |m| m.map(Some))?);
                if let (Some(ceiling), Some(lit)) = (max_value, max) {
                    if ceiling < by_value {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidAction,
                                lit.span,
                                format!("`max {ceiling}` is below the step of {by_value} it bounds"),
                            )
                            .label("no workload could ever be scaled up by this rule")
                            .help(format!("`max` is the most replicas after scaling: at least {by_value}, such as `scale up {by_value} max 10`")),
                        );
                        return None;
                    }
                }
                ir::Action::Scale(Scale::Up {
                    by: by_value,
                    max: max_value,
                })
            }
            ast::Action::ScaleDown { by, min, .. } => {
                let by_value = self.replicas(by, 1);
                let min_value = min.as_ref().map(|m| self.replicas(m, 0));
                let (by_value, min_value) =
                    (by_value?, min_value.map_or(Some(None), |m| m.map(Some))?);
                ir::Action::Scale(Scale::Down {
                    by: by_value,
                    min: min_value,
                })
            }
            ast::Action::ScaleTo { replicas, .. } => ir::Action::Scale(Scale::To {
                replicas: self.replicas(replicas, 0)?,
            }),
            ast::Action::Patch { name, .. } => ir::Action::Patch(self.patch_ref(name)?),
            ast::Action::Set {
                resource,
                value,
                max,
                ..
            } => self.set_limit(resource, value, max.as_ref(), span)?,
            ast::Action::Expand { value, max, .. } => self.expand(value, max.as_ref(), span)?,
            ast::Action::Notify { message, .. } => {
                if message.value.trim().is_empty() {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidAction,
                            message.span,
                            "`notify` needs a message",
                        )
                        .help("say what happened: `notify \"checkout keeps crashing\"`"),
                    );
                    return None;
                }
                ir::Action::Notify(message.value.clone())
            }
            ast::Action::AskAi { among, .. } => {
                // Where `notify` is the only action, the AI has nothing to
                // choose (persistent volumes: storage stays protected).
                let ask = ir::Action::AskAi(Vec::new());
                if crate::safety::effect(&ask, ctx.kind()).is_none() {
                    self.not_for_kind(&ask, ctx.kind(), span);
                    return None;
                }
                let Some(among) = among else {
                    // Filled with the policy's other actions once all its rules
                    // are known (see `Checker::policy`).
                    return Some((ir::Action::AskAi(Vec::new()), Effect::Nothing));
                };
                let mut candidates: Vec<ir::Choice> = Vec::new();
                let mut ok = true;
                for candidate in among {
                    if let ast::Action::AskAi { span, .. } = candidate {
                        self.report(
                            Diagnostic::new(Code::InvalidAction, *span, "`ask ai` cannot be one of its own choices")
                                .help("list the actions the AI may choose: `ask ai among [restart rolling, scale up 1]`"),
                        );
                        ok = false;
                        continue;
                    }
                    match self.action(candidate, ctx) {
                        Some((a, _)) if candidates.iter().any(|c| c.action == a) => {}
                        Some((a, effect)) => candidates.push(self.choice(a, effect, ctx)),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                return Some((ir::Action::AskAi(candidates), Effect::Nothing));
            }
            ast::Action::Unknown { name, .. } => {
                self.unknown_action(name);
                return None;
            }
        };
        let effect = self.applies(&lowered, ctx, span)?;
        if let ir::Action::Scale(Scale::Down { by, min: None }) = lowered {
            self.report(
                Diagnostic::new(
                    Code::ScaleDownWithoutFloor,
                    span,
                    format!("`scale down {by}` has no floor"),
                )
                .label("firing again and again, it can remove every replica")
                .suggest(format!("scale down {by} min 1"))
                .help(format!(
                    "add the fewest replicas to keep: `scale down {by} min 1`"
                )),
            );
        }
        Some((lowered, effect))
    }

    /// An AI choice, classified for the policy.
    pub(super) fn choice(
        &self,
        action: ir::Action,
        effect: Effect,
        ctx: &PolicyContext,
    ) -> ir::Choice {
        let safety = safety::classify(&action, ctx.selector, ctx.mode, self.config);
        ir::Choice {
            action,
            effect,
            safety,
        }
    }

    fn replicas(&mut self, lit: &ast::Literal, min: u32) -> Option<u32> {
        let n = self.ok(units::count(lit))?;
        if n < min {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    lit.span,
                    format!("expected at least {min}, found {n}"),
                )
                .help(format!("replica counts and steps here are at least {min}")),
            );
            return None;
        }
        Some(n)
    }

    fn patch_ref(&mut self, name: &ast::Ident) -> Option<ir::PatchId> {
        if let Some(declared) = self.patches.get_mut(&name.name) {
            declared.used = true;
            return declared.id;
        }
        let d = Diagnostic::new(
            Code::UndefinedPatch,
            name.span,
            format!("no patch named `{}`", name.name),
        )
        .label("not declared in this file");
        let d = match closest(&name.name, self.patches.keys().map(String::as_str)) {
            Some(s) => {
                // The author meant that patch: it is not unused.
                let s = s.to_string();
                if let Some(declared) = self.patches.get_mut(&s) {
                    declared.used = true;
                }
                d.suggest(s)
            }
            None => d.help(format!(
                "declare it: `patch {}: merge \"{{…json…}}\"`",
                name.name
            )),
        };
        self.report(d);
        None
    }

    fn set_limit(
        &mut self,
        resource: &ast::Ident,
        value: &ast::SetValue,
        max: Option<&ast::Literal>,
        span: Span,
    ) -> Option<ir::Action> {
        let resource_value = match resource.name.as_str() {
            "memory_limit" => Some(Resource::MemoryLimit),
            "cpu_limit" => Some(Resource::CpuLimit),
            other => {
                let d = Diagnostic::new(
                    Code::UnknownResource,
                    resource.span,
                    format!("`set` cannot change `{other}`"),
                )
                .label("expected `memory_limit` or `cpu_limit`");
                let names = catalog::RESOURCES.iter().map(|(r, _)| *r);
                let d = match closest(other, names) {
                    Some(s) => d.suggest(s),
                    None => d.help("`set` changes `memory_limit` or `cpu_limit`"),
                };
                self.report(d);
                None
            }
        }?;
        let ty = Type::Scalar(resource_value.unit());
        let subject = format!("`{}`", resource_value.keyword());
        let value_lowered = match value {
            ast::SetValue::Absolute(lit) => {
                let v = self.ok(units::resolve(lit, ty, Some(&subject)))?;
                if v <= 0.0 {
                    self.report(
                        Diagnostic::new(Code::OutOfRange, lit.span, "a limit must be more than 0")
                            .help("for example `set memory_limit = 1Gi`"),
                    );
                    return None;
                }
                LimitValue::Absolute(v)
            }
            ast::SetValue::Factor(lit, _) => {
                let f = self.ok(units::plain(lit))?;
                if f <= 0.0 {
                    self.report(
                        Diagnostic::new(
                            Code::OutOfRange,
                            lit.span,
                            "the factor must be more than 0",
                        )
                        .help("`current * 1.5` raises the limit by half"),
                    );
                    return None;
                }
                LimitValue::Factor(f)
            }
        };
        let max_value = match max {
            Some(lit) => Some(self.ok(units::resolve(lit, ty, Some(&subject)))?),
            None => None,
        };
        if let (LimitValue::Absolute(v), Some(m), Some(lit)) = (value_lowered, max_value, max) {
            if m < v {
                self.report(
                    Diagnostic::new(
                        Code::InvalidAction,
                        lit.span,
                        "the `max` is below the value it bounds",
                    )
                    .help("raise `max`, or drop it: an absolute value needs no ceiling"),
                );
                return None;
            }
        }
        if let (LimitValue::Factor(f), None) = (value_lowered, max_value) {
            if f > 1.0 {
                self.report(
                    Diagnostic::new(
                        Code::UnboundedGrowth,
                        span,
                        format!("`{}` can grow without bound", resource_value.keyword()),
                    )
                    .label("each time the rule fires the limit grows again")
                    .help(format!(
                        "add a ceiling: `set {} = current * {} max {}`",
                        resource_value.keyword(),
                        f,
                        if resource_value == Resource::MemoryLimit {
                            "2Gi"
                        } else {
                            "2"
                        }
                    )),
                );
            }
        }
        Some(ir::Action::SetLimit {
            resource: resource_value,
            value: value_lowered,
            max: max_value,
        })
    }

    fn unknown_action(&mut self, name: &ast::Ident) {
        let d = Diagnostic::new(
            Code::UnknownAction,
            name.span,
            format!("unknown action `{}`", name.name),
        )
        .label("not an action");
        let d = match closest(&name.name, catalog::action_words()) {
            Some(s) => d.suggest(s),
            None => d.help(format!(
                "actions: {}",
                catalog::ACTIONS
                    .iter()
                    .map(|a| format!("`{}`", a.usage))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        };
        self.report(d);
    }

    /// What `action` acts on in the policy, or `None` after an error: it
    /// cannot act there (E0304), or the safety configuration forbids it
    /// wherever it can land (E0402). Where it is forbidden on some of the kinds
    /// it may land on, a warning says the safety controller decides (W0113).
    fn applies(&mut self, action: &ir::Action, ctx: &PolicyContext, span: Span) -> Option<Effect> {
        let name = action.catalog_name();
        let kind = ctx.kind();
        let Some(effect) = safety::effect(action, kind) else {
            // The configuration may name this very pair (`delete` on
            // statefulsets): say it is forbidden, which is what the author
            // must know first.
            if self.config.is_forbidden(name, kind) {
                self.report(forbidden_pair(name, kind, span));
            } else {
                self.not_for_kind(action, kind, span);
            }
            return None;
        };
        let landing = safety::landing_kinds(action, ctx.selector);
        if effect == Effect::Owner && landing.is_empty() {
            let info = catalog::action(name)?;
            self.report(
                Diagnostic::new(
                    Code::ActionNotForKind,
                    span,
                    format!(
                        "`{name}` acts on the pod's owner, which here can only be {}",
                        join_or(&articles(safety::owner_kinds(ctx.selector)), "or")
                    ),
                )
                .label(format!("the `select` requires `{STATEFULSET_POD_LABEL}`"))
                .help(format!("`{name}` applies to {}", info.kinds.describe())),
            );
            return None;
        }
        match safety::forbidden(action, ctx.selector, self.config) {
            Forbidden::No => {}
            Forbidden::Always(_) if self.config.is_forbidden(name, kind) => {
                self.report(forbidden_pair(name, kind, span));
                return None;
            }
            Forbidden::Always(why) => {
                let message = match effect {
                    Effect::Node => format!("`{name}` acts on the pod's node, and {why}"),
                    Effect::Owner => format!(
                        "`{name}` acts on the pod's owner, which can only be {}, and {why}",
                        join_or(&articles(landing), "or")
                    ),
                    _ => why,
                };
                self.report(
                    Diagnostic::new(Code::ForbiddenAction, span, message)
                    .label("forbidden by the safety configuration wherever it lands")
                    .help("choose a gentler action such as `notify`, or change the safety configuration's `forbiddenActions`"),
                );
                return None;
            }
            Forbidden::OnSome(kinds) => self.report(maybe_forbidden(name, effect, &kinds, span)),
        }
        Some(effect)
    }

    fn not_for_kind(&mut self, action: &ir::Action, kind: Kind, span: Span) {
        let name = action.catalog_name();
        let Some(info) = catalog::action(name) else {
            return;
        };
        let mut help = format!("`{name}` applies to {}", info.kinds.describe());
        match info.via_pod {
            Some(Effect::Owner) => help.push_str(" (and to pods, through their owner)"),
            Some(Effect::Node) => help.push_str(" (and to pods, through their node)"),
            _ => {}
        }
        if matches!(action, ir::Action::Restart(RestartMode::Immediate)) && kind.is_workload() {
            help = "restart a workload with `restart rolling`".into();
        }
        if kind.is_observed_only() {
            let fitting: Vec<String> = catalog::ACTIONS
                .iter()
                .filter(|a| a.kinds.contains(kind))
                .map(|a| format!("`{}`", a.name))
                .collect();
            help = if kind == Kind::Cluster {
                "the cluster as a whole is no object an action could change: only `notify` applies"
                    .to_string()
            } else if kind == Kind::Filesystems {
                "a filesystem is what node-exporter reports of a node's mount, no object an action could change (freeing space means deleting someone's data): only `notify` applies"
                    .to_string()
            } else if kind == Kind::Containers {
                "a container is restarted by restarting its pod: select pods for a remedy (`select pods`); only `notify` applies to containers"
                    .to_string()
            } else if Kinds::NOTIFY_ONLY.contains(kind) {
                format!("KubeSkippy never changes {kind}: storage stays protected, and only `notify` applies")
            } else {
                format!(
                    "KubeSkippy watches {kind} and changes them only as its actions for them say: {} apply",
                    fitting.join(", ")
                )
            };
        }
        self.report(
            Diagnostic::new(
                Code::ActionNotForKind,
                span,
                format!("`{name}` does not apply to {kind}"),
            )
            .label(format!("this policy selects {kind}"))
            .help(help),
        );
    }
}

/// E0402 for an entry of `forbiddenActions` that names the action and the
/// selected kind.
fn forbidden_pair(name: &str, kind: Kind, span: Span) -> Diagnostic {
    Diagnostic::new(Code::ForbiddenAction, span, format!("`{name}` on {kind} is never allowed"))
        .label("forbidden by the safety configuration")
        .help(format!(
            "choose a gentler action such as `restart rolling` or `notify`; `{name}` on {kind} is in the safety configuration's `forbiddenActions`"
        ))
}

/// W0113: forbidden on some of the kinds the action may reach; the safety
/// controller blocks it there at run time.
fn maybe_forbidden(name: &str, effect: Effect, kinds: &[Kind], span: Span) -> Diagnostic {
    let set = kinds.iter().fold(Kinds::NONE, |s, k| s.with(Kinds::of(*k)));
    let owners = join_or(&articles(set), "or");
    let plural = join_or(&kinds.iter().map(|k| k.keyword()).collect::<Vec<_>>(), "or");
    let (message, blocked) = match effect {
        Effect::Owner => (
            format!("`{name}` acts on the pod's owner, which may be {owners}"),
            format!("`{name}` on {plural} is forbidden: the safety controller will block it for the pods they own"),
        ),
        _ => (
            format!("`{name}` on pods owned by {owners} is forbidden, and this policy may select such pods"),
            format!("the safety controller will block `{name}` for the pods {owners} owns"),
        ),
    };
    let help = if kinds.contains(&Kind::StatefulSets) {
        format!("{blocked}; to leave StatefulSet pods out, add `where not {STATEFULSET_POD_LABEL} exists` to the `select`")
    } else {
        blocked
    };
    Diagnostic::new(Code::MaybeForbidden, span, message)
        .label("decided at run time")
        .help(help)
}

/// "a deployment", "a statefulset", … for each kind of the set.
fn articles(kinds: Kinds) -> Vec<&'static str> {
    kinds
        .iter()
        .map(|kind| match kind {
            Kind::Pods => "a pod",
            Kind::Deployments => "a deployment",
            Kind::StatefulSets => "a statefulset",
            Kind::DaemonSets => "a daemonset",
            Kind::Nodes => "a node",
            Kind::Jobs => "a job",
            Kind::HorizontalPodAutoscalers => "a horizontalpodautoscaler",
            Kind::PersistentVolumeClaims => "a persistentvolumeclaim",
            Kind::PodDisruptionBudgets => "a poddisruptionbudget",
            Kind::ResourceQuotas => "a resourcequota",
            Kind::PersistentVolumes => "a persistentvolume",
            Kind::Cluster => "the cluster",
            Kind::Filesystems => "a filesystem",
            Kind::Containers => "a container",
        })
        .collect()
}
