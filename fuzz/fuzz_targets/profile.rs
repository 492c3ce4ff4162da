//! Profile text (YAML or JSON) as `generate`, `apply`, `diff` and `merge` read it: parsed, and when
//! it parses, rendered in every format and merged with itself. No input may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

use capdisc::generate::{render, OutputFormat};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(profile) = capdisc::profile::parse(text, "fuzz") else { return };
    for format in [OutputFormat::Systemd, OutputFormat::Docker, OutputFormat::K8s, OutputFormat::Setcap, OutputFormat::Json] {
        let _ = render(&profile, "fuzz", format, None, &[]);
    }
    let _ = capdisc::profile::table::render(&profile);
    let _ = capdisc::profile::diff(&profile, &profile);
    let _ = capdisc::profile::merge(&[("a".into(), profile.clone()), ("b".into(), profile.clone())], true);
    for name in profile.target_names() {
        let _ = profile.for_target(Some(&name));
    }
});
