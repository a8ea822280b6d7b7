//! What each keyword means, in one line: completion's detail and hover's text.

/// `(keyword, syntax and meaning)`.
const DOCS: &[(&str, &str)] = &[
    ("policy", "policy NAME { … }: what to watch and how to heal it"),
    ("metric", "metric NAME: [unbounded] UNIT = promql \"QUERY\": a custom metric"),
    ("unbounded", "metric NAME: unbounded ratio = …: a ratio that may pass 1 (usage over a request, a quota's use), so a threshold above 1 is meant"),
    ("patch", "patch NAME: merge|strategic|json \"JSON\": a named patch; as an action, `patch NAME` applies it"),
    ("promql", "promql \"QUERY\": the PromQL that reads the metric ($namespace, $pod, $node are filled in)"),
    ("merge", "a JSON merge patch (RFC 7386)"),
    ("strategic", "a Kubernetes strategic merge patch"),
    ("json", "a JSON patch (RFC 6902): a list of add, replace or test operations"),
    ("select", "select KIND [in NS, … | in any] [where LABEL-MATCH, …]: what the policy watches"),
    ("in", "in NS, … | in any: the namespaces (default: the HealingPolicy's own); in a label match, in (\"a\", \"b\")"),
    ("any", "every namespace except the protected ones"),
    ("where", "where LABEL-MATCH, …: k = \"v\", k != \"v\", k in (\"a\", \"b\"), k exists, not k exists"),
    ("exists", "the label is set, whatever its value"),
    ("mode", "mode auto|dryrun|approve|monitor (default dryrun)"),
    ("limit", "limit N per DURATION: at most N actions of this policy per rolling window"),
    ("per", "limit N per DURATION"),
    ("cooldown", "cooldown DURATION: per target, no second action within it"),
    ("when", "when CONDITION [for DURATION] then ACTION [priority N]"),
    ("for", "for DURATION: the condition must be true at every evaluation for that long (unknown data holds the timer, never fires); before `and`, `or` or `)`, the clause before it alone"),
    ("then", "then ACTION: what to do when the rule fires"),
    ("priority", "priority N: 1 (most urgent) to 20, default 10; the most urgent rule on a target wins"),
    ("and", "both (Kleene logic: false and unknown is false)"),
    ("or", "either (Kleene logic: true or unknown is true)"),
    ("not", "negation (not unknown is unknown)"),
    ("status", "status is REASON: a pod, workload or node state; status was REASON within DURATION: in that state at some evaluation of the window"),
    ("is", "status is REASON: in that state now"),
    ("was", "status was REASON within DURATION: in that state at some evaluation of the last DURATION (max_over_time(…) >= 1)"),
    ("event", "event REASON count OP N within DURATION: Kubernetes events on the target"),
    ("count", "event REASON count OP N within DURATION"),
    ("within", "within DURATION: the window events are counted in, or a status is looked for in"),
    ("rolling", "restart rolling: a rollout restart of the owning workload"),
    ("immediate", "restart immediate: delete the pod now; its controller recreates it"),
    ("up", "scale up N [max M]"),
    ("down", "scale down N [min M]"),
    ("to", "scale to N"),
    ("max", "max M: the most replicas to scale up to, or the largest limit `set` may give"),
    ("min", "min M: the fewest replicas to scale down to"),
    ("current", "current * FACTOR: relative to the current limit"),
    ("=", "set RESOURCE = QUANTITY | current * FACTOR"),
    ("ai", "ask ai [among [ACTION, …]]"),
    ("among", "among [ACTION, …]: the only actions the AI may choose"),
];

/// The line about `word`, if it is a keyword.
pub(crate) fn doc(word: &str) -> Option<&'static str> {
    DOCS.iter().find(|(k, _)| *k == word).map(|(_, doc)| *doc)
}
