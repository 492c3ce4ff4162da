//! What users type on capdisc's command lines beyond clap's own parsing: a container run command
//! after `--` (NUL-separated words: `podman run --cap-add=... IMAGE`), read and rewritten for a
//! trial in every way capdisc does; a runtime's `run --help` (its switches); `--phases`; a duration; a `--listen` address. No input may
//! panic.
#![no_main]
use capdisc::container::{CapSetting, RunCommand, Switches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let argv: Vec<String> = text.split('\0').map(str::to_owned).collect();
    // A runtime's `run --help` as capdisc reads it, and the switches it knows without one.
    let _ = Switches::from_help(&text);
    if let Ok(Some(run)) = RunCommand::parse_with(&argv, &Switches::known()) {
        let _ = run.name();
        let _ = run.removes_itself();
        let _ = run.describe();
        for caps in [CapSetting::AsWritten, CapSetting::Every, CapSetting::Exactly(0x401)] {
            let _ = run.argv(caps, Some("capdisc-1-0"), "/capdisc-1-0", "/run/capdisc/cid");
            let _ = run.docker_create(caps, None, "/run/capdisc/cid");
        }
        let _ = run.docker_start("0123456789abcdef");
    }
    let first = argv.first().map(String::as_str).unwrap_or_default();
    let _ = capdisc::prove::Phases::parse(first);
    let _ = capdisc::cli::values::duration(first);
    // A host name is resolved: only literal addresses here (no lookups from a fuzzer).
    if !first.chars().any(|c| c.is_ascii_alphabetic()) {
        let _ = capdisc::cli::values::listen_address(first);
    }
});
