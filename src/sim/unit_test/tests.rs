use super::*;

#[test]
fn durations() {
    assert_eq!(parse_duration("15s"), Ok(Seconds(15)));
    assert_eq!(parse_duration("1m15s"), Ok(Seconds(75)));
    assert_eq!(parse_duration("2h"), Ok(Seconds(7200)));
    assert_eq!(parse_duration("0"), Ok(Seconds(0)));
    assert!(parse_duration("15").is_err());
    assert!(parse_duration("1.5m").is_err());
    assert!(parse_duration("").is_err());
    for s in [0, 45, 180, 930, 3720, 90_061] {
        let shown = Seconds(s).spelled();
        assert_eq!(parse_duration(&shown), Ok(Seconds(s)), "{shown}");
    }
    assert_eq!(Seconds(930).spelled(), "15m30s");
}

#[test]
fn targets() {
    assert_eq!(
        parse_target("pods/shop/a").map(|t| t.to_string()),
        Ok("pods/shop/a".to_string())
    );
    assert_eq!(
        parse_target("nodes/worker-1").map(|t| t.to_string()),
        Ok("nodes/worker-1".to_string())
    );
    assert!(parse_target("pods/a").is_err());
    assert!(parse_target("nodes/a/b").is_err());
    assert!(parse_target("pod/shop/a").is_err());
    let filesystem = parse_target("filesystems/worker-1:/var/lib/kubelet").unwrap();
    assert_eq!(
        filesystem.to_string(),
        "filesystems/worker-1:/var/lib/kubelet"
    );
    assert_eq!(filesystem.node_of_filesystem(), Some("worker-1"));
    assert!(parse_target("filesystems/worker-1").is_err());
    assert!(parse_target("filesystems/:/var").is_err());
    let container = parse_target("containers/shop/web-1/app").unwrap();
    assert_eq!(container.to_string(), "containers/shop/web-1/app");
    assert_eq!(container.container_of_pod(), Some(("web-1", "app")));
    for bad in [
        "containers/shop/web-1",
        "containers/shop//app",
        "containers/web-1/app/x/y",
    ] {
        assert!(parse_target(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_file_or_case_that_tests_nothing_is_an_error() {
    let empty = parse("tests: []").unwrap_err();
    assert!(empty.message.contains("no tests"), "{}", empty.message);
    let nothing = parse("tests:\n  - name: x\n    expect: []\n").unwrap_err();
    assert!(
        nothing.message.contains("expects nothing"),
        "{}",
        nothing.message
    );
}

#[test]
fn a_misspelt_series_or_status_is_invalid_input_not_a_pass() {
    let policy = "policy p {\n  select pods where app = \"a\"\n  cooldown 5m\n  when memory_percent > 85 then restart\n}\n";
    for (input, word) in [
        ("series: {memroy_percent: '90'}", "memroy_percent"),
        ("status: {CrashLoop: '1'}", "CrashLoop"),
    ] {
        let yaml = format!("tests:\n  - name: x\n    targets:\n      - target: pods/default/a\n        {input}\n    expect:\n      - at: 0s\n        decisions: []\n");
        let Outcome::Invalid(problem) = run_one(&yaml, policy) else {
            panic!("{word}: invalid input expected");
        };
        assert!(
            problem.contains(word) && problem.contains("did you mean"),
            "{problem}"
        );
    }
}

#[test]
fn default_policy_path() {
    let file =
        parse("tests:\n  - name: x\n    expect:\n      - at: 0s\n        decisions: []\n").unwrap();
    assert_eq!(
        policy_path(Path::new("policies/crashloop.skippy-test.yaml"), &file),
        PathBuf::from("policies/crashloop.skippy")
    );
}

const POLICY: &str = "policy p {\n  select pods where app exists\n  cooldown 10m\n  when event BackOff count >= 3 within 1m then restart\n  when memory_percent > 90 for 30s then delete\n}\n";

fn run_one(yaml: &str, policy: &str) -> Outcome {
    let file = parse(yaml).unwrap();
    let mut reports = run(&file, policy, "p.skippy", &SafetyConfig::default());
    assert_eq!(reports.len(), 1);
    reports.remove(0).outcome
}

#[test]
fn events_are_visible_from_their_time_on() {
    let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/a\n        labels: {app: a}\n        events:\n          - {at: 30s, reason: BackOff, count: 3}\n    expect:\n      - at: 15s\n        decisions: []\n      - at: 30s\n        decisions: [{act: restart, target: pods/shop/a, rule: 1}]\n";
    assert_eq!(run_one(yaml, POLICY), Outcome::Passed);
}

#[test]
fn pods_of_one_owner_share_its_rolling_restart_and_cooldown() {
    let policy = "policy p {\n  select pods where app exists\n  cooldown 10m\n  when memory_percent > 90% then restart rolling\n}\n";
    let pod = |name: &str| {
        format!("      - target: pods/shop/{name}\n        labels: {{app: a}}\n        owner: deployments/shop/a\n        series: {{memory_percent: '95x10'}}\n")
    };
    let yaml = format!(
        "namespace: shop\ntests:\n  - name: x\n    targets:\n{}{}    expect:\n      - at: 0s\n        decisions:\n          - {{act: restart rolling, target: pods/shop/a-1}}\n          - {{blocked: same-object, target: pods/shop/a-2}}\n      - at: 15s\n        decisions:\n          - {{blocked: cooldown, target: pods/shop/a-1}}\n          - {{blocked: cooldown, target: pods/shop/a-2}}\n",
        pod("a-1"),
        pod("a-2")
    );
    assert_eq!(run_one(&yaml, policy), Outcome::Passed);
    // The failure report names the object an action lands on.
    let wrong = yaml.replace("blocked: same-object", "act: restart rolling");
    let Outcome::Failed(mismatches) = run_one(&wrong, policy) else {
        panic!("a failure");
    };
    assert_eq!(
        mismatches[0].unexpected[0].decision,
        "blocked: same-object on pods/shop/a-2 (policy p, rule 1)"
    );
}

#[test]
fn a_workload_is_given_its_own_series_of_a_declared_metric() {
    // One series per deployment (`by (deployment)`): the test gives the
    // deployment its values, as the operator stores them on it.
    let policy = "metric unavailable: count = promql \"max by (deployment) (kube_deployment_status_replicas_unavailable{namespace=\\\"$namespace\\\"})\"\npolicy p {\n  select deployments in shop\n  cooldown 1h\n  when unavailable > 1 for 30s then notify \"short\"\n}\n";
    let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: deployments/shop/web\n        labels: {app: web}\n        series: {unavailable: '0 2x5'}\n    expect:\n      - at: 30s\n        decisions: []\n      - at: 45s\n        decisions: [{act: 'notify \"short\"', target: deployments/shop/web}]\n";
    assert_eq!(run_one(yaml, policy), Outcome::Passed);
}

#[test]
fn stale_makes_a_metric_unknown_until_the_next_value() {
    // Without `stale` the last sample would stand for 5 minutes and the
    // rule would fire at 30s.
    let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/a\n        labels: {app: a}\n        series: {memory_percent: '95 stale _ _ 95 95 95'}\n    expect:\n      - at: 30s\n        decisions: []\n      - at: 1m\n        decisions: []\n      - at: 1m30s\n        decisions: [{act: delete, target: pods/shop/a}]\n";
    assert_eq!(run_one(yaml, POLICY), Outcome::Passed);
}

#[test]
fn a_wrong_expectation_reports_missing_and_unexpected_decisions() {
    let yaml = "namespace: shop\ntests:\n  - name: x\n    targets:\n      - target: pods/shop/a\n        labels: {app: a}\n        series: {memory_percent: '95x10'}\n    expect:\n      - at: 30s\n        decisions: [{act: restart, target: pods/shop/a}]\n";
    let Outcome::Failed(mismatches) = run_one(yaml, POLICY) else {
        panic!("a failure");
    };
    assert_eq!(mismatches.len(), 1);
    assert_eq!(mismatches[0].missing, ["act: restart on pods/shop/a"]);
    assert_eq!(
        mismatches[0].unexpected,
        [Shown {
            decision: "act: delete on pods/shop/a (policy p, rule 2)".into(),
            evidence: vec!["memory_percent=95% > 90%".into(), "for 30s".into()],
        }]
    );
}

#[test]
fn a_policy_with_errors_fails_every_case_with_its_diagnostics() {
    let yaml = "tests:\n  - name: x\n    expect:\n      - at: 0s\n        decisions: []\n";
    let Outcome::PolicyErrors(rendered) = run_one(
        yaml,
        "policy p {\n  select pods\n  when bogus > 1 then restart\n}\n",
    ) else {
        panic!("policy errors");
    };
    assert!(rendered.contains("p.skippy"), "{rendered}");
    assert!(
        render_failure(&Outcome::PolicyErrors(rendered)).starts_with("the policy file has errors")
    );
}

#[test]
fn format_errors_have_a_location() {
    let e = parse("tests:\n  - name: x\n    expect: []\n    bogus: 1\n").unwrap_err();
    assert!(e.location.is_some(), "{e}");
    let e = parse(
        "interval: 15s\ntests:\n  - name: x\n    expect:\n      - at: 20s\n        decisions: []\n",
    )
    .unwrap_err();
    assert!(e.message.contains("multiple"), "{e}");
}
