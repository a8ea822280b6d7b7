//! The policy controller: compiles each `HealingPolicy` and
//! `ClusterHealingPolicy` with the checker `kubeskippy check` runs and writes
//! what came of it to the object's status, so that `kubectl get hpol` shows
//! which policies compiled and `kubectl describe` shows the diagnostics as
//! `kubeskippy check` would print them.

use super::compile::{compile_untrusted, Checked, CompileFailure, Scope};
use super::crd::{ClusterHealingPolicy, HealingPolicy, ModeOverride, PolicyKind, PolicyStatus};
use super::registry::{Entry, Registry};
use super::Error;
use crate::ir::Mode;
use crate::safety::SafetyConfig;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

/// The field manager of everything the operator writes.
pub const MANAGER: &str = "kubeskippy";

/// The longest message a condition may carry (metav1.Condition's schema).
const MAX_MESSAGE: usize = 32_768;

/// What the policy controller shares between reconciles.
pub struct Shared {
    pub client: Client,
    pub safety: SafetyConfig,
    /// Where compiled policies go for the evaluation loop.
    pub registry: Arc<Registry>,
    /// The operator's namespace (where a ClusterHealingPolicy's state is
    /// kept).
    pub namespace: String,
    /// Every shard compiles every policy; the shard that owns a policy's
    /// namespace (shard 0 for a ClusterHealingPolicy) writes its status.
    pub shard: super::shard::Shard,
}

/// What the controller reads of either kind of policy object.
pub trait PolicyObject:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    const KIND: PolicyKind;
    fn source(&self) -> &str;
    fn mode_override(&self) -> Option<ModeOverride>;
    fn current_status(&self) -> Option<&PolicyStatus>;
    fn scope(&self) -> Scope;
    fn api(client: Client, namespace: Option<&str>) -> Api<Self>;
}

/// The two kinds share their spec's and status's shape; they differ in scope.
macro_rules! policy_object {
    ($kind:ident, $object:ident => $scope:expr, $client:ident, $namespace:ident => $api:expr) => {
        impl PolicyObject for $kind {
            const KIND: PolicyKind = PolicyKind::$kind;
            fn source(&self) -> &str {
                &self.spec.policy
            }
            fn mode_override(&self) -> Option<ModeOverride> {
                self.spec.mode
            }
            fn current_status(&self) -> Option<&PolicyStatus> {
                self.status.as_ref()
            }
            fn scope(&self) -> Scope {
                let $object = self;
                $scope
            }
            fn api($client: Client, $namespace: Option<&str>) -> Api<Self> {
                $api
            }
        }
    };
}

policy_object!(HealingPolicy, object => Scope::Namespaced(object.namespace().unwrap_or_default()),
    client, namespace => Api::namespaced(client, namespace.unwrap_or("default")));
policy_object!(ClusterHealingPolicy, _object => Scope::Cluster,
    client, _namespace => Api::all(client));

/// Compiles the object and writes its status, only when it changed.
pub async fn reconcile<K: PolicyObject>(
    object: Arc<K>,
    shared: Arc<Shared>,
) -> Result<Action, Error> {
    let name = object.name_any();
    let namespace = object.namespace();
    let shown = match &namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.clone(),
    };
    let (source, safety, scope) = (
        object.source().to_string(),
        shared.safety.clone(),
        object.scope(),
    );
    let label = shown.clone();
    let checked =
        tokio::task::spawn_blocking(move || compile_untrusted(source, safety, scope, label))
            .await
            .map_err(|e| Error::Task(e.to_string()))?;
    let status = status_for(
        &*object,
        &checked,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let uid = object.uid().unwrap_or_default();
    match &checked {
        Ok(c) if c.errors() == 0 => {
            let mut entry = Entry::new(
                K::KIND,
                namespace.clone(),
                name.clone(),
                uid,
                object.source(),
                &c.compiled,
                object.mode_override().map(Mode::from),
            );
            // First seen by this process: resume what a previous one kept.
            if !shared.registry.contains(&entry.uid) {
                if let Some(state) =
                    super::persist::load(&shared.client, &entry, &shared.namespace, shared.shard)
                        .await
                {
                    tracing::info!(policy = %shown, timers = state.timer_count(), "resumed the saved state");
                    entry.saved = Some((super::persist::fingerprint(&state), 0));
                    entry.state = state;
                }
            }
            shared.registry.put(entry);
        }
        _ => shared.registry.remove(&uid),
    }
    if object.current_status() == Some(&status) || !shared.shard.owns(namespace.as_deref()) {
        return Ok(Action::await_change());
    }
    match &checked {
        Ok(c) => {
            tracing::info!(policy = %shown, errors = c.errors(), warnings = c.warnings(), "compiled")
        }
        Err(e) => tracing::warn!(policy = %shown, error = %e, "not compiled"),
    }
    let api = K::api(shared.client.clone(), namespace.as_deref());
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::Kube)?;
    Ok(Action::await_change())
}

/// After an error, try again later.
pub fn error_policy<K: PolicyObject>(object: Arc<K>, error: &Error, _: Arc<Shared>) -> Action {
    tracing::warn!(policy = %object.name_any(), %error, "reconcile failed; retrying in 30s");
    Action::requeue(Duration::from_secs(30))
}

/// The status that says what came of compiling `object`. A condition keeps
/// its last transition time while its status stays the same.
pub fn status_for<K: PolicyObject>(
    object: &K,
    checked: &Result<Checked, CompileFailure>,
    now: Time,
) -> PolicyStatus {
    let previous = object.current_status();
    let generation = object.meta().generation;
    let (ok, reason, message, program) = match checked {
        Err(failure) => (false, "CompileFailed", failure.to_string(), None),
        Ok(c) if c.errors() > 0 => (false, "CompileErrors", c.rendered.clone(), None),
        Ok(c) => {
            let message = match c.warnings() {
                0 => "compiled without warnings".to_string(),
                n => format!(
                    "compiled with {n} warning{}:\n{}",
                    if n == 1 { "" } else { "s" },
                    c.rendered
                ),
            };
            (true, "Compiled", message, Some(&c.compiled.program))
        }
    };
    let condition = Condition {
        type_: "Compiled".into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: truncate(&message, MAX_MESSAGE),
        observed_generation: generation,
        last_transition_time: previous
            .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Compiled"))
            .filter(|c| c.status == if ok { "True" } else { "False" })
            .map_or(now, |c| c.last_transition_time.clone()),
    };
    let policy = program.and_then(|p| p.policies.first());
    let mode = policy.map(|p| {
        object
            .mode_override()
            .map_or(p.mode, Mode::from)
            .keyword()
            .to_string()
    });
    PolicyStatus {
        observed_generation: generation,
        conditions: vec![condition],
        policy_name: policy.map(|p| p.name.clone()),
        mode,
        actions_this_hour: previous.and_then(|s| s.actions_this_hour),
        breaker: previous.and_then(|s| s.breaker),
        without_data: previous.map(|s| s.without_data.clone()).unwrap_or_default(),
        watches_down: previous.map(|s| s.watches_down.clone()).unwrap_or_default(),
    }
}

/// At most `max` bytes of `text`, cut at a character boundary, saying so.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const MORE: &str = "\n… (cut: run `kubeskippy check` for every diagnostic)";
    let mut end = max - MORE.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operator::crd::HealingPolicySpec;

    fn policy(source: &str, namespace: &str) -> HealingPolicy {
        let mut p = HealingPolicy::new(
            "p",
            HealingPolicySpec {
                policy: source.into(),
                mode: None,
            },
        );
        p.metadata.namespace = Some(namespace.into());
        p.metadata.generation = Some(3);
        p
    }

    fn compiled(object: &HealingPolicy) -> Result<Checked, CompileFailure> {
        compile_untrusted(
            object.spec.policy.clone(),
            SafetyConfig::default(),
            object.scope(),
            "shop/p".into(),
        )
    }

    fn at(seconds: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(seconds).expect("a time"))
    }

    #[test]
    fn a_policy_that_compiles_says_its_name_and_mode() {
        let object = policy(
            "policy checkout {\n  select pods where app = \"a\"\n  mode auto\n  cooldown 5m\n  when restarts > 3 then restart\n}\n",
            "shop",
        );
        let status = status_for(&object, &compiled(&object), at(100));
        assert_eq!(status.observed_generation, Some(3));
        assert_eq!(status.policy_name.as_deref(), Some("checkout"));
        assert_eq!(status.mode.as_deref(), Some("auto"));
        let c = &status.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("Compiled", "True", "Compiled")
        );
    }

    #[test]
    fn errors_are_rendered_as_check_prints_them_and_the_transition_time_is_kept() {
        let mut object = policy(
            "policy checkout {\n  select pods in billing\n  cooldown 5m\n  when memroy_percent > 85 then restart\n}\n",
            "shop",
        );
        let first = status_for(&object, &compiled(&object), at(100));
        let c = &first.conditions[0];
        assert_eq!(
            (c.status.as_str(), c.reason.as_str()),
            ("False", "CompileErrors")
        );
        assert!(c.message.contains("E0101"), "{}", c.message);
        assert!(c.message.contains("E0309"), "{}", c.message);
        assert!(c.message.contains("shop/p:4:8"), "{}", c.message);
        assert_eq!(first.mode, None);
        object.status = Some(first.clone());
        let again = status_for(&object, &compiled(&object), at(200));
        assert_eq!(again, first, "nothing changed, nothing to write");
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let text = "é".repeat(40_000);
        let cut = truncate(&text, MAX_MESSAGE);
        assert!(cut.len() <= MAX_MESSAGE);
        assert!(cut.ends_with("every diagnostic)"));
    }
}
