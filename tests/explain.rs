//! `explain` for every policy of the standard library: what each will do, in
//! snapshots a reviewer reads when a policy or the compiler changes.

use kubeskippy::check::compile;
use kubeskippy::explain::explain;
use kubeskippy::safety::SafetyConfig;
use std::path::Path;

#[test]
fn every_library_policy_explains() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("policies/ exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "skippy"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 7, "the library has its policies: {paths:?}");
    let config = SafetyConfig::default();
    for path in paths {
        let source = std::fs::read_to_string(&path).expect("readable");
        let compiled = compile(&source, &config);
        assert!(
            !compiled.has_errors(),
            "{}: {:?}",
            path.display(),
            compiled.diagnostics
        );
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        insta::assert_snapshot!(
            format!("explain_{name}"),
            explain(&compiled.program, &config)
        );
    }
}
