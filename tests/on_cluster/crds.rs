//! The CRDs on a real API server: a schema the server would refuse, or a
//! printer column it cannot read, fails here, where users would meet it.

use super::support::*;

#[tokio::test]
async fn the_crds_install_and_their_schemas_hold() {
    use kubeskippy::operator::crd::{HealingPolicy, HealingPolicySpec, ModeOverride};
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-crds").await;
    let policies: Api<HealingPolicy> = Api::namespaced(client.clone(), &ns);
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/crashloop.skippy"
    ))
    .expect("a policy of the library");
    let policy = HealingPolicy::new(
        "crashloop",
        HealingPolicySpec {
            policy: source.clone(),
            mode: Some(ModeOverride::DryRun),
        },
    );
    let created = policies
        .create(&PostParams::default(), &policy)
        .await
        .expect("a HealingPolicy is created");
    assert_eq!(created.spec, policy.spec, "the server kept every field");

    // Untrusted text is bounded by the server itself.
    let huge = HealingPolicy::new(
        "huge",
        HealingPolicySpec {
            policy: "#".repeat(70_000),
            mode: None,
        },
    );
    match policies.create(&PostParams::default(), &huge).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(status.message.contains("spec.policy"), "{}", status.message);
        }
        other => panic!("a 70,000-character policy must be refused: {other:?}"),
    }
    // A mode outside the enum is refused too.
    let bogus = serde_json::json!({
        "apiVersion": "kubeskippy.io/v1alpha1",
        "kind": "HealingPolicy",
        "metadata": {"name": "bogus"},
        "spec": {"policy": source, "mode": "yolo"}
    });
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        &ns,
        &kube::api::ApiResource::erase::<HealingPolicy>(&()),
    );
    let bogus: kube::api::DynamicObject = serde_json::from_value(bogus).expect("an object");
    match raw.create(&PostParams::default(), &bogus).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 422, "{status:?}"),
        other => panic!("mode `yolo` must be refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_healing_action_records_its_phase_through_the_status_subresource() {
    use kubeskippy::operator::crd::*;
    let Some(plane) = control_plane::require() else {
        return;
    };
    let client = admin(plane).await;
    install_crds(&client).await;
    let ns = namespace(&client, "t-actions").await;
    let actions: Api<HealingAction> = Api::namespaced(client.clone(), &ns);
    let spec = HealingActionSpec {
        policy: PolicyRef {
            kind: PolicyKind::HealingPolicy,
            namespace: Some(ns.clone()),
            name: "crashloop".into(),
            uid: "0b8f0d4e-0000-4000-8000-000000000001".into(),
            program_hash: "sha256:0".into(),
        },
        rule: RuleRef {
            number: 1,
            fingerprint: "f00d".into(),
            text: "when status is CrashLoopBackOff for 3m then restart".into(),
            span: Some(SourceSpan {
                line: 4,
                column: 3,
                end_line: 4,
                end_column: 55,
            }),
        },
        target: ObjectRef {
            kind: "Pod".into(),
            namespace: Some(ns.clone()),
            name: "web-1".into(),
            uid: None,
        },
        object: ObjectRef {
            kind: "Pod".into(),
            namespace: Some(ns.clone()),
            name: "web-1".into(),
            uid: None,
        },
        owner: Some(ObjectRef {
            kind: "Deployment".into(),
            namespace: Some(ns.clone()),
            name: "web".into(),
            uid: None,
        }),
        action: ActionSpec {
            name: "restart".into(),
            text: "restart".into(),
            ..ActionSpec::default()
        },
        evidence: vec![EvidenceRecord {
            kind: "status".into(),
            text: "status is CrashLoopBackOff".into(),
            subject: Some("CrashLoopBackOff".into()),
            ..EvidenceRecord::default()
        }],
        origin: ActionOrigin {
            kind: OriginKind::Rule,
            model: None,
            confidence: None,
            reasoning: None,
        },
        dry_run: false,
        approval_required: false,
        firing_since: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-12-06T10:00:00Z".parse().expect("a time"),
        ),
    };
    let record = HealingAction::new("crashloop-web-1-f00d", spec);
    actions
        .create(&PostParams::default(), &record)
        .await
        .expect("a HealingAction is created");
    let status = serde_json::json!({"status": {"phase": "Executing", "message": "evicting web-1"}});
    let patched = actions
        .patch_status(
            "crashloop-web-1-f00d",
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .expect("the status subresource takes the phase");
    assert_eq!(
        patched.status.and_then(|s| s.phase),
        Some(ActionPhase::Executing)
    );
    // The main resource ignores status: only the subresource writes it.
    let spec_patch = serde_json::json!({"status": {"phase": "Succeeded"}});
    let after = actions
        .patch(
            "crashloop-web-1-f00d",
            &PatchParams::default(),
            &Patch::Merge(&spec_patch),
        )
        .await
        .expect("a patch of the main resource");
    assert_eq!(
        after.status.and_then(|s| s.phase),
        Some(ActionPhase::Executing)
    );
}
