//! Actions: which kinds each applies to, its typed parameters, and its static
//! safety class.

use super::{units, Checker, PolicyContext};
use crate::catalog::{self, Effect, Kind};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, LimitValue, Mode, Resource, RestartMode, SafetyClass, Scale, Type};
use crate::safety::SafetyConfig;
use crate::span::Span;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn action(
        &mut self,
        action: &ast::Action,
        ctx: &PolicyContext,
    ) -> Option<ir::Action> {
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
            ast::Action::ScaleUp { by, max, .. } => {
                let by = self.replicas(by, 1);
                let max = max.as_ref().map(|m| self.replicas(m, 1));
                ir::Action::Scale(Scale::Up {
                    by: by?,
                    max: max.map_or(Some(None), |m| m.map(Some))?,
                })
            }
            ast::Action::ScaleDown { by, min, .. } => {
                let by = self.replicas(by, 1);
                let min = min.as_ref().map(|m| self.replicas(m, 0));
                ir::Action::Scale(Scale::Down {
                    by: by?,
                    min: min.map_or(Some(None), |m| m.map(Some))?,
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
                let Some(among) = among else {
                    // Filled with the policy's other actions once all its rules
                    // are known (see `Checker::policy`).
                    return Some(ir::Action::AskAi(Vec::new()));
                };
                let mut candidates: Vec<ir::Action> = Vec::new();
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
                        Some(a) if !candidates.contains(&a) => candidates.push(a),
                        Some(_) => {}
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                return Some(ir::Action::AskAi(candidates));
            }
            ast::Action::Unknown { name, .. } => {
                self.unknown_action(name);
                return None;
            }
        };
        self.applies(&lowered, ctx.kind, span)?;
        Some(lowered)
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

    /// Whether `action` can act on `kind`: an error when it can only break a
    /// rule, a warning when it may at run time (a pod's owner is not known yet).
    fn applies(&mut self, action: &ir::Action, kind: Kind, span: Span) -> Option<()> {
        let name = action.catalog_name();
        if self.config.is_forbidden(name, kind) {
            self.report(
                Diagnostic::new(Code::ForbiddenAction, span, format!("`{name}` on {kind} is never allowed"))
                    .label("forbidden by the safety configuration")
                    .help(format!(
                        "choose a gentler action such as `restart rolling` or `notify`; `{name}` on {kind} is in the safety configuration's `forbiddenActions`"
                    )),
            );
            return None;
        }
        let info = catalog::action(name)?;
        match effect(action, kind) {
            Some(Effect::Owner) => {
                let risky: Vec<Kind> = self
                    .config
                    .forbidden_actions
                    .iter()
                    .filter(|f| f.action == name && f.kind.is_workload())
                    .map(|f| f.kind)
                    .collect();
                if !risky.is_empty() {
                    let kinds: Vec<&str> = risky.iter().map(|k| article(*k)).collect();
                    self.report(
                        Diagnostic::new(Code::MaybeForbidden, span, format!("`{name}` acts on the pod's owner, which may be {}", kinds.join(" or ")))
                            .label("decided at run time")
                            .help(format!("`{name}` on {} is forbidden: the safety controller will block it for the pods it owns", kinds.join(" or "))),
                    );
                }
                Some(())
            }
            Some(_) => Some(()),
            None => {
                let mut help = format!("`{name}` applies to {}", info.kinds.describe());
                match info.via_pod {
                    Some(Effect::Owner) => help.push_str(" (and to pods, through their owner)"),
                    Some(Effect::Node) => help.push_str(" (and to pods, through their node)"),
                    _ => {}
                }
                if matches!(action, ir::Action::Restart(RestartMode::Immediate))
                    && kind.is_workload()
                {
                    help = "restart a workload with `restart rolling`".into();
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
                None
            }
        }
    }
}

fn article(kind: Kind) -> &'static str {
    match kind {
        Kind::Pods => "a pod",
        Kind::Deployments => "a deployment",
        Kind::StatefulSets => "a statefulset",
        Kind::DaemonSets => "a daemonset",
        Kind::Nodes => "a node",
    }
}

/// What `action` acts on for a policy selecting `kind`, or `None` when it cannot.
pub fn effect(action: &ir::Action, kind: Kind) -> Option<Effect> {
    if matches!(action, ir::Action::Notify(_) | ir::Action::AskAi(_)) {
        return Some(Effect::Nothing);
    }
    let info = catalog::action(action.catalog_name())?;
    if info.kinds.contains(kind) {
        Some(Effect::Itself)
    } else if kind == Kind::Pods {
        info.via_pod
    } else {
        None
    }
}

/// The static safety class of `action` in a policy of `kind` and `mode`. The
/// safety controller calls this again at run time for the AI's choices.
pub fn classify(action: &ir::Action, kind: Kind, mode: Mode, config: &SafetyConfig) -> SafetyClass {
    let name = action.catalog_name();
    if config.is_forbidden(name, kind) {
        return SafetyClass::Forbidden(format!("`{name}` on {kind} is forbidden"));
    }
    if config.needs_approval(name) {
        return SafetyClass::NeedsApproval(format!("`{name}` always needs approval"));
    }
    let step = config.max_auto_scale_step;
    match action {
        ir::Action::Scale(Scale::Up { by, .. } | Scale::Down { by, .. }) if *by > step => {
            return SafetyClass::NeedsApproval(format!("scaling by more than {step} replicas"));
        }
        ir::Action::Scale(Scale::To { replicas: 0 }) => {
            return SafetyClass::NeedsApproval("scaling to zero".into());
        }
        _ => {}
    }
    if mode == Mode::Approve {
        return SafetyClass::NeedsApproval("the policy's mode is `approve`".into());
    }
    SafetyClass::Auto
}
