//! The fleet as docs/watch.md documents it, on loopback: two hosts' `watch` (two cgroups), one
//! Prometheus per site scraping its host, a global Prometheus federating `capdisc_.*` from both
//! sites; the documented cross-host query returns the sum, and `capdisc merge` of both hosts'
//! target profiles keeps both runs.
use std::fs;

use crate::{
    common::{capdisc, skip_without_root},
    watching::{empty_baseline, storm_in, wait_until, Prometheus, TestCgroup, Watch, KILL_GRANTED},
};

#[test]
fn two_sites_federate_into_one_global_sum_and_their_profiles_merge() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let baseline = empty_baseline(dir.path());
    let hosts = [TestCgroup::make("capdisc-fleet-a"), TestCgroup::make("capdisc-fleet-b")];
    let mut watches = Vec::new();
    let mut sites = Vec::new();
    for (index, host) in hosts.iter().enumerate() {
        let state = dir.path().join(format!("state-{index}"));
        let watch = Watch::start_on(&[&host.0], &baseline, &state);
        let site = format!("site-{index}");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  external_labels: {{site: {site}}}\nscrape_configs:\n  - job_name: capdisc\n    static_configs:\n      - targets: ['127.0.0.1:{}']\n",
            watch.port
        );
        sites.push(
            Prometheus::start_with(&dir.path().join(&site), &config).expect("prometheus is installed (cargo xtask setup installs it)"),
        );
        watches.push(watch);
    }
    // The global one federates every capdisc series from both sites (docs/watch.md, "A fleet").
    let targets: Vec<String> = sites.iter().map(|site| format!("'127.0.0.1:{}'", site.port)).collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: federate\n    honor_labels: true\n    metrics_path: /federate\n    params:\n      'match[]': ['{{__name__=~\"capdisc_.*\"}}']\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    let global_dir = dir.path().join("global");
    let global = Prometheus::start_with(&global_dir, &config).expect("prometheus");

    storm_in(&hosts[0].0, 300);
    storm_in(&hosts[1].0, 200);
    for (watch, (host, count)) in watches.iter().zip(hosts.iter().zip([300u64, 200])) {
        let series = KILL_GRANTED.replace("CG", &host.name());
        assert_eq!(wait_until("the host's count", || watch.metric(&series).filter(|value| *value >= count)), Some(count));
    }
    // The documented cross-host query, per capability: both hosts' checks.
    let query =
        r#"sum by (capability) (capdisc_capability_checks_total{verdict="granted",capability="CAP_KILL",target=~"/capdisc-fleet-.*"})"#;
    let summed = wait_until("the global sum", || global.query(query).filter(|value| value == "500"));
    assert_eq!(summed.as_deref(), Some("500"), "global prometheus log:\n{}", Prometheus::log(&global_dir));
    // Each site is still told apart by its external label.
    let per_site = r#"count(count by (site) (capdisc_capability_checks_total{target=~"/capdisc-fleet-.*"}))"#;
    assert_eq!(global.query(per_site).as_deref(), Some("2"));

    // Both hosts' profiles, united: one capability, both runs kept.
    let mut inputs = Vec::new();
    for (index, watch) in watches.into_iter().enumerate() {
        let _ = watch.terminate();
        let targets = dir.path().join(format!("state-{index}")).join("targets");
        let file = fs::read_dir(&targets)
            .expect("targets")
            .flatten()
            .map(|entry| entry.path())
            .find(|path| path.to_string_lossy().contains("capdisc-fleet-"));
        inputs.push(file.expect("the host's target profile"));
    }
    let merged = dir.path().join("merged.yaml");
    // Two cgroups stand for the same service on two hosts: --force unites them.
    let output = capdisc().arg("merge").args(&inputs).arg("--force").arg("-o").arg(&merged).output().expect("merge");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let merged = capdisc::profile::read(&merged).expect("merged profile");
    assert_eq!(merged.merged_from.len(), 2, "{:?}", merged.merged_from);
    assert_eq!(merged.capability("CAP_KILL").map(|cap| cap.granted), Some(500));
}
