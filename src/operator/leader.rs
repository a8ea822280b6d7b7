//! Leader election with a `coordination.k8s.io` Lease, so that several
//! replicas of the operator never act twice: only the holder of the lease
//! evaluates and acts; the others watch the lease and take it over once its
//! holder has not renewed it for its duration.
//!
//! Every change of the lease is an update at the resourceVersion read, so
//! two replicas racing for an expired lease cannot both win: one gets a 409
//! and stays a follower.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};
use std::time::Duration;
use tokio::sync::watch;

/// The lease's name, in the operator's namespace.
pub const LEASE: &str = "kubeskippy-leader";

/// Who this replica is, and how long its lease lasts.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub identity: String,
    /// The Lease's name (each shard elects on its own).
    pub lease: String,
    pub namespace: String,
    /// How long a lease holds without renewal; renewed every third of it.
    pub duration: Duration,
}

impl Candidate {
    /// This process: the pod's name in a cluster, else host and pid.
    pub fn this_process(namespace: &str, lease: String, duration: Duration) -> Candidate {
        let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "local".into());
            format!("{host}-{}", std::process::id())
        });
        Candidate {
            identity,
            lease,
            namespace: namespace.to_string(),
            duration,
        }
    }
}

/// Runs for ever: tries to hold the lease, renews it while held, and
/// publishes whether this replica leads on `leading`.
pub async fn campaign(client: Client, me: Candidate, leading: watch::Sender<bool>) {
    let leases: Api<Lease> = Api::namespaced(client, &me.namespace);
    let period = (me.duration / 3).max(Duration::from_millis(500));
    loop {
        let now_leading = match attempt(&leases, &me).await {
            Ok(held) => held,
            Err(error) => {
                // Unable to renew, a leader steps down at once: another
                // replica may take the lease when it expires, and two must
                // never act.
                tracing::warn!(%error, "leader election: cannot read or write the lease");
                false
            }
        };
        if *leading.borrow() != now_leading {
            if now_leading {
                tracing::info!(identity = %me.identity, "leading: this replica evaluates and acts");
            } else {
                tracing::info!(identity = %me.identity, "following: another replica leads");
            }
            let _ = leading.send(now_leading);
        }
        tokio::time::sleep(period).await;
    }
}

/// One look at the lease: take it if free or expired, renew it if ours.
/// Whether this replica holds it afterwards.
async fn attempt(leases: &Api<Lease>, me: &Candidate) -> Result<bool, kube::Error> {
    let now = k8s_openapi::jiff::Timestamp::now();
    let seconds = i32::try_from(me.duration.as_secs().max(1)).unwrap_or(i32::MAX);
    let mine = |previous: Option<&Lease>| {
        let spec = previous.and_then(|l| l.spec.clone()).unwrap_or_default();
        let ours = spec.holder_identity.as_deref() == Some(me.identity.as_str());
        Lease {
            metadata: ObjectMeta {
                name: Some(me.lease.clone()),
                namespace: Some(me.namespace.clone()),
                resource_version: previous.and_then(|l| l.metadata.resource_version.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                holder_identity: Some(me.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: if ours {
                    spec.acquire_time.clone()
                } else {
                    Some(MicroTime(now))
                },
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(
                    spec.lease_transitions.unwrap_or(0) + i32::from(!ours && previous.is_some()),
                ),
                ..Default::default()
            }),
        }
    };
    let Some(current) = leases.get_opt(&me.lease).await? else {
        return match leases.create(&PostParams::default(), &mine(None)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(error) => Err(error),
        };
    };
    let spec = current.spec.clone().unwrap_or_default();
    let ours = spec.holder_identity.as_deref() == Some(me.identity.as_str());
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(seconds));
    let expired = spec
        .renew_time
        .as_ref()
        .is_none_or(|renewed| renewed.0.as_second().saturating_add(duration) < now.as_second());
    if !ours && !expired {
        return Ok(false);
    }
    match leases
        .replace(&me.lease, &PostParams::default(), &mine(Some(&current)))
        .await
    {
        Ok(_) => Ok(true),
        // Another replica changed it first: it leads.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(error) => Err(error),
    }
}
