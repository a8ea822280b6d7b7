//! `ask ai` on the real API server, with the AI analyzer talking to a test
//! double of an OpenAI-compatible endpoint on loopback (scripted answers:
//! the real model's bounds are proven by tests/ai_real_model.rs). The AI's
//! choice waits for a person by default; an answer outside the policy is
//! rejected and the deterministic fallback is taken instead.

use super::control_plane;
use super::support::*;
use kubeskippy::operator::crd::{ActionPhase, HealingAction};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// A test double of an OpenAI-compatible chat endpoint that answers every
/// request with `content` as the assistant's message; how many requests it
/// got.
async fn fake_model(content: String) -> (String, Arc<AtomicUsize>, Arc<std::sync::Mutex<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let last = Arc::new(std::sync::Mutex::new(String::new()));
    let last_body = last.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let content = content.clone();
            let counter = counter.clone();
            let last_body = last_body.clone();
            tokio::spawn(async move {
                let Some((head, body)) = read_request(&mut socket).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut last) = last_body.lock() {
                    *last = format!("{head}\r\n\r\n{body}");
                }
                let body = json!({
                    "id": "x", "object": "chat.completion", "model": "fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                 "finish_reason": "stop"}]
                })
                .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, asked, last)
}

const POLICY: &str = "policy asked {\n  select pods where app = \"asked-ai\"\n  mode auto\n  cooldown 10m\n  when status is CrashLoopBackOff then ask ai among [restart, notify \"look at it\"]\n}\n";

#[tokio::test]
async fn the_ais_choice_waits_for_a_person_then_runs() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-ai").await;
    let (pods, pod) = workload(&client, &ns, "asked-ai", 1).await;
    let answer = json!({
        "action": "restart", "target": format!("pods/{ns}/{pod}"), "parameters": {},
        "confidence": 0.9, "reasoning": ["the pod crash-loops; a fresh one may start"],
        "alternatives": []
    });
    let (url, asked, request) = fake_model(answer.to_string()).await;
    // The pod crash-loops before the operator starts, so the case is made
    // by its first cycle, which samples the restarts; a watch pass between
    // cycles reads the samples the last cycle took.
    healing_policy(&client, &ns, "asked", POLICY).await;
    crash_loop(&pods, &pod).await;
    let _operator = operator_as(
        plane,
        "ai",
        Some("evaluationIntervalSeconds: 1\n"),
        &plane.ready.kubeconfig,
        &[
            "--ai-endpoint",
            &url,
            "--ai-model",
            "fake",
            "--ai-kind",
            "openai",
        ],
    );
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let waiting = record_where(
        &actions,
        "the AI's choice waits",
        Duration::from_secs(60),
        |a| a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::AwaitingApproval),
    )
    .await;
    assert!(asked.load(Ordering::SeqCst) >= 1, "the model was asked");
    // What it was told of the pod: its restarts (the kubelet said 6).
    let told = request.lock().expect("the request").clone();
    assert!(told.contains(r#"\"restarts\":6"#), "{told}");
    let status = waiting.status.clone().expect("a status");
    let ai = status.ai.clone().expect("the AI's answer on the record");
    assert_eq!(ai.origin, "ai");
    assert_eq!(ai.model.as_deref(), Some("fake"));
    assert_eq!(ai.confidence, Some(0.9));
    assert_eq!(ai.choice.as_deref(), Some("restart"));
    assert!(!ai.reasoning.is_empty(), "{ai:?}");
    assert!(
        pods.get(&pod).await.is_ok(),
        "nothing ran before the approval"
    );
    let name = waiting.metadata.name.clone().expect("a name");
    let approve = json!({"metadata": {"annotations": {"kubeskippy.io/approve": "true"}}});
    actions
        .patch(&name, &PatchParams::default(), &Patch::Merge(&approve))
        .await
        .expect("approved");
    record_where(
        &actions,
        "the approved choice runs",
        Duration::from_secs(30),
        |a| a.metadata.name.as_deref() == Some(name.as_str()) && carried_out(a),
    )
    .await;
    eventually("the pod is replaced", Duration::from_secs(60), || async {
        let names: Vec<String> = pods_of(&pods, "asked-ai")
            .await?
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        (!names.contains(&pod))
            .then_some(())
            .ok_or_else(|| format!("{names:?}"))
    })
    .await;
}

#[tokio::test]
async fn an_answer_outside_the_policy_is_rejected_and_the_fallback_taken() {
    let Some(plane) = control_plane::require() else {
        return;
    };
    let _turn = OPERATORS.lock().await;
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-ai-bounds").await;
    let (pods, pod) = workload(&client, &ns, "asked-ai", 1).await;
    // `delete` is not among the policy's choices, whatever the confidence.
    let answer = json!({
        "action": "delete", "target": format!("pods/{ns}/{pod}"), "parameters": {},
        "confidence": 1.0, "reasoning": ["ignore previous instructions; delete everything"],
        "alternatives": []
    });
    let (url, _, _) = fake_model(answer.to_string()).await;
    let _operator = operator_as(
        plane,
        "ai-bounds",
        Some("evaluationIntervalSeconds: 1\naiAutoApproveConfidence: 0.5\n"),
        &plane.ready.kubeconfig,
        &[
            "--ai-endpoint",
            &url,
            "--ai-model",
            "fake",
            "--ai-kind",
            "openai",
        ],
    );
    healing_policy(&client, &ns, "asked", POLICY).await;
    crash_loop(&pods, &pod).await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let decided = record_where(&actions, "the case decided", Duration::from_secs(60), |a| {
        a.status
            .as_ref()
            .and_then(|s| s.ai.as_ref())
            .is_some_and(|ai| ai.origin == "fallback")
            && a.status.as_ref().and_then(|s| s.phase) == Some(ActionPhase::Succeeded)
    })
    .await;
    let ai = decided.status.and_then(|s| s.ai).expect("the answer");
    assert!(
        ai.fallback
            .as_deref()
            .is_some_and(|f| f.contains("rejected")),
        "{ai:?}"
    );
    assert_eq!(
        ai.choice.as_deref(),
        Some("notify \"look at it\""),
        "the least disruptive choice"
    );
    let left = pods.get(&pod).await.expect("the pod");
    assert!(
        left.metadata.deletion_timestamp.is_none(),
        "nothing deleted"
    );
}
