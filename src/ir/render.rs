//! The IR back in Skippy's words, with values in their units: for `explain`,
//! for the evidence of decisions and for rule fingerprints.

use super::*;

impl Program {
    /// `max(memory_percent, 10m)`
    pub fn render_expr(&self, expr: &MetricExpr) -> String {
        let name = self.metric_name(expr.metric);
        match expr.window {
            None => name.to_string(),
            Some(Window {
                function,
                range,
                horizon: Some(horizon),
            }) => format!("{}({name}, {range}, {horizon})", function.name()),
            Some(w) => format!("{}({name}, {})", w.function.name(), w.range),
        }
    }

    /// A side of a relation with the fewest parentheses that keep its
    /// meaning: `available_bytes / capacity_bytes`, `1 - (a - b) / c`.
    pub fn render_side(&self, expr: &Expr) -> String {
        self.render_arith(expr, 0, false)
    }

    /// `outer` is the precedence of the operator around `expr`; `right` says
    /// it stands on that operator's right, where an equal precedence needs
    /// brackets (`a - (b - c)`, `a / (b * c)`).
    fn render_arith(&self, expr: &Expr, outer: u8, right: bool) -> String {
        match expr {
            Expr::Metric(m) => self.render_expr(m),
            Expr::Number { value, ty } => render_value(*value, *ty),
            Expr::Binary {
                op, left, right: r, ..
            } => {
                let prec = op.precedence();
                let text = format!(
                    "{} {} {}",
                    self.render_arith(left, prec, false),
                    op.as_str(),
                    self.render_arith(r, prec, true)
                );
                if prec < outer || (right && prec == outer) {
                    format!("({text})")
                } else {
                    text
                }
            }
        }
    }

    /// The name of a metric, or `?` for an id of another program (rendering
    /// is for people and must not fail on a damaged program).
    fn metric_name(&self, id: MetricId) -> &str {
        self.metric(id).map_or("?", |m| m.name.as_str())
    }

    /// A condition with the fewest parentheses that keep its meaning.
    pub fn render_condition(&self, condition: &Condition) -> String {
        self.render_prec(condition, 0)
    }

    fn render_prec(&self, condition: &Condition, outer: u8) -> String {
        let (text, prec) = match condition {
            Condition::Or(a, b) => (
                format!("{} or {}", self.render_prec(a, 1), self.render_right(b, 1)),
                1,
            ),
            Condition::And(a, b) => (
                format!("{} and {}", self.render_prec(a, 2), self.render_right(b, 2)),
                2,
            ),
            Condition::Not(c) => (format!("not {}", self.render_prec(c, 3)), 3),
            // A held clause that ends a condition is bracketed (see
            // `render_right`), or its `for` would read as the rule's.
            Condition::Held {
                condition, hold, ..
            } => (
                format!("{} for {hold}", self.render_prec(condition, 3)),
                if outer == 0 { 5 } else { 2 },
            ),
            Condition::Status(reason) => (format!("status is {}", reason.name()), 4),
            Condition::StatusWas { reason, within } => {
                (format!("status was {} within {within}", reason.name()), 4)
            }
            Condition::Event {
                reason,
                op,
                count,
                within,
            } => (
                format!(
                    "event {reason} count {} {count} within {within}",
                    op.as_str()
                ),
                4,
            ),
            Condition::Compare {
                expr,
                op,
                threshold,
            } => (
                format!(
                    "{} {} {}",
                    self.render_expr(expr),
                    op.as_str(),
                    render_threshold(*threshold, expr.ty)
                ),
                4,
            ),
            Condition::Relation { left, op, right } => (
                format!(
                    "{} {} {}",
                    self.render_side(left),
                    op.as_str(),
                    self.render_side(right)
                ),
                4,
            ),
        };
        if prec < outer || prec == 5 {
            format!("({text})")
        } else {
            text
        }
    }

    /// The right operand of `and` or `or`, which ends the text before it: a
    /// held clause there is bracketed, as a `for` before `then` is the
    /// rule's.
    fn render_right(&self, condition: &Condition, outer: u8) -> String {
        match condition {
            Condition::Held { .. } => format!("({})", self.render_prec(condition, outer)),
            _ => self.render_prec(condition, outer),
        }
    }

    /// Actions as a list reads them: `rollback, restart rolling`.
    pub fn render_actions(&self, actions: &[Action]) -> String {
        actions
            .iter()
            .map(|a| self.render_action(a))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn render_action(&self, action: &Action) -> String {
        match action {
            Action::Restart(RestartMode::Immediate) => "restart".into(),
            Action::Restart(RestartMode::Rolling) => "restart rolling".into(),
            Action::Delete => "delete".into(),
            Action::Scale(Scale::Up { by, max }) => match max {
                Some(max) => format!("scale up {by} max {max}"),
                None => format!("scale up {by}"),
            },
            Action::Scale(Scale::Down { by, min }) => match min {
                Some(min) => format!("scale down {by} min {min}"),
                None => format!("scale down {by}"),
            },
            Action::Scale(Scale::To { replicas }) => format!("scale to {replicas}"),
            Action::Patch(id) => {
                format!("patch {}", self.patch(*id).map_or("?", |p| p.name.as_str()))
            }
            Action::SetLimit {
                resource,
                value,
                max,
            } => {
                let unit = Type::Scalar(resource.unit());
                let value = match value {
                    LimitValue::Absolute(v) => render_value(*v, unit),
                    LimitValue::Factor(f) => format!("current * {f}"),
                };
                match max {
                    Some(max) => format!(
                        "set {} = {value} max {}",
                        resource.keyword(),
                        render_value(*max, unit)
                    ),
                    None => format!("set {} = {value}", resource.keyword()),
                }
            }
            Action::Rollback => "rollback".into(),
            Action::Rerun => "rerun".into(),
            Action::Expand { value, max } => {
                let unit = Type::Scalar(crate::catalog::Unit::Bytes);
                let value = match value {
                    LimitValue::Absolute(v) => render_value(*v, unit),
                    LimitValue::Factor(f) => format!("current * {f}"),
                };
                format!("expand to {value} max {}", render_value(*max, unit))
            }
            Action::Cordon => "cordon".into(),
            Action::Drain => "drain".into(),
            Action::Notify(text) => format!("notify {text:?}"),
            Action::AskAi(choices) => format!(
                "ask ai among [{}]",
                choices
                    .iter()
                    .map(|c| self.render_action(&c.action))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// A stable identity of a rule's meaning: the same for the same rule in any
    /// layout, different when its condition, `for`, action or priority change.
    /// The condition is hashed by structure (metric names, not ids, so that
    /// declaring another metric changes no fingerprint); the tags below are part
    /// of persisted state and must not change.
    pub fn fingerprint(
        &self,
        condition: &Condition,
        hold: Option<Seconds>,
        action: &Action,
        priority: u8,
    ) -> String {
        let mut hash = Fnv::default();
        self.hash_condition(&mut hash, condition);
        hash.bytes(&hold.map_or(u64::MAX, |h| h.0).to_le_bytes());
        hash.bytes(self.render_action(action).as_bytes());
        hash.bytes(&[priority]);
        format!("{:016x}", hash.0)
    }

    fn hash_condition(&self, hash: &mut Fnv, condition: &Condition) {
        match condition {
            Condition::Or(a, b) | Condition::And(a, b) => {
                hash.bytes(if matches!(condition, Condition::Or(..)) {
                    b"|"
                } else {
                    b"&"
                });
                self.hash_condition(hash, a);
                self.hash_condition(hash, b);
            }
            Condition::Not(c) => {
                hash.bytes(b"!");
                self.hash_condition(hash, c);
            }
            Condition::Status(reason) => {
                hash.bytes(b"s");
                hash.bytes(reason.name().as_bytes());
            }
            Condition::StatusWas { reason, within } => {
                hash.bytes(b"w");
                hash.bytes(reason.name().as_bytes());
                hash.bytes(&within.0.to_le_bytes());
            }
            Condition::Held {
                condition, hold, ..
            } => {
                hash.bytes(b"h");
                hash.bytes(&hold.0.to_le_bytes());
                self.hash_condition(hash, condition);
            }
            Condition::Event {
                reason,
                op,
                count,
                within,
            } => {
                hash.bytes(b"e");
                hash.bytes(reason.as_bytes());
                hash.bytes(op.as_str().as_bytes());
                hash.bytes(&count.to_le_bytes());
                hash.bytes(&within.0.to_le_bytes());
            }
            Condition::Compare {
                expr,
                op,
                threshold,
            } => {
                hash.bytes(b"c");
                hash.bytes(self.metric_name(expr.metric).as_bytes());
                self.hash_window(hash, expr);
                hash.bytes(op.as_str().as_bytes());
                match threshold {
                    Threshold::Number(n) => hash.bytes(&n.to_bits().to_le_bytes()),
                    Threshold::Bool(b) => hash.bytes(&[u8::from(*b)]),
                }
            }
            Condition::Relation { left, op, right } => {
                hash.bytes(b"r");
                self.hash_expr(hash, left);
                hash.bytes(op.as_str().as_bytes());
                self.hash_expr(hash, right);
            }
        }
        // Ends each node, so that `a` + `bc` and `ab` + `c` differ.
        hash.bytes(b";");
    }
}

impl Program {
    fn hash_window(&self, hash: &mut Fnv, expr: &MetricExpr) {
        if let Some(w) = expr.window {
            hash.bytes(w.function.name().as_bytes());
            hash.bytes(&w.range.0.to_le_bytes());
            // Only a horizon of its own: a window without one hashes as before.
            if let Some(horizon) = w.horizon {
                hash.bytes(&horizon.0.to_le_bytes());
            }
        }
    }

    fn hash_expr(&self, hash: &mut Fnv, expr: &Expr) {
        match expr {
            Expr::Metric(m) => {
                hash.bytes(b"m");
                hash.bytes(self.metric_name(m.metric).as_bytes());
                self.hash_window(hash, m);
            }
            Expr::Number { value, .. } => {
                hash.bytes(b"n");
                hash.bytes(&value.to_bits().to_le_bytes());
            }
            Expr::Binary {
                op, left, right, ..
            } => {
                hash.bytes(op.as_str().as_bytes());
                self.hash_expr(hash, left);
                self.hash_expr(hash, right);
            }
        }
        hash.bytes(b";");
    }
}

/// FNV-1a: tiny, and stable across Rust versions (unlike `DefaultHasher`).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so that consecutive fields cannot run into each other.
        self.0 = (self.0 ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
}

pub fn render_threshold(threshold: Threshold, ty: Type) -> String {
    match threshold {
        Threshold::Bool(b) => b.to_string(),
        Threshold::Number(n) => render_value(n, ty),
    }
}

/// A canonical value back in its unit: `85%`, `0.05`, `512Mi`, `500m`, `3m`,
/// `2%/min`.
pub fn render_value(value: f64, ty: Type) -> String {
    match ty {
        Type::Rate(unit) => {
            let per_minute = value * 60.0;
            format!("{}/min", render_value(per_minute, Type::Scalar(unit)))
        }
        Type::Scalar(unit) => match unit {
            Unit::Percent => format!("{}%", number(value)),
            Unit::Ratio => number(value),
            Unit::Count => number(value),
            Unit::Bool => (value != 0.0).to_string(),
            // A duration metric may be compared with a fraction of a second
            // (`0.5s`, `500ms`); `for` and windows are whole seconds.
            Unit::Duration if value.fract() != 0.0 && value.abs() < 1.0 => {
                format!("{}ms", number(value * 1000.0))
            }
            Unit::Duration if value.fract() != 0.0 => format!("{}s", number(value)),
            Unit::Duration => Seconds(value.max(0.0) as u64).to_string(),
            Unit::Cores => {
                if value != 0.0 && value.abs() < 1.0 {
                    format!("{}m", number(value * 1000.0))
                } else {
                    number(value)
                }
            }
            Unit::Bytes => {
                // The shortest exact Kubernetes quantity: `1G` rather than
                // `976562.5Ki`, `1.5Gi` rather than `1610612736`.
                crate::catalog::BYTE_SUFFIXES
                    .iter()
                    .filter(|(_, size)| {
                        value.abs() >= *size && (value / size * 100.0).fract() == 0.0
                    })
                    .map(|(suffix, size)| format!("{}{suffix}", number(value / size)))
                    .chain(std::iter::once(number(value)))
                    .min_by_key(String::len)
                    .unwrap_or_default()
            }
        },
    }
}

/// A number without float noise: `85`, `0.05`, `1.5`.
fn number(value: f64) -> String {
    let rounded = (value * 1e6).round() / 1e6;
    if rounded == rounded.trunc() && rounded.abs() < 1e15 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_in_their_units() {
        let s = |v, u| render_value(v, Type::Scalar(u));
        assert_eq!(s(85.0, Unit::Percent), "85%");
        assert_eq!(s(0.05, Unit::Ratio), "0.05");
        assert_eq!(s(2.0 * 1_073_741_824.0, Unit::Bytes), "2Gi");
        assert_eq!(s(1.5 * 1_073_741_824.0, Unit::Bytes), "1.5Gi");
        assert_eq!(s(1e9, Unit::Bytes), "1G");
        assert_eq!(s(512.0 * 1_048_576.0, Unit::Bytes), "512Mi");
        assert_eq!(s(1000.5, Unit::Bytes), "1000.5");
        assert_eq!(s(10.0 * 1_152_921_504_606_846_976.0, Unit::Bytes), "10Ei");
        assert_eq!(s(0.5, Unit::Cores), "500m");
        assert_eq!(s(180.0, Unit::Duration), "3m");
        assert_eq!(s(0.5, Unit::Duration), "500ms");
        assert_eq!(s(1.5, Unit::Duration), "1.5s");
        assert_eq!(
            render_value(2.0 / 60.0, Type::Rate(Unit::Percent)),
            "2%/min"
        );
    }
}
