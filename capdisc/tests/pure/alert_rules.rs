//! The shipped Prometheus alerting rules (`packaging/prometheus/`), checked and unit-tested by
//! Prometheus's own promtool (installed by `cargo xtask setup` with the prometheus package).
use std::{path::Path, process::Command};

#[test]
fn the_shipped_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/prometheus");
    for args in [["check", "rules", "capdisc-rules.yml"], ["test", "rules", "capdisc-rules.test.yml"]] {
        let output = Command::new("promtool")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("promtool is installed (cargo xtask setup installs the prometheus package)");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "promtool {}:\n{text}", args.join(" "));
        assert!(text.contains("SUCCESS"), "promtool {}:\n{text}", args.join(" "));
    }
    // The rules name the series the exporter writes (the watch tests read them from /metrics).
    let rules = std::fs::read_to_string(dir.join("capdisc-rules.yml")).expect("rules");
    for series in ["capdisc_hardening_regressions_total", "capdisc_creep_total", "capdisc_lost_total", "capdisc_target_present"] {
        assert!(rules.contains(series), "{series}");
    }
}
