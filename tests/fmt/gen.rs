//! A generator of random valid Skippy files, laid out messily (random spaces
//! and tabs, `;` separators, blank lines, comments in every place a comment
//! may stand), for the formatter's property test.
//!
//! Every choice is drawn from a list of numbers that proptest generates and
//! shrinks toward zero, and choice 0 is always the plainest one (one space, no
//! comment, no optional part), so a failing file shrinks to a small one.

use kubeskippy::catalog::{Kind, Kinds};

/// The numbers the generator's choices are drawn from; past the end, every
/// choice is 0.
pub struct Choices {
    data: Vec<u32>,
    next: usize,
}

impl Choices {
    pub fn new(data: Vec<u32>) -> Choices {
        Choices { data, next: 0 }
    }

    fn pick(&mut self, n: usize) -> usize {
        let value = self.data.get(self.next).copied().unwrap_or(0);
        self.next += 1;
        value as usize % n.max(1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) >= 100 - percent
    }

    fn one<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.pick(items.len())]
    }
}

/// A generated file and what the generator knows it wrote.
pub struct Generated {
    pub text: String,
    pub comments: usize,
}

/// Generates one file: an optional metric and patch and one to three policies,
/// in a random order, with comments and blank lines around them.
pub fn file(choices: Choices) -> Generated {
    let mut g = Gen {
        c: choices,
        out: String::new(),
        comments: 0,
        newline: "\n",
    };
    if g.c.chance(10) {
        g.newline = "\r\n";
    }
    let metric = g.c.chance(40).then(|| format!("rate-{}", g.suffix()));
    let patch = g.c.chance(40).then(|| format!("fix-{}", g.suffix()));
    let mut decls: Vec<Decl> = Vec::new();
    decls.extend(metric.clone().map(Decl::Metric));
    decls.extend(patch.clone().map(Decl::Patch));
    for i in 0..1 + g.c.pick(3) {
        decls.push(Decl::Policy(format!("heal{i}-{}", g.suffix())));
    }
    let first = g.c.pick(decls.len());
    decls.rotate_left(first);

    g.comment_lines();
    for (i, decl) in decls.iter().enumerate() {
        if i > 0 {
            g.blank_lines();
            g.comment_lines();
        }
        g.indent();
        match decl {
            Decl::Metric(name) => {
                let query = r#""sum by (pod) (rate(http_requests_total{code=~\"5..\", namespace=\"$namespace\"}[5m]))""#;
                g.tokens(&["metric", name, ":", "ratio", "=", "promql", query]);
                g.end_line();
            }
            Decl::Patch(name) => {
                let kind = g.c.one(&["merge", "strategic", "json"]);
                let body = if kind == "json" {
                    r#""[{\"op\":\"add\",\"path\":\"/metadata/annotations/kubeskippy.io~1note\",\"value\":\"a \\\\ b \\\" c\"}]""#
                } else {
                    r#""{\"metadata\":{\"annotations\":{\"kubeskippy.io/note\":\"a \\\\ b \\\" c\"}}}""#
                };
                g.tokens(&["patch", name, ":", kind, body]);
                g.end_line();
            }
            Decl::Policy(name) => g.policy(name, metric.as_deref(), patch.as_deref()),
        }
    }
    g.blank_lines();
    g.comment_lines();
    if g.c.chance(20) && g.out.ends_with(g.newline) {
        g.out.truncate(g.out.len() - g.newline.len());
    }
    Generated {
        text: g.out,
        comments: g.comments,
    }
}

enum Decl {
    Metric(String),
    Patch(String),
    Policy(String),
}

struct Gen {
    c: Choices,
    out: String,
    comments: usize,
    newline: &'static str,
}

/// Tokens next to which no space is needed.
fn is_punctuation(token: &str) -> bool {
    matches!(
        token,
        "(" | ")" | "," | "[" | "]" | ":" | "=" | "!=" | "*" | ">" | ">=" | "<" | "<=" | "==" | "{"
    )
}

impl Gen {
    fn suffix(&mut self) -> String {
        let len = 1 + self.c.pick(5);
        (0..len)
            .map(|_| self.c.one(&["a", "b", "k", "z", "0", "7", "_", "-"]))
            .collect()
    }

    fn gap(&mut self, tight: bool) {
        let gaps: &[&str] = if tight {
            &[" ", "", "  ", "\t", " \t "]
        } else {
            &[" ", "  ", "\t", " \t "]
        };
        let gap = self.c.one(gaps);
        self.out.push_str(gap);
    }

    fn tokens<S: AsRef<str>>(&mut self, tokens: &[S]) {
        for (i, token) in tokens.iter().enumerate() {
            let token = token.as_ref();
            if i > 0 {
                let prev = tokens[i - 1].as_ref();
                self.gap(is_punctuation(prev) || is_punctuation(token));
            }
            self.out.push_str(token);
        }
    }

    fn indent(&mut self) {
        let indent = self.c.one(&["", "  ", "    ", "\t", " "]);
        self.out.push_str(indent);
    }

    fn comment(&mut self) {
        self.comments += 1;
        self.out.push('#');
        for _ in 0..self.c.pick(12) {
            let piece = self.c.one(&[
                "x", " ", "#", "\"", ";", "{", "}", "policy", "é", "\t", "\\",
            ]);
            self.out.push_str(piece);
        }
    }

    /// Ends a line, with a trailing comment or not.
    fn end_line(&mut self) {
        if self.c.chance(30) {
            self.gap(true);
            self.comment();
        }
        self.out.push_str(self.newline);
    }

    fn blank_lines(&mut self) {
        for _ in 0..self.c.pick(3) {
            if self.c.chance(30) {
                self.indent();
            }
            self.out.push_str(self.newline);
        }
    }

    /// Zero to two comments on lines of their own, maybe with blank lines.
    fn comment_lines(&mut self) {
        for _ in 0..self.c.pick(3) {
            self.indent();
            self.comment();
            self.out.push_str(self.newline);
            self.blank_lines();
        }
    }

    fn policy(&mut self, name: &str, metric: Option<&str>, patch: Option<&str>) {
        // The kinds whose metrics and actions `leaf` and `actions` know; the
        // others format the same way (a kind is one word).
        let kinds: Vec<Kind> = Kinds::RUNNING.iter().collect();
        let kind = kinds[self.c.pick(kinds.len())];
        let mut statements = vec![select(&mut self.c, kind)];
        let mut settings = Vec::new();
        if self.c.chance(50) {
            settings.push(vec![
                "mode",
                self.c.one(&["auto", "dryrun", "approve", "monitor"]),
            ]);
        }
        if self.c.chance(50) {
            settings.push(vec![
                "limit",
                self.c.one(&["1", "5", "12"]),
                "per",
                self.c.one(&["1h", "2h"]),
            ]);
        }
        if self.c.chance(60) {
            settings.push(vec!["cooldown", self.c.one(&["30s", "5m", "10m", "1h"])]);
        }
        let first = self.c.pick(settings.len());
        settings.rotate_left(first);
        statements.extend(
            settings
                .into_iter()
                .map(|s| s.into_iter().map(String::from).collect()),
        );
        let mut plain_action = false;
        for _ in 0..1 + self.c.pick(4) {
            statements.push(rule(&mut self.c, kind, metric, patch, &mut plain_action));
        }

        self.tokens(&["policy", name, "{"]);
        // Whether the current line may go on: a comment ends it.
        let mut open = !self.c.chance(20);
        if !open {
            self.gap(true);
            self.comment();
        }
        for (i, statement) in statements.iter().enumerate() {
            if open && i > 0 && self.c.chance(30) {
                self.gap(true);
                self.out.push(';');
                self.gap(true);
            } else if open && i == 0 && self.c.chance(20) {
                self.gap(true);
            } else {
                if open && i > 0 && self.c.chance(20) {
                    self.out.push(';');
                }
                self.out.push_str(self.newline);
                self.blank_lines();
                self.comment_lines();
                self.indent();
            }
            self.tokens(statement);
            open = !self.c.chance(25);
            if !open {
                self.gap(true);
                self.comment();
            }
        }
        if open && self.c.chance(20) {
            self.gap(true);
        } else {
            self.out.push_str(self.newline);
            self.blank_lines();
            self.comment_lines();
            self.indent();
        }
        self.out.push('}');
        self.end_line();
    }
}

fn select(c: &mut Choices, kind: Kind) -> Vec<String> {
    let mut out = vec!["select".to_string(), kind.keyword().to_string()];
    if kind.is_namespaced() && c.chance(70) {
        out.push("in".into());
        if c.chance(20) {
            out.push("any".into());
        } else {
            for i in 0..1 + c.pick(3) {
                if i > 0 {
                    out.push(",".into());
                }
                out.push(c.one(&["shop", "web", "team-a", "prod-eu", "ns2"]).into());
            }
        }
    }
    if c.chance(60) {
        out.push("where".into());
        for i in 0..1 + c.pick(3) {
            if i > 0 {
                out.push(",".into());
            }
            let key = c.one(&["app", "tier", "k8s-app", "app.kubernetes.io/name"]);
            match c.pick(5) {
                0 => out.extend([key.into(), "=".into(), "\"checkout\"".into()]),
                1 => out.extend([key.into(), "!=".into(), "\"db\"".into()]),
                2 => {
                    out.extend([key.into(), "in".into(), "(".into(), "\"a\"".into()]);
                    if c.chance(50) {
                        out.extend([",".into(), "\"b-1.x_y\"".into()]);
                    }
                    out.push(")".into());
                }
                3 => out.extend([key.into(), "exists".into()]),
                _ => out.extend(["not".into(), key.into(), "exists".into()]),
            }
        }
    }
    out
}

/// A rule; a bare `ask ai` only follows a rule with a plain action (it chooses
/// among the policy's other actions), which `plain_action` tracks.
fn rule(
    c: &mut Choices,
    kind: Kind,
    metric: Option<&str>,
    patch: Option<&str>,
    plain_action: &mut bool,
) -> Vec<String> {
    let mut out = vec!["when".to_string()];
    out.extend(condition(c, kind, metric, 3));
    if c.chance(50) {
        out.extend(["for".into(), c.one(&["1m", "2m", "5m", "30s"]).into()]);
    }
    out.push("then".into());
    let actions = actions(kind, patch);
    if c.chance(15) {
        out.extend(["ask".into(), "ai".into()]);
        if !*plain_action || c.chance(60) {
            out.extend(["among".into(), "[".into()]);
            for i in 0..1 + c.pick(3) {
                if i > 0 {
                    out.push(",".into());
                }
                out.extend(actions[(c.pick(actions.len()) + i) % actions.len()].clone());
            }
            out.push("]".into());
        }
    } else {
        out.extend(actions[c.pick(actions.len())].clone());
        *plain_action = true;
    }
    if c.chance(30) {
        out.extend(["priority".into(), (1 + c.pick(20)).to_string()]);
    }
    out
}

/// Conditions nest `and`, `or`, `not` and parentheses in any order: whatever
/// the tree, the text parses (to the tree its precedence says).
fn condition(c: &mut Choices, kind: Kind, metric: Option<&str>, depth: usize) -> Vec<String> {
    if depth == 0 || !c.chance(40) {
        if c.chance(10) {
            // A window over a status: `NotReady` applies to every kind here.
            let within = c.one(&["15s", "5m", "1h"]);
            return ["status", "was", "NotReady", "within", within]
                .map(String::from)
                .into();
        }
        return leaf(c, kind, metric);
    }
    let mut out = Vec::new();
    // A clause's own `for` stands before `and` or `or`.
    let held = |c: &mut Choices, out: &mut Vec<String>| {
        if c.chance(25) {
            out.extend(["for".into(), c.one(&["1m", "15m"]).into()]);
        }
    };
    match c.pick(4) {
        0 => {
            out.extend(condition(c, kind, metric, depth - 1));
            held(c, &mut out);
            out.push("and".into());
            out.extend(condition(c, kind, metric, depth - 1));
        }
        1 => {
            out.extend(condition(c, kind, metric, depth - 1));
            held(c, &mut out);
            out.push("or".into());
            out.extend(condition(c, kind, metric, depth - 1));
        }
        2 => {
            out.push("not".into());
            out.extend(condition(c, kind, metric, depth - 1));
        }
        _ => {
            out.push("(".into());
            out.extend(condition(c, kind, metric, depth - 1));
            out.push(")".into());
        }
    }
    out
}

fn leaf(c: &mut Choices, kind: Kind, metric: Option<&str>) -> Vec<String> {
    let words = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let op = c.one(&[">", ">=", "<", "<="]);
    let pod_like = kind != Kind::Nodes;
    match c.pick(11) {
        1 => words(&format!(
            "memory_bytes {op} {}",
            c.one(&["512Mi", "1.5Gi", "2G"])
        )),
        2 => words(&format!("cpu_cores {op} {}", c.one(&["500m", "0.5", "2"]))),
        3 => words(&format!("age {op} {}", c.one(&["10m", "1h", "1d"]))),
        4 if pod_like => words(&format!(
            "{} {op} {}",
            c.one(&["restarts", "oom_kills"]),
            c.one(&["3", "10"])
        )),
        4 => words(&format!(
            "{} == {}",
            c.one(&["memory_pressure", "disk_pressure", "pid_pressure"]),
            c.one(&["true", "false"])
        )),
        5 => words(&format!(
            "ready {} {}",
            c.one(&["==", "!="]),
            c.one(&["true", "false"])
        )),
        6 if pod_like => words(&format!(
            "status is {}",
            c.one(&["CrashLoopBackOff", "OOMKilled", "Pending", "NotReady"])
        )),
        6 => words(&format!(
            "status is {}",
            c.one(&["MemoryPressure", "DiskPressure", "NotReady"])
        )),
        7 => words(&format!(
            "event {} count {op} {} within {}",
            c.one(&["BackOff", "Unhealthy", "FailedScheduling", "OOMKilling"]),
            c.one(&["1", "3"]),
            c.one(&["5m", "10m"])
        )),
        8 => match c.pick(6) {
            0 => words(&format!(
                "{} ( cpu_percent , 5m ) {op} 80%",
                c.one(&["avg", "max", "min"])
            )),
            1 if pod_like => words(&format!("increase ( restarts , 10m ) {op} 3")),
            2 => words("trend ( memory_percent , 10m ) > 2%/min"),
            3 => words(&format!(
                "predict ( memory_bytes , 6h , 4d ) {op} {}",
                c.one(&["2Gi", "100G"])
            )),
            4 => words(&format!("changes ( ready , 15m ) {op} 2")),
            _ => words("predict ( memory_percent , 30m ) > 100%"),
        },
        // Arithmetic and two metrics, with and without brackets, each
        // compared with a side of its own unit.
        9 => words(&format!(
            "{} {op} {}",
            c.one(&[
                "( memory_bytes - memory_bytes ) / memory_bytes",
                "1 - memory_bytes / memory_bytes",
                "cpu_cores / ( cpu_cores * 2 )",
            ]),
            c.one(&["memory_bytes / memory_bytes", "0.5", "50%"])
        )),
        10 => words(&format!(
            "{} {op} memory_percent",
            c.one(&["cpu_percent", "85"])
        )),
        // The declared metric is per pod (`$namespace`, `by (pod)`): a node
        // policy cannot read it (E0504).
        _ => match metric {
            Some(name) if pod_like && c.chance(40) => {
                words(&format!("{name} {op} {}", c.one(&["5%", "0.05"])))
            }
            _ => words(&format!(
                "{} {op} {}",
                c.one(&["memory_percent", "cpu_percent"]),
                c.one(&["85", "85%", "92.5%"])
            )),
        },
    }
}

/// The actions that apply to `kind`, as token lists.
fn actions(kind: Kind, patch: Option<&str>) -> Vec<Vec<String>> {
    let mut texts = vec![r#"notify "a \"quoted\" \\ message""#.to_string()];
    let scale = [
        "scale up 2",
        "scale up 1 max 5",
        "scale down 1",
        "scale down 2 min 1",
        "scale to 3",
    ];
    let workload = [
        "restart rolling",
        "set memory_limit = current * 1.5 max 2Gi",
        "set cpu_limit = 500m",
    ];
    let pods = [
        "restart",
        "restart immediate",
        "delete",
        "rollback",
        "cordon",
    ];
    match kind {
        Kind::Pods => texts.extend(
            scale
                .iter()
                .chain(&workload)
                .chain(&pods)
                .map(|s| s.to_string()),
        ),
        Kind::Deployments => texts.extend(
            scale
                .iter()
                .chain(&workload)
                .chain(&["rollback"])
                .map(|s| s.to_string()),
        ),
        Kind::StatefulSets => texts.extend(scale.iter().chain(&workload).map(|s| s.to_string())),
        Kind::DaemonSets => texts.extend(workload.iter().map(|s| s.to_string())),
        Kind::Nodes => texts.extend(["cordon", "drain"].map(String::from)),
        // Only `notify` and `ask ai` act on the observed-only kinds.
        _ => {}
    }
    if let (Some(patch), false) = (patch, kind == Kind::Nodes) {
        texts.push(format!("patch {patch}"));
    }
    texts
        .iter()
        .map(|text| match text.strip_prefix("notify ") {
            Some(message) => vec!["notify".to_string(), message.to_string()],
            None => text.split(' ').map(String::from).collect(),
        })
        .collect()
}
