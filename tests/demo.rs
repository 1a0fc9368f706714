//! `palisade demo --self-test`: the newcomer's first command runs every scenario it prints
//! against the real gateway and must report them all as passing.

#![allow(clippy::unwrap_used)]

mod support;

#[test]
fn demo_self_test_passes_every_scenario() {
    let output = support::palisade()
        .args(["demo", "--listen", "127.0.0.1:0", "--self-test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "demo self-test failed:\n{stdout}");
    let summary = stdout
        .lines()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_default();
    assert!(summary.ends_with(" 0 failed"), "{stdout}");
    let passed: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 10, "{stdout}");
}
