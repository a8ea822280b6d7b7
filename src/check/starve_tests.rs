//! The starvation lint (W0118): rules whose actions land on one object and
//! share its cooldown, and the pairs it leaves alone.

use super::lowering_tests::codes;
use super::*;

fn policy(select: &str, cooldown: &str, rules: &[&str]) -> String {
    let rules: Vec<String> = rules.iter().map(|r| format!("  when {r}\n")).collect();
    format!(
        "policy p {{\n  select {select}\n  limit 5 per 1h\n{cooldown}{}}}\n",
        rules.concat()
    )
}

fn starving(select: &str, rules: &[&str]) -> Vec<&'static str> {
    codes(&policy(select, "  cooldown 10m\n", rules))
        .into_iter()
        .filter(|c| *c == "W0118")
        .collect()
}

#[test]
fn a_rule_that_lands_on_the_object_of_a_more_urgent_one_is_flagged() {
    // The restart at 3 restarts spends the pod's cooldown the delete at 6
    // then waits on.
    assert_eq!(
        starving(
            "pods",
            &[
                "restarts > 3 then restart",
                "restarts > 6 then delete priority 5"
            ]
        ),
        ["W0118"]
    );
    // A scale-up holds back the rolling restart of the same Deployment.
    assert_eq!(
        starving(
            "deployments",
            &[
                "avg(cpu_percent, 2m) > 80% then scale up 1 max 6",
                "ready == false for 5m then restart rolling priority 5"
            ]
        ),
        ["W0118"]
    );
    // From pods: a rolling restart lands on the owner, as a rollback does.
    assert_eq!(
        starving(
            "pods",
            &[
                "memory_percent > 90 then restart rolling",
                "status is CrashLoopBackOff for 5m then rollback priority 1"
            ]
        ),
        ["W0118"]
    );
    // An AI choice that lands on the same object counts.
    assert_eq!(
        starving(
            "pods",
            &[
                "restarts > 3 then ask ai among [restart, delete]",
                "memory_percent > 95 then delete priority 1"
            ]
        ),
        ["W0118"]
    );
    // One condition held for different times: the restart after a minute
    // spends the cooldown the rollback after four then waits on.
    assert_eq!(
        starving(
            "deployments",
            &[
                "status is CrashLoopBackOff for 1m then restart rolling",
                "status is CrashLoopBackOff for 4m then rollback priority 1"
            ]
        ),
        ["W0118"]
    );
}

#[test]
fn rules_that_fire_together_are_w0101s_not_w0118s() {
    let codes = codes(&policy(
        "deployments",
        "  cooldown 10m\n",
        &[
            "status is CrashLoopBackOff for 4m then restart rolling",
            "status is CrashLoopBackOff for 4m then rollback priority 1",
        ],
    ));
    assert!(codes.contains(&"W0101"), "{codes:?}");
    assert!(!codes.contains(&"W0118"), "{codes:?}");
}

#[test]
fn pairs_whose_wait_is_wanted_or_impossible_are_left_alone() {
    for rules in [
        // A notification has a budget of its own.
        &[
            "restarts > 1 then notify \"crashing\"",
            "restarts > 6 then delete priority 5",
        ][..],
        // One remedy either way.
        &[
            "restarts > 3 then restart",
            "memory_percent > 95 then restart priority 5",
        ],
        // The cooldown between them is the hysteresis.
        &[
            "avg(cpu_percent, 2m) > 80% then scale up 1 max 6",
            "avg(cpu_percent, 10m) < 20% for 10m then scale down 1 min 2",
        ],
        // Different objects: the pod, and its workload.
        &[
            "restarts > 3 then restart",
            "restarts > 6 then rollback priority 1",
        ],
    ] {
        let select = if rules[0].contains("scale") {
            "deployments"
        } else {
            "pods"
        };
        assert!(starving(select, rules).is_empty(), "{rules:?}");
    }
    // Without a cooldown there is nothing to spend (W0107 speaks of it).
    let none = codes(&policy(
        "pods",
        "",
        &[
            "restarts > 3 then restart",
            "restarts > 6 then delete priority 5",
        ],
    ));
    assert!(!none.contains(&"W0118"), "{none:?}");
}

#[test]
fn rules_of_one_priority_are_left_alone_and_the_message_names_both() {
    let tie = starving(
        "pods",
        &[
            "restarts > 3 then restart",
            "memory_percent > 95 then delete",
        ],
    );
    assert!(tie.is_empty(), "{tie:?}");
    let source = policy(
        "nodes",
        "  cooldown 30m\n",
        &[
            "status is MemoryPressure for 5m then cordon",
            "status is NotReady for 10m then drain priority 2",
        ],
    );
    let compiled = compile(&source, &SafetyConfig::default());
    let starving: Vec<&Diagnostic> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code == Code::Starving)
        .collect();
    assert_eq!(starving.len(), 1, "{:?}", compiled.diagnostics);
    assert_eq!(
        starving[0].message,
        "rule 1 (`cordon`) can hold back rule 2 (`drain`) for the whole `cooldown 30m`: both act on the object the policy selects"
    );
}
