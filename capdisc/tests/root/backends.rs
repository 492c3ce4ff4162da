//! Backend selection on this kernel: `auto` picks what works and says why it skipped the rest.
use crate::common::*;

#[test]
fn auto_names_its_choice_and_the_reasons_for_skipping() {
    if skip_without_root() {
        return;
    }
    let run = record_workload(&[], &["noop"]);
    let selection = &run.profile.backend_selection;
    assert!(selection.starts_with(&format!("backend {}", run.profile.backend)), "{selection}");
    let kprobes = std::path::Path::new("/sys/bus/event_source/devices/kprobe/type").exists();
    if kprobes {
        eprintln!(
            "skipping the CI kernel's exact choice: this kernel has kprobes (the QEMU guests of `cargo xtask vm` check those kernels)"
        );
    } else {
        // This project's CI kernel (6.18, no kprobes, no BPF tracing programs): the tracepoint.
        assert_eq!(run.profile.backend.name(), "tracepoint");
        assert!(selection.contains("fexit skipped:"), "{selection}");
        assert!(selection.contains("kprobe skipped: the kernel has no kprobes"), "{selection}");
    }
}
