//! Capability names, masks and systemd capability lists, as users type or paste them. No input
//! may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = capdisc::caps::parse_name(&text);
    let _ = capdisc::caps::parse_mask(&text);
    let _ = capdisc::caps::nearest(&text);
    let _ = capdisc::systemd::parse_assignment(&text);
    let _ = capdisc::systemd::names_mask(&text);
    let _ = capdisc::harden::status::decode(&[text.clone().into_owned()]);
});
