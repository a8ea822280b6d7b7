//! Tests of what `ai eval`, `simulate` and the metrics endpoint read:
//! eval scoring, recorded answers, the latency histogram.

use super::answer::{self, Rejection};
use super::case::NONE;
use super::eval;
use super::incident;
use super::replay;
use super::tests::{answer_for, oom_case};
use super::verdict::{Verdict, VerdictOutcome, Why};
use std::time::Duration;

#[test]
fn eval_scores_agreement_calibration_and_latency() {
    let case = oom_case();
    let inc = incident::Incident {
        name: "oom".into(),
        description: None,
        label: "set memory_limit = current * 1.5 max 2Gi".into(),
        case: case.clone(),
    };
    let v = |text: &str, ms| {
        Verdict::judged(
            &case,
            answer::judge(&case, text),
            "m",
            None,
            Duration::from_millis(ms),
            None,
        )
    };
    let rows = vec![
        eval::score(
            &inc,
            &v(
                &answer_for(&case, "set memory_limit = current * 1.5 max 2Gi", 0.9),
                100,
            ),
        ),
        eval::score(&inc, &v(&answer_for(&case, "restart rolling", 1.0), 200)),
        eval::score(&inc, &v("not json", 300)),
        eval::score(
            &inc,
            &Verdict::failed(
                &case,
                Why::TimedOut("30s".into()),
                "m",
                Duration::from_millis(400),
            ),
        ),
    ];
    assert!(rows[0].agrees && !rows[1].agrees && !rows[2].agrees);
    assert_eq!(rows[2].outcome, "rejected");
    let report = eval::report("m", rows);
    assert_eq!(
        (report.valid, report.agreed, report.rejected, report.failed),
        (2, 1, 1, 1)
    );
    assert_eq!(report.calibration[2].answers, 1); // 0.9
    assert_eq!(report.calibration[3].answers, 1); // 1.0, the closed last bin
    assert_eq!(report.thresholds[3].answers, 2); // >= 0.9
    assert_eq!(report.thresholds[3].agreed, 1);
    // A decline runs nothing: it is calibrated, but no threshold lets it run.
    let declined = eval::score(&inc, &v(&answer_for(&case, NONE, 1.0), 50));
    assert_eq!(declined.outcome, "declined");
    let with_decline = eval::report("m", vec![declined]);
    assert_eq!(with_decline.calibration[3].answers, 1);
    assert_eq!(with_decline.thresholds[0].answers, 0);
    assert_eq!((report.latency_p50_ms, report.latency_p95_ms), (200, 400));
    let text = report.render();
    assert!(text.contains("agreement: 1/4 (25%)"), "{text}");
    assert_eq!(eval::percentile(&[], 50), 0);
}

#[test]
fn recorded_answers_replay_through_validation() {
    let case = oom_case();
    let yaml = format!(
        "answers:\n  - object: {o}\n    answer: '{a}'\n  - object: {o}\n    answer: '{{\"action\":\"drain\"}}'\n  - object: {o}\n    error: timed out\n",
        o = case.object,
        a = answer_for(&case, "restart rolling", 0.8)
    );
    let analyzer = replay::ReplayAnalyzer::new(replay::parse(&yaml).unwrap());
    assert_eq!(analyzer.replay(&case).candidate(), Some(0));
    assert!(matches!(
        analyzer.replay(&case).outcome,
        VerdictOutcome::Fallback {
            why: Why::Rejected(Rejection::Shape(_)),
            ..
        }
    ));
    assert!(matches!(
        analyzer.replay(&case).outcome,
        VerdictOutcome::Fallback {
            why: Why::Unreachable(_),
            ..
        }
    ));
    // Used up: the fallback, saying so.
    let last = analyzer.replay(&case);
    assert!(
        matches!(&last.outcome, VerdictOutcome::Fallback { why: Why::Unreachable(e), .. } if e.contains("no recorded answer"))
    );
    let bad = replay::parse("answers:\n  - object: x\n").unwrap_err();
    assert!(bad
        .to_string()
        .contains("exactly one of `answer` and `error`"));
}

#[test]
fn the_report_reads_as_a_table() {
    let case = oom_case();
    let inc = |name: &str, label: &str| incident::Incident {
        name: name.into(),
        description: None,
        label: label.into(),
        case: case.clone(),
    };
    let v = |text: &str, ms| {
        Verdict::judged(
            &case,
            answer::judge(&case, text),
            "m",
            None,
            Duration::from_millis(ms),
            None,
        )
    };
    let rows = vec![
        eval::score(
            &inc("oom", "set memory_limit = current * 1.5 max 2Gi"),
            &v(
                &answer_for(&case, "set memory_limit = current * 1.5 max 2Gi", 0.9),
                1200,
            ),
        ),
        eval::score(&inc("spike", NONE), &v(&answer_for(&case, NONE, 0.5), 800)),
        eval::score(
            &inc("leak", "restart rolling"),
            &v(&answer_for(&case, "scale up 2 max 8", 1.0), 950),
        ),
        eval::score(
            &inc("prose", "restart rolling"),
            &v("I think a restart helps.", 700),
        ),
        eval::score(
            &inc("slow", "restart rolling"),
            &Verdict::failed(
                &case,
                Why::TimedOut("no answer within 30s".into()),
                "m",
                Duration::from_secs(30),
            ),
        ),
    ];
    insta::assert_snapshot!("eval_report", eval::report("smollm2-135m", rows).render());
}
