//! The safety configuration: built-in defaults from the catalog, overridable by a
//! YAML file (`kubeskippy check --safety FILE`, the operator's config map).

use crate::catalog::{self, Kind};
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
    /// How often metric rules are evaluated, in seconds.
    pub evaluation_interval_seconds: u64,
    /// Fields a patch may never set, at any depth.
    pub forbidden_patch_fields: Vec<String>,
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
            evaluation_interval_seconds: catalog::EVALUATION_INTERVAL_SECONDS,
            forbidden_patch_fields: catalog::FORBIDDEN_PATCH_FIELDS
                .iter()
                .map(|s| s.to_string())
                .collect(),
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
        if config.evaluation_interval_seconds == 0 {
            return Err(ConfigError::Invalid {
                field: "evaluationIntervalSeconds",
                problem: "must be at least 1".into(),
            });
        }
        for forbidden in &config.forbidden_actions {
            if catalog::action(&forbidden.action).is_none() {
                return Err(ConfigError::Invalid {
                    field: "forbiddenActions",
                    problem: format!("names an unknown action `{}`", forbidden.action),
                });
            }
        }
        Ok(config)
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
}
