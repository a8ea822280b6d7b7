//! The objects a scenario scripts rather than simulates (jobs, autoscalers,
//! claims, budgets, quotas, volumes, the cluster, filesystems): observed at
//! each step exactly as `kubeskippy test` observes its targets, so a rule
//! on any kind is evaluated by the same engine in `simulate`. An action on
//! one is recorded and changes nothing: the object follows its script.

use crate::engine::observation::{Target, TargetId};
use crate::sim::unit_test::{observe_inputs, Prepared, TargetInput};

pub(super) struct Scripted {
    inputs: Vec<TargetInput>,
    prepared: Prepared,
    interval: i64,
}

impl Scripted {
    pub(super) fn new(inputs: &[TargetInput], interval: i64) -> Scripted {
        Scripted {
            prepared: Prepared::new(inputs, interval),
            inputs: inputs.to_vec(),
            interval,
        }
    }

    /// The scripted targets as observed at `now`.
    pub(super) fn at(&self, now: i64) -> Vec<Target> {
        if self.inputs.is_empty() {
            return Vec::new();
        }
        let step = now / self.interval.max(1);
        observe_inputs(&self.inputs, &self.prepared, step, self.interval).targets
    }

    pub(super) fn holds(&self, object: &TargetId) -> bool {
        self.inputs.iter().any(|input| input.target == *object)
    }
}
