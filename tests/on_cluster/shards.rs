//! Two shards (`--shards 2`), each its own operator on its own Lease, on
//! the real API server: every namespace's crash loop is healed by exactly
//! the shard its name hashes to, once.

use super::support::*;
use k8s_openapi::api::coordination::v1::Lease;
use kubeskippy::operator::crd::HealingAction;
use kubeskippy::operator::shard::{Shard, SHARD_LABEL};

#[tokio::test]
async fn each_namespace_is_handled_by_exactly_one_shard() {
    let Some(bench) = role_bench("t-shards").await else {
        return;
    };
    let (plane, client, kubeconfig, _) = bench.parts();
    let shards = [
        Shard::new(0, 2).expect("shard 0"),
        Shard::new(1, 2).expect("shard 1"),
    ];
    // Two namespaces for each shard, found by the hash the shards use.
    let mut chosen: Vec<(String, u32)> = Vec::new();
    for n in 0.. {
        let name = format!("t-shard-{n}");
        let owner = shards
            .iter()
            .find(|s| s.owns(Some(&name)))
            .expect("an owner");
        if chosen.iter().filter(|(_, s)| *s == owner.index).count() < 2 {
            chosen.push((name, owner.index));
        }
        if chosen.len() == 4 {
            break;
        }
    }
    for (ns, _) in &chosen {
        namespace(&client, ns).await;
        let (pods, pod) = workload(&client, ns, "looping", 1).await;
        healing_policy(
            &client,
            ns,
            "crashloop",
            "policy crashloop {\n  select pods where app = \"looping\"\n  mode auto\n  \
             cooldown 10m\n  when status is CrashLoopBackOff then restart\n}\n",
        )
        .await;
        crash_loop(&pods, &pod).await;
    }
    let _operators: Vec<_> = shards
        .iter()
        .map(|shard| {
            let index = shard.index.to_string();
            operator_as(
                plane,
                &format!("shard-{index}"),
                Some("evaluationIntervalSeconds: 1\n"),
                &kubeconfig,
                &[
                    "--namespace",
                    "kubeskippy-system",
                    "--shards",
                    "2",
                    "--shard",
                    &index,
                ],
            )
        })
        .collect();
    for (ns, owner) in &chosen {
        let actions: Api<HealingAction> = Api::namespaced(client.clone(), ns);
        let record = record_where(
            &actions,
            &format!("{ns}'s restart"),
            Duration::from_secs(90),
            carried_out,
        )
        .await;
        let decided_by = record
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SHARD_LABEL))
            .cloned();
        assert_eq!(decided_by, Some(owner.to_string()), "{ns}");
    }
    // Given time, no shard acts where the other does.
    for shard in &shards {
        cycles(plane, &format!("shard-{}", shard.index), 3).await;
    }
    for (ns, owner) in &chosen {
        let actions: Api<HealingAction> = Api::namespaced(client.clone(), ns);
        let records = actions
            .list(&ListParams::default())
            .await
            .expect("records")
            .items;
        let deciders: std::collections::BTreeSet<Option<String>> = records
            .iter()
            .map(|r| {
                r.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(SHARD_LABEL))
                    .cloned()
            })
            .collect();
        assert_eq!(
            deciders,
            std::collections::BTreeSet::from([Some(owner.to_string())]),
            "{ns}: every record by shard {owner}"
        );
        let restarts = records.iter().filter(|r| carried_out(r)).count();
        assert_eq!(restarts, 1, "{ns}: one restart");
    }
    // Each shard leads on a Lease of its own, held by its own operator.
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kubeskippy-system");
    for shard in &shards {
        let name = format!("kubeskippy-leader-{}-of-2", shard.index);
        let lease = leases.get(&name).await.expect("the shard's Lease");
        let holder = lease.spec.and_then(|s| s.holder_identity);
        assert_eq!(
            holder.as_deref(),
            Some(format!("shard-{}", shard.index).as_str()),
            "{name}"
        );
    }
}
