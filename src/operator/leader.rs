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
use tokio::time::Instant;

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

/// Whether this replica leads, and which of its terms: `Some(n)` from the
/// n-th time it took the lease, `None` while it follows. A lead lost and
/// taken back between two looks is another term, so the loop still sees
/// that another replica may have led in between.
pub type Leading = Option<u64>;

/// Runs for ever: tries to hold the lease, renews it while held, and
/// publishes whether this replica leads on `leading`.
///
/// A leader whose renewal fails tries again until two thirds of the lease
/// have passed since its last renewal, then steps down, whatever its
/// request still waits on: by then another replica may be a third of a
/// lease away from taking over, and two must never act.
pub async fn campaign(client: Client, me: Candidate, leading: watch::Sender<Leading>) {
    let leases: Api<Lease> = Api::namespaced(client, &me.namespace);
    let period = (me.duration / 3).max(Duration::from_millis(500));
    let renew_deadline = (me.duration * 2 / 3).max(period);
    // When the last renewal that succeeded began: the lease holds from then.
    let mut renewed: Option<Instant> = None;
    let mut terms = 0;
    loop {
        let started = Instant::now();
        let leads = leading.borrow().is_some();
        let deadline = match renewed {
            Some(at) if leads => at + renew_deadline,
            _ => started + renew_deadline,
        };
        let now_leading = match tokio::time::timeout_at(deadline, attempt(&leases, &me)).await {
            Ok(Ok(held)) => {
                renewed = held.then_some(started);
                held
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "leader election: cannot read or write the lease");
                // A failed request is not yet a lost lease: the next
                // attempt still has until the deadline.
                leads && renewed.is_some() && Instant::now() < deadline
            }
            Err(_) => {
                tracing::warn!(
                    waited_ms = started.elapsed().as_millis() as u64,
                    "leader election: the lease was not renewed in time"
                );
                false
            }
        };
        if !now_leading {
            renewed = None;
        }
        if leads != now_leading {
            if now_leading {
                terms += 1;
                tracing::info!(identity = %me.identity, term = terms, "leading: this replica evaluates and acts");
                let _ = leading.send(Some(terms));
            } else {
                tracing::info!(identity = %me.identity, "following: another replica leads");
                let _ = leading.send(None);
            }
        }
        // Each attempt a period after the last began, so a slow renewal
        // does not shorten the next one's time to its deadline; a leader
        // whose renewal failed tries again sooner, several times before it.
        let failed = now_leading && renewed != Some(started);
        tokio::time::sleep_until(started + if failed { period / 4 } else { period }).await;
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
    // In milliseconds: in whole seconds a lease renewed late in a second
    // would expire up to a second early.
    let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
        renewed
            .0
            .as_millisecond()
            .saturating_add(duration.saturating_mul(1_000))
            < now.as_millisecond()
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::{Method, Request, Response};
    use http_body_util::BodyExt;
    use kube::client::Body;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
    use std::sync::Arc;

    /// What the test double of the API server does: once `hang` is set
    /// every request hangs (an API server or etcd stalled); while `fail` is
    /// above 0 each request fails with a 500 and takes one off; each
    /// request takes `slow` milliseconds.
    #[derive(Default, Clone)]
    struct Faults {
        hang: Arc<AtomicBool>,
        fail: Arc<AtomicUsize>,
        slow: Arc<AtomicU64>,
    }

    /// A test double of the API server: no lease at first, the lease
    /// created as asked, with `faults`.
    fn stalling_server(faults: Faults) -> Client {
        let service = tower::service_fn(move |request: Request<Body>| {
            let Faults { hang, fail, slow } = faults.clone();
            async move {
                if hang.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                tokio::time::sleep(Duration::from_millis(slow.load(Ordering::SeqCst))).await;
                let failing = fail
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing {
                    let broken = serde_json::json!({"kind": "Status", "apiVersion": "v1",
                        "status": "Failure", "reason": "InternalError", "code": 500});
                    return Ok(Response::builder()
                        .status(500)
                        .header("content-type", "application/json")
                        .body(Body::from(broken.to_string().into_bytes()))
                        .expect("a response"));
                }
                let method = request.method().clone();
                let body = request.into_body().collect().await.expect("a body");
                let (status, body) = if method == Method::POST {
                    (201, body.to_bytes().to_vec())
                } else {
                    let missing = serde_json::json!({"kind": "Status", "apiVersion": "v1",
                        "status": "Failure", "reason": "NotFound", "code": 404});
                    (404, missing.to_string().into_bytes())
                };
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .expect("a response"),
                )
            }
        });
        Client::new(service, "default")
    }

    fn candidate(duration: Duration) -> Candidate {
        Candidate {
            identity: "me".into(),
            lease: LEASE.into(),
            namespace: "kubeskippy-system".into(),
            duration,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_whose_renewal_hangs_steps_down_before_its_lease_can_expire() {
        let faults = Faults::default();
        let me = candidate(Duration::from_secs(3));
        let (sender, mut leading) = watch::channel(None);
        let acquired = Instant::now();
        let server = stalling_server(faults.clone());
        tokio::spawn(campaign(server, me, sender));
        leading.changed().await.expect("the campaign runs");
        assert_eq!(*leading.borrow(), Some(1), "the free lease is taken");
        faults.hang.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), leading.changed())
            .await
            .expect("the leader steps down though its renewal never answers")
            .expect("the campaign runs");
        assert_eq!(*leading.borrow(), None);
        // Another replica may take the lease 3 s after it was renewed.
        let stepped_down = acquired.elapsed();
        assert!(stepped_down < Duration::from_secs(3), "{stepped_down:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_renewal_that_fails_once_is_tried_again_before_stepping_down() {
        let faults = Faults::default();
        let fail = faults.fail.clone();
        let me = candidate(Duration::from_secs(15));
        let (sender, mut leading) = watch::channel(None);
        let server = stalling_server(faults);
        tokio::spawn(campaign(server, me, sender));
        leading.changed().await.expect("the campaign runs");
        assert_eq!(*leading.borrow(), Some(1), "the free lease is taken");
        // One renewal fails (5 s after the lease was taken); the next comes
        // soon, well within the 10 s deadline.
        fail.store(1, Ordering::SeqCst);
        let stepped_down = tokio::time::timeout(Duration::from_secs(30), leading.changed()).await;
        assert!(
            stepped_down.is_err(),
            "it still leads: {:?}",
            *leading.borrow()
        );
        assert_eq!(fail.load(Ordering::SeqCst), 0, "the failure was met");
        // Every renewal fails: it steps down at the deadline.
        fail.store(usize::MAX, Ordering::SeqCst);
        let failing_since = Instant::now();
        tokio::time::timeout(Duration::from_secs(30), leading.changed())
            .await
            .expect("it steps down")
            .expect("the campaign runs");
        assert_eq!(*leading.borrow(), None);
        assert!(failing_since.elapsed() <= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_whose_renewals_are_slow_but_succeed_keeps_the_lead() {
        let faults = Faults::default();
        // A renewal (a read, a write) takes 0.9 s, 0.3 of the 3 s lease:
        // the next, a period (1 s) after it began, ends within the 2 s
        // deadline.
        faults.slow.store(450, Ordering::SeqCst);
        let (sender, mut leading) = watch::channel(None);
        tokio::spawn(campaign(
            stalling_server(faults),
            candidate(Duration::from_secs(3)),
            sender,
        ));
        leading.changed().await.expect("the campaign runs");
        assert_eq!(*leading.borrow(), Some(1));
        let changed = tokio::time::timeout(Duration::from_secs(60), leading.changed()).await;
        assert!(
            changed.is_err(),
            "the lead flapped: {:?}",
            *leading.borrow()
        );
    }
}
