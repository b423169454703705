//! The policy suite (`*_test.rego`) as part of `cargo test`: the same runner as `soar policy test`.

// Test code: a failed unwrap is the test failing, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use soar_policy::{PolicyTree, testing};

#[test]
fn every_rego_test_passes() {
    let report = testing::run(&PolicyTree::embedded(), false);
    let rendered = report.render(false);
    println!("{rendered}");
    assert_eq!(report.failed(), 0, "{rendered}");
    assert!(
        report.passed() >= 40,
        "expected at least 40 policy tests, found {}",
        report.passed()
    );
}

#[test]
fn a_failing_test_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("ingest")).unwrap();
    std::fs::write(
        dir.path().join("ingest/i.rego"),
        "package soar.ingest\ndecision := {\"accept\": true}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ingest/i_test.rego"),
        "package soar.ingest_test\nimport data.soar.ingest\ntest_ok if ingest.decision.accept\ntest_bad if not ingest.decision.accept\n",
    )
    .unwrap();
    let report = testing::run(&PolicyTree::from_dir(dir.path()).unwrap(), true);
    assert_eq!((report.passed(), report.failed()), (1, 1));
    let rendered = report.render(true);
    assert!(rendered.contains("FAIL ingest/i_test.rego: test_bad"), "{rendered}");
    assert!(rendered.contains("ingest/i.rego: "), "{rendered}");
    assert!(rendered.ends_with("1 passed, 1 failed\n"), "{rendered}");
}
