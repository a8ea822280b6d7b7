//! `expand`: the one action that changes storage, with the rules that keep
//! it safe where the checker can see them (a ceiling, growth only). The
//! operator adds those it can only see at run time: the claim's StorageClass
//! must allow volume expansion, and a request is never lowered.

use super::{units, Checker};
use crate::catalog::Unit;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, LimitValue, Type};
use crate::span::Span;
use crate::syntax::ast;

impl Checker<'_> {
    pub(super) fn expand(
        &mut self,
        value: &ast::SetValue,
        max: Option<&ast::Literal>,
        span: Span,
    ) -> Option<ir::Action> {
        let ty = Type::Scalar(Unit::Bytes);
        let subject = "a claim's storage";
        let lowered = match value {
            ast::SetValue::Absolute(lit) => {
                let v = self.ok(units::resolve(lit, ty, Some(subject)))?;
                if v <= 0.0 {
                    self.report(
                        Diagnostic::new(Code::OutOfRange, lit.span, "a size must be more than 0")
                            .help("for example `expand to 100Gi`"),
                    );
                    return None;
                }
                LimitValue::Absolute(v)
            }
            ast::SetValue::Factor(lit, _) => {
                let f = self.ok(units::plain(lit))?;
                // A volume cannot shrink: a factor of 1 or less could only
                // ask for that.
                if f <= 1.0 {
                    self.report(
                        Diagnostic::new(
                            Code::OutOfRange,
                            lit.span,
                            "`expand` only grows a claim: the factor must be more than 1",
                        )
                        .help("`expand to current * 1.5 max 200Gi` grows it by half"),
                    );
                    return None;
                }
                LimitValue::Factor(f)
            }
        };
        let ceiling = match (max, lowered) {
            (Some(lit), _) => self.ok(units::resolve(lit, ty, Some(subject)))?,
            (None, LimitValue::Absolute(v)) => v,
            // Storage is billed and never given back: growth by a factor
            // must name where it stops, an error where `set` only warns.
            (None, LimitValue::Factor(f)) => {
                self.report(
                    Diagnostic::new(
                        Code::InvalidAction,
                        span,
                        "`expand` by a factor needs a ceiling",
                    )
                    .label("each time the rule fires the claim grows again, and never shrinks")
                    .help(format!("add one: `expand to current * {f} max 200Gi`")),
                );
                return None;
            }
        };
        if let (LimitValue::Absolute(v), Some(lit)) = (lowered, max) {
            if ceiling < v {
                self.report(
                    Diagnostic::new(
                        Code::InvalidAction,
                        lit.span,
                        "the `max` is below the size it bounds",
                    )
                    .help("raise `max`, or drop it: a size needs no ceiling"),
                );
                return None;
            }
        }
        Some(ir::Action::Expand {
            value: lowered,
            max: ceiling,
        })
    }
}
