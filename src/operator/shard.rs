//! Sharding, for clusters too large for one operator: `--shards N` splits
//! the namespaces among N shards by a stable hash of each namespace's name,
//! as kube-state-metrics and Argo CD shard. Each shard (one Deployment of
//! replicas, or a StatefulSet's ordinal) elects its own leader on its own
//! Lease and evaluates, records, acts, verifies and saves state only for
//! its namespaces; nodes and what has no namespace belong to shard 0.
//!
//! Every shard watches the whole cluster (as kube-state-metrics' shards do)
//! and compiles every policy; what it owns decides what it does with them.

use super::registry::fnv1a;

/// The label on a record naming the shard that decided it (sharded only).
pub const SHARD_LABEL: &str = "kubeskippy.io/shard";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// One operator for the whole cluster.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("--shards must be at least 1".into());
        }
        if index >= count {
            return Err(format!(
                "--shard {index} is not one of the {count} shards (0 to {})",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether objects in `namespace` (`None`: cluster-scoped) are this
    /// shard's. FNV-1a of the name: stable across builds and platforms, so
    /// shards of different versions agree during a rollout.
    pub fn owns(&self, namespace: Option<&str>) -> bool {
        match namespace {
            _ if self.count <= 1 => true,
            Some(ns) => fnv1a(ns.as_bytes()) % u64::from(self.count) == u64::from(self.index),
            None => self.index == 0,
        }
    }

    /// The Lease this shard's replicas elect a leader on.
    pub fn lease(&self) -> String {
        match self.count {
            1 => super::leader::LEASE.to_string(),
            n => format!("{}-{}-of-{n}", super::leader::LEASE, self.index),
        }
    }

    /// What tells apart the objects each shard keeps of a policy it shares
    /// with the others (its saved state): empty for a single shard, so an
    /// unsharded operator keeps its names.
    pub fn suffix(&self) -> String {
        match self.count {
            1 => String::new(),
            n => format!("-shard-{}-of-{n}", self.index),
        }
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} of {}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_has_exactly_one_shard() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).expect("a shard")).collect();
        let mut per_shard = [0usize; 3];
        for n in 0..300 {
            let namespace = format!("team-{n}");
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns(Some(&namespace)))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{namespace}: {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        // A hash, not a split by name: each shard gets a fair share.
        assert!(per_shard.iter().all(|&n| n > 60), "{per_shard:?}");
        assert_eq!(shards.iter().filter(|s| s.owns(None)).count(), 1);
    }

    #[test]
    fn the_hash_is_stable() {
        // Shards of two builds must agree: FNV-1a 64 of "default", as any
        // implementation of it computes.
        let two = |i| Shard::new(i, 2).expect("a shard");
        assert_eq!(fnv1a(b"default"), 0xebad_a516_8620_c5fe);
        assert!(two(0).owns(Some("default")));
        assert!(!two(1).owns(Some("default")));
    }

    #[test]
    fn one_shard_is_the_unsharded_operator() {
        assert!(Shard::WHOLE.owns(Some("any")) && Shard::WHOLE.owns(None));
        assert_eq!(Shard::WHOLE.lease(), "kubeskippy-leader");
        assert_eq!(Shard::WHOLE.suffix(), "");
        assert_eq!(
            Shard::new(1, 2).expect("a shard").lease(),
            "kubeskippy-leader-1-of-2"
        );
        assert!(Shard::new(2, 2).is_err() && Shard::new(0, 0).is_err());
    }
}
