//! Every unit at once: `capdisc-all.service` records the whole host from early boot (`record
//! --all`); after a short workload its profile names each unit with what it required, shown
//! against the bounding set each shipped unit declares.
use std::collections::{BTreeMap, BTreeSet};

use capdisc::classify::Class;
use capdisc_guest_tests::{expect, guest, profile, unit};

const RECORDING: &str = "/var/lib/capdisc-all.json";

#[test]
fn s13_record_all_from_boot_writes_a_profile_per_unit() {
    guest!();
    for service in ["systemd-journald.service", "systemd-logind.service", "cron.service", "nginx.service"] {
        unit::systemctl(&["restart", service]);
    }
    unit::http("http://127.0.0.1:80/");
    // Stopping it ends the recording (SIGTERM) and writes the profile.
    unit::systemctl(&["stop", "capdisc-all.service"]).expect_exit(0);
    let recording = profile(RECORDING);
    let mut units: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for group in &recording.cgroups {
        if let Some(name) = &group.unit {
            let required = group.capabilities.iter().filter(|cap| cap.class == Class::Required).map(|cap| cap.name.clone());
            units.entry(name.clone()).or_default().extend(required);
        }
    }
    capdisc_guest_tests::report(&format!("every unit (record --all over boot and a short workload):\n{}", table(&units)));
    expect::that(units.len() >= 3, "at least 3 units recorded", units.keys().collect::<Vec<_>>());
}

/// Required (recorded) against declared (`CapabilityBoundingSet=` of the shipped unit).
fn table(units: &BTreeMap<String, BTreeSet<String>>) -> String {
    let mut out = format!("{:<34} {:<44} {}\n", "unit", "required (capdisc record --all)", "declared CapabilityBoundingSet= / outside it");
    for (name, required) in units {
        let declared: BTreeSet<String> =
            unit::property(name, "CapabilityBoundingSet").split_whitespace().map(str::to_ascii_uppercase).collect();
        let all = declared.len() >= 40;
        // Only services exec a program under CapabilityBoundingSet=; a scope (init.scope,
        // sessions) holds processes started elsewhere, so the comparison does not apply.
        let service = name.ends_with(".service");
        let outside: Vec<&str> = required.iter().filter(|cap| service && !all && !declared.contains(*cap)).map(String::as_str).collect();
        let required_text = if required.is_empty() { "none".to_owned() } else { required.iter().cloned().collect::<Vec<_>>().join(" ") };
        let declared_text = if !service {
            "n/a (not a service)".to_owned()
        } else if all {
            "all (not restricted)".to_owned()
        } else if declared.is_empty() {
            "(none)".to_owned()
        } else {
            declared.iter().cloned().collect::<Vec<_>>().join(" ")
        };
        let outside_text = if outside.is_empty() { String::new() } else { format!(" / OUTSIDE: {}", outside.join(" ")) };
        out.push_str(&format!("{name:<34} {required_text:<44} {declared_text}{outside_text}\n"));
    }
    out
}
