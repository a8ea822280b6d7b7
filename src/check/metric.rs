//! Metric expressions: a metric by name, read for the policy's kind, possibly
//! through a window function, and the type of its value.

use super::{units, Checker, PolicyContext};
use crate::catalog::{self, Kind, Series, Unit};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, MetricExpr, Type, Window, WindowFn};
use crate::syntax::ast;

impl Checker<'_> {
    /// A metric or a window function of one; arithmetic is typed by
    /// `Checker::side`, which calls this for its operands.
    pub(super) fn metric_expr(
        &mut self,
        expr: &ast::MetricExpr,
        ctx: &PolicyContext,
    ) -> Option<MetricExpr> {
        match expr {
            ast::MetricExpr::Number(_)
            | ast::MetricExpr::Binary { .. }
            | ast::MetricExpr::Paren(..) => None,
            ast::MetricExpr::Metric(name) => {
                let id = self.resolve_metric(name, ctx)?;
                let unit = self.program.metric(id)?.unit;
                Some(MetricExpr {
                    metric: id,
                    window: None,
                    ty: Type::Scalar(unit),
                })
            }
            ast::MetricExpr::Call {
                function,
                arg,
                window,
                horizon,
                ..
            } => {
                let func = WindowFn::from_name(&function.name);
                if func.is_none() {
                    let d = Diagnostic::new(
                        Code::UnknownFunction,
                        function.span,
                        format!("unknown window function `{}`", function.name),
                    )
                    .label("expected a window function");
                    let names = catalog::FUNCTIONS.iter().map(|f| f.name);
                    let d = match closest(&function.name, names.clone()) {
                        Some(s) => d.suggest(s),
                        None => d.help(format!(
                            "window functions: {}",
                            names
                                .map(|n| format!("`{n}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    };
                    self.report(d);
                }
                let range = self.ok(units::duration(window));
                let horizon = match horizon {
                    Some(lit) => self.horizon(func, lit).map(Some),
                    None => Some(None),
                };
                let inner = match arg.as_ref() {
                    ast::MetricExpr::Metric(name) => self.resolve_metric(name, ctx),
                    ast::MetricExpr::Call { span, .. } => {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidFunction,
                                *span,
                                "window functions cannot be nested",
                            )
                            .label("a window function takes a metric")
                            .help("apply one function to a metric: `max(memory_percent, 10m)`"),
                        );
                        None
                    }
                    other => {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidFunction,
                                other.span(),
                                format!("`{}` takes a metric, not an expression", function.name),
                            )
                            .label("a window function takes a metric")
                            .help("apply the function to each metric: `increase(a, 5m) / increase(b, 5m)`"),
                        );
                        None
                    }
                };
                let (func, range, horizon, id) = (func?, range?, horizon?, inner?);
                if range.0 == 0 {
                    self.report(
                        Diagnostic::new(
                            Code::OutOfRange,
                            window.span,
                            "a window must be longer than 0s",
                        )
                        .help("for example `avg(cpu_percent, 5m)`"),
                    );
                    return None;
                }
                let metric = self.program.metric(id)?;
                let (unit, series, name) = (metric.unit, metric.series, metric.name.clone());
                let arg_span = arg.span();
                // `changes` counts flips, which a boolean has.
                if unit == Unit::Bool && func != WindowFn::Changes {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidFunction,
                            arg_span,
                            format!(
                                "`{}` needs a numeric metric; `{name}` is a boolean",
                                func.name()
                            ),
                        )
                        .help(format!(
                            "test the boolean directly, with `for`: `{name} == false for 5m`"
                        )),
                    );
                    return None;
                }
                if matches!(func, WindowFn::Increase | WindowFn::Rate) && series != Series::Counter
                {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidFunction,
                            arg_span,
                            format!("`{}` applies to counters; `{name}` is a gauge", func.name()),
                        )
                        .label("not a counter")
                        .help(format!(
                            "for a gauge use `trend({name}, …)` or `max({name}, …)`; for a declared metric compute the rate in its PromQL"
                        )),
                    );
                    return None;
                }
                let ty = match func {
                    WindowFn::Avg | WindowFn::Max | WindowFn::Min | WindowFn::Predict => {
                        Type::Scalar(unit)
                    }
                    WindowFn::Increase | WindowFn::Changes => Type::Scalar(Unit::Count),
                    WindowFn::Rate | WindowFn::Trend => Type::Rate(unit),
                };
                Some(MetricExpr {
                    metric: id,
                    window: Some(Window {
                        function: func,
                        range,
                        horizon,
                    }),
                    ty,
                })
            }
        }
    }

    /// `predict`'s third argument: how far ahead it looks.
    fn horizon(&mut self, func: Option<WindowFn>, lit: &ast::Literal) -> Option<ir::Seconds> {
        if let Some(func) = func.filter(|f| *f != WindowFn::Predict) {
            self.report(
                Diagnostic::new(
                    Code::InvalidFunction,
                    lit.span,
                    format!("`{}` takes a metric and a window", func.name()),
                )
                .label("only `predict` takes a third argument")
                .help("remove it: only `predict` looks ahead, as in `predict(m, 6h, 4d)` (fit the last 6h, look 4d ahead)"),
            );
            return None;
        }
        let horizon = self.ok(units::duration(lit))?;
        if horizon.0 == 0 {
            self.report(
                Diagnostic::new(
                    Code::OutOfRange,
                    lit.span,
                    "a look-ahead of 0s predicts nothing",
                )
                .help("look ahead further than 0s, such as `predict(memory_bytes, 1h, 4h)`"),
            );
            return None;
        }
        Some(horizon)
    }

    fn resolve_metric(&mut self, name: &ast::Ident, ctx: &PolicyContext) -> Option<ir::MetricId> {
        match self.metric_id(&name.name, ctx.kind()) {
            Some(Ok(id)) => {
                if let Some(info) = catalog::metric(&name.name) {
                    if !info.kinds.contains(ctx.kind()) {
                        self.report(
                            Diagnostic::new(
                                Code::MetricNotForKind,
                                name.span,
                                format!("`{}` does not apply to {}", name.name, ctx.kind()),
                            )
                            .label(format!("this policy selects {}", ctx.kind()))
                            .help(format!(
                                "`{}` applies to {}",
                                name.name,
                                info.kinds.describe()
                            )),
                        );
                        return None;
                    }
                }
                if !self.placeholders_fit(id, name, ctx.kind())
                    || !self.join_label_fits(id, name, ctx.kind())
                {
                    return None;
                }
                Some(id)
            }
            // Declared with an error: that declaration's diagnostic says why.
            Some(Err(())) => None,
            None => {
                let candidates: Vec<&str> = catalog::METRICS
                    .iter()
                    .map(|m| m.name)
                    .chain(self.metrics.keys().map(String::as_str))
                    .collect();
                let d = Diagnostic::new(
                    Code::UnknownMetric,
                    name.span,
                    format!("unknown metric `{}`", name.name),
                )
                .label("not a built-in or declared metric");
                let suggestion =
                    closest(&name.name, candidates.iter().copied()).map(str::to_string);
                // The author meant that metric: it is not unused.
                if let Some(declared) = suggestion.as_ref().and_then(|s| self.metrics.get_mut(s)) {
                    declared.used = true;
                }
                // `a-b` is one name: a subtraction needs spaces around `-`.
                let parts: Vec<&str> = name.name.split('-').collect();
                let known =
                    |part: &str| catalog::metric(part).is_some() || self.metrics.contains_key(part);
                if parts.len() > 1 && parts.iter().all(|p| known(p)) {
                    self.report(d.help(format!(
                        "a name may contain `-`; to subtract, put spaces around it: `{}`",
                        parts.join(" - ")
                    )));
                    return None;
                }
                let d = match suggestion {
                    Some(s) => d.suggest(s),
                    None => d.help(format!(
                        "declare it with PromQL: `metric {}: ratio = promql \"…\"`, or use a built-in such as `memory_percent`",
                        name.name
                    )),
                };
                self.report(d);
                None
            }
        }
    }
}

impl Checker<'_> {
    /// E0504: a declared metric's query names a placeholder the selected
    /// kind cannot fill in (`$node` in a pods policy), which would leave the
    /// query with no series, and the rule unknown, on every target.
    fn placeholders_fit(&mut self, id: ir::MetricId, name: &ast::Ident, kind: Kind) -> bool {
        let Some(query) = self
            .program
            .metric(id)
            .filter(|m| !m.builtin)
            .and_then(|m| m.promql.clone())
        else {
            return true;
        };
        let misfit = catalog::PROMQL_PLACEHOLDERS
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| catalog::placeholder_at(&query, p).next().is_some())
            .find(|p| !catalog::placeholder_kinds(p).contains(kind));
        let Some(placeholder) = misfit else {
            return true;
        };
        self.report(
            Diagnostic::new(
                Code::PlaceholderNotForKind,
                name.span,
                format!(
                    "`{}` reads `{placeholder}`, which a policy on {kind} does not fill in",
                    name.name
                ),
            )
            .label(format!("this policy selects {kind}"))
            .help(format!(
                "`{placeholder}` is filled in for {}; declare a metric for {kind} with {}",
                catalog::placeholder_kinds(placeholder).describe(),
                fitting_placeholders(kind)
            )),
        );
        false
    }
}

/// "`$namespace` and `$pod`", for a help line.
fn fitting_placeholders(kind: Kind) -> String {
    let fitting: Vec<String> = catalog::PROMQL_PLACEHOLDERS
        .iter()
        .filter(|(p, _)| catalog::placeholder_kinds(p).contains(kind))
        .map(|(p, _)| format!("`{p}`"))
        .collect();
    match fitting.as_slice() {
        [] => "no placeholder".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
