//! The safety configuration: built-in defaults from the catalog, overridable by a
//! YAML file (`kubeskippy check --safety FILE`, the operator's config map).

use super::guard::{BlastRadius, CircuitBreaker, RecordRetention, StormGuard, Verification};
use crate::catalog::{self, Kind};
use crate::diagnostic::closest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What policies may do. Every field has a default (see [`catalog`]); a YAML file
/// names only what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SafetyConfig {
    /// Namespaces no policy may select (`in any` skips them).
    pub protected_namespaces: Vec<String>,
    /// Labels that protect an object from every action.
    pub protected_labels: BTreeMap<String, String>,
    /// Actions never allowed on a kind.
    pub forbidden_actions: Vec<ForbiddenAction>,
    /// Actions that always wait for a human approval.
    pub approval_required: Vec<String>,
    /// Scaling by more replicas than this in one action needs approval.
    pub max_auto_scale_step: u32,
    /// The most actions one policy may take per hour, whatever its `limit`.
    pub max_actions_per_hour: u32,
    /// The most actions every policy together may take per hour (rules' and
    /// the AI's): a bound on a bad hour however many policies there are.
    pub max_cluster_actions_per_hour: u32,
    /// How often metric rules are evaluated, in seconds.
    pub evaluation_interval_seconds: u64,
    /// Fields a patch may never set, at any depth.
    pub forbidden_patch_fields: Vec<String>,
    /// The most actions the AI's choices may take per policy per hour: a
    /// budget of their own, smaller than the rules'.
    pub max_ai_actions_per_hour: u32,
    pub circuit_breaker: CircuitBreaker,
    pub blast_radius: BlastRadius,
    pub storm_guard: StormGuard,
    pub verification: Verification,
    /// How long completed HealingActions are kept, and how many.
    pub record_retention: RecordRetention,
    /// The AI's choices wait for a person unless the model's confidence is
    /// at least this (0 to 1). No default: a model's self-reported
    /// confidence is not evidence; choose it from `kubeskippy ai eval`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_auto_approve_confidence: Option<f64>,
    /// Every policy in `dryrun`, whatever its mode: the operator records what
    /// it would do and changes nothing (a notify still notifies; refusals
    /// are still refusals).
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForbiddenAction {
    pub action: String,
    pub kind: Kind,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            protected_namespaces: catalog::PROTECTED_NAMESPACES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            protected_labels: catalog::PROTECTED_LABELS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            forbidden_actions: catalog::FORBIDDEN_ACTIONS
                .iter()
                .map(|(action, kind)| ForbiddenAction {
                    action: action.to_string(),
                    kind: *kind,
                })
                .collect(),
            approval_required: catalog::APPROVAL_REQUIRED
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_auto_scale_step: catalog::MAX_AUTO_SCALE_STEP,
            max_actions_per_hour: catalog::MAX_ACTIONS_PER_HOUR,
            max_cluster_actions_per_hour: catalog::MAX_CLUSTER_ACTIONS_PER_HOUR,
            evaluation_interval_seconds: catalog::EVALUATION_INTERVAL_SECONDS,
            forbidden_patch_fields: catalog::FORBIDDEN_PATCH_FIELDS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            max_ai_actions_per_hour: 5,
            circuit_breaker: CircuitBreaker::default(),
            blast_radius: BlastRadius::default(),
            storm_guard: StormGuard::default(),
            verification: Verification::default(),
            record_retention: RecordRetention::default(),
            ai_auto_approve_confidence: None,
            dry_run: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid safety configuration: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("invalid safety configuration: `{field}` {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
}

impl SafetyConfig {
    /// Reads a YAML safety configuration; absent fields keep their defaults.
    pub fn from_yaml(text: &str) -> Result<SafetyConfig, ConfigError> {
        let config: SafetyConfig = if text.trim().is_empty() {
            SafetyConfig::default()
        } else {
            serde_yaml::from_str(text)?
        };
        config.validate()?;
        Ok(config)
    }

    /// Every value is one the checker and the safety controller can use: a
    /// misspelt action would otherwise forbid or gate nothing, silently.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, value) in [
            (
                "evaluationIntervalSeconds",
                self.evaluation_interval_seconds,
            ),
            ("maxActionsPerHour", u64::from(self.max_actions_per_hour)),
            (
                "maxClusterActionsPerHour",
                u64::from(self.max_cluster_actions_per_hour),
            ),
            ("maxAutoScaleStep", u64::from(self.max_auto_scale_step)),
            (
                "maxAiActionsPerHour",
                u64::from(self.max_ai_actions_per_hour),
            ),
            (
                "circuitBreaker.failures",
                u64::from(self.circuit_breaker.failures),
            ),
            (
                "circuitBreaker.windowSeconds",
                self.circuit_breaker.window_seconds,
            ),
            ("stormGuard.minPods", u64::from(self.storm_guard.min_pods)),
            ("verification.afterSeconds", self.verification.after_seconds),
            (
                "recordRetention.maxPerNamespace",
                u64::from(self.record_retention.max_per_namespace),
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    field,
                    problem: "is 0; it must be at least 1".into(),
                });
            }
        }
        for (field, percent) in [
            ("blastRadius.maxPercent", self.blast_radius.max_percent),
            (
                "stormGuard.unhealthyPercent",
                self.storm_guard.unhealthy_percent,
            ),
        ] {
            if percent > 100 {
                return Err(ConfigError::Invalid {
                    field,
                    problem: format!("is {percent}; a percentage is at most 100"),
                });
            }
        }
        if let Some(c) = self.ai_auto_approve_confidence {
            if !(0.0..=1.0).contains(&c) {
                return Err(ConfigError::Invalid {
                    field: "aiAutoApproveConfidence",
                    problem: format!("is {c}; a confidence is from 0 to 1"),
                });
            }
        }
        let actions = self.forbidden_actions.iter().map(|f| f.action.as_str());
        known_actions("forbiddenActions", actions)?;
        known_actions(
            "approvalRequired",
            self.approval_required.iter().map(String::as_str),
        )?;
        for namespace in &self.protected_namespaces {
            if let Err(problem) = namespace_name(namespace) {
                return Err(ConfigError::Invalid {
                    field: "protectedNamespaces",
                    problem: format!(
                        "names `{namespace}`, which is not a namespace name ({problem})"
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn is_protected_namespace(&self, namespace: &str) -> bool {
        self.protected_namespaces.iter().any(|n| n == namespace)
    }

    pub fn is_forbidden(&self, action: &str, kind: Kind) -> bool {
        self.forbidden_actions
            .iter()
            .any(|f| f.action == action && f.kind == kind)
    }

    pub fn needs_approval(&self, action: &str) -> bool {
        self.approval_required.iter().any(|a| a == action)
    }
}

/// Every name is an action of the catalog (`restart rolling`, `scale down`, …).
fn known_actions<'a>(
    field: &'static str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), ConfigError> {
    for name in names {
        if catalog::action(name).is_some() {
            continue;
        }
        let known = catalog::ACTIONS.iter().map(|a| a.name);
        let hint = match closest(name, known.clone()) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!(
                "; actions are {}",
                known
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        return Err(ConfigError::Invalid {
            field,
            problem: format!("names an unknown action `{name}`{hint}"),
        });
    }
    Ok(())
}

/// Kubernetes' rule for namespace names: a DNS label (RFC 1123), with the
/// reason a name is not one.
pub fn namespace_name(name: &str) -> Result<(), &'static str> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let edges_ok = !name.starts_with('-') && !name.ends_with('-');
    if name.is_empty() || name.len() > 63 {
        Err("1 to 63 characters")
    } else if chars_ok && edges_ok {
        Ok(())
    } else {
        Err("lowercase letters, digits and `-` only, starting and ending with a letter or digit")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let config = SafetyConfig::from_yaml("maxAutoScaleStep: 2\nprotectedNamespaces: [prod]\n")
            .expect("valid");
        assert_eq!(config.max_auto_scale_step, 2);
        assert_eq!(config.protected_namespaces, ["prod"]);
        assert_eq!(config.max_actions_per_hour, catalog::MAX_ACTIONS_PER_HOUR);
    }

    #[test]
    fn unknown_fields_and_actions_are_errors() {
        assert!(SafetyConfig::from_yaml("maxScale: 2").is_err());
        let err = SafetyConfig::from_yaml("forbiddenActions: [{action: explode, kind: pods}]")
            .expect_err("unknown action");
        assert!(err.to_string().contains("explode"), "{err}");
    }

    /// Each invalid value is refused with the field, the value and a fix.
    #[test]
    fn invalid_values_name_their_field_and_value() {
        let cases = [
            (
                "approvalRequired: [cordon, drian]",
                "`approvalRequired` names an unknown action `drian`; did you mean `drain`?",
            ),
            (
                "forbiddenActions: [{action: scale-down, kind: statefulsets}]",
                "`forbiddenActions` names an unknown action `scale-down`; did you mean `scale down`?",
            ),
            ("maxActionsPerHour: 0", "`maxActionsPerHour` is 0; it must be at least 1"),
            ("maxAutoScaleStep: 0", "`maxAutoScaleStep` is 0; it must be at least 1"),
            (
                "evaluationIntervalSeconds: 0",
                "`evaluationIntervalSeconds` is 0; it must be at least 1",
            ),
            (
                "protectedNamespaces: [kube-system, Payments]",
                "`protectedNamespaces` names `Payments`, which is not a namespace name",
            ),
            (
                "protectedNamespaces: [\"\"]",
                "`protectedNamespaces` names ``, which is not a namespace name (1 to 63 characters)",
            ),
        ];
        for (yaml, expected) in cases {
            let err = SafetyConfig::from_yaml(yaml).expect_err(yaml);
            assert!(
                err.to_string().contains(expected),
                "{yaml}: expected {expected:?} in {err}"
            );
        }
        let fine =
            "approvalRequired: [cordon, drain, scale to, restart rolling]\nmaxAutoScaleStep: 1\n";
        assert!(SafetyConfig::from_yaml(fine).is_ok());
    }

    #[test]
    fn the_defaults_are_valid() {
        assert!(SafetyConfig::default().validate().is_ok());
    }
}
