//! Metric expressions: a metric by name, read for the policy's kind, possibly
//! through a window function, and the type of its value.

use super::{units, Checker, PolicyContext};
use crate::catalog::{self, Series, Unit};
use crate::diagnostic::{closest, Code, Diagnostic};
use crate::ir::{self, MetricExpr, Type, Window, WindowFn};
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn metric_expr(
        &mut self,
        expr: &ast::MetricExpr,
        ctx: &PolicyContext,
    ) -> Option<MetricExpr> {
        match expr {
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
                };
                let (func, range, id) = (func?, range?, inner?);
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
                if unit == Unit::Bool {
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
                    WindowFn::Increase => Type::Scalar(Unit::Count),
                    WindowFn::Rate | WindowFn::Trend => Type::Rate(unit),
                };
                Some(MetricExpr {
                    metric: id,
                    window: Some(Window {
                        function: func,
                        range,
                    }),
                    ty,
                })
            }
        }
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
