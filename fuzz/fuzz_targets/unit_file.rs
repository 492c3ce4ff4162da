//! A unit file and a drop-in, split from the input at the first NUL byte, resolved as systemd
//! would and linted: no input may panic.
#![no_main]
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (unit, dropin) = text.split_once('\0').unwrap_or((&text, ""));
    let texts = vec![(PathBuf::from("app.service"), unit.to_owned()), (PathBuf::from("app.service.d/10.conf"), dropin.to_owned())];
    let effective = capdisc::systemd::resolve_texts("app.service", &texts);
    let findings = capdisc::harden::lint::lint(&effective, None);
    let _ = capdisc::harden::lint::render(&effective, &findings);
});
