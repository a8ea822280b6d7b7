//! The CRD manifests committed in `crds/` are exactly what the code
//! generates, so what users apply is what the operator reads.

use kubeskippy::operator::crd;

#[test]
fn committed_crds_equal_the_generated_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for (file, generated) in crd::manifests() {
        let committed = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            committed == generated,
            "crds/{file} differs from the code: run `cargo run -- crds --out crds/`"
        );
    }
}

/// Helm installs the files of the chart's `crds/` as they are (it does not
/// template them), so they are byte for byte the generated ones too.
#[test]
fn the_charts_crds_equal_the_generated_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/kubeskippy/crds");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("charts/kubeskippy/crds")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut expected: Vec<String> = crd::manifests()
        .iter()
        .map(|(file, _)| file.to_string())
        .collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "charts/kubeskippy/crds holds one file per CRD"
    );
    for (file, generated) in crd::manifests() {
        let in_chart = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        assert!(
            in_chart == generated,
            "charts/kubeskippy/crds/{file} differs from the code: run \
             `cargo run -- crds --out charts/kubeskippy/crds/`"
        );
    }
}

#[test]
fn the_policy_text_is_bounded_in_the_schema() {
    use kube::CustomResourceExt;
    for crd in [crd::HealingPolicy::crd(), crd::ClusterHealingPolicy::crd()] {
        let schema = serde_json::to_value(&crd.spec.versions[0].schema).expect("a schema");
        let policy = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["policy"];
        assert_eq!(
            policy["maxLength"],
            crd::MAX_POLICY_CHARS,
            "{}",
            crd.spec.names.kind
        );
        assert_eq!(policy["minLength"], 1);
    }
}
