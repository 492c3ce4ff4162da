//! `/proc/PID/status` text as `status` reads it (pasted, or from a process that renamed itself).
//! No input may panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(process) = capdisc::harden::status::parse(1, &text) {
        let _ = capdisc::harden::status::findings(&process);
        let _ = capdisc::harden::status::render(&process);
    }
});
