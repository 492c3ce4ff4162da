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
        // This project's CI kernel (6.18): the raw tracepoint, the cheapest backend by measurement.
        assert_eq!(run.profile.backend.name(), "raw_tp");
        assert!(selection.contains("the cheapest here: +30-70 ns per check"), "{selection}");
    }
}

/// Every backend this kernel offers finds the same classes, call sites and paths for the same
/// workloads (the VM matrix does the same on kernels where all five meet).
#[test]
fn every_available_backend_agrees_on_classes_call_sites_and_paths() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).expect("mkdir");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    let locked = locked.display().to_string();
    let mut seen = Vec::new();
    for backend in ["raw_tp", "tp_btf", "fexit", "kprobe", "tracepoint"] {
        let probe = capdisc()
            .args(["record", "-q", "--backend", backend, "-o"])
            .arg(dir.path().join("probe.yaml"))
            .args(["--", "true"])
            .output()
            .expect("run");
        if probe.status.code() == Some(2) {
            eprintln!("skipping backend {backend} here: {}", stderr(&probe).trim());
            continue;
        }
        let run = record_workload(&["--backend", backend], &["peek-and-bind", &locked, "443"]);
        let classes: Vec<(String, &'static str)> =
            run.profile.capabilities.iter().filter(|cap| cap.class.granted()).map(|cap| (cap.name.clone(), cap.class.name())).collect();
        let dac = cap(&run.profile, "CAP_DAC_READ_SEARCH");
        let bind = cap(&run.profile, "CAP_NET_BIND_SERVICE");
        let sites = (
            bind.call_sites.iter().any(|site| site.frames.iter().any(|frame| frame.contains("inet_bind"))),
            dac.call_sites.iter().any(|site| site.fallback.is_some()),
        );
        seen.push((backend, classes, sites, dac.paths.clone()));
    }
    assert!(seen.len() >= 2, "at least two backends here: {seen:?}");
    let (first, rest) = seen.split_first().expect("one");
    for other in rest {
        assert_eq!((&other.1, &other.2, &other.3), (&first.1, &first.2, &first.3), "{} vs {}", other.0, first.0);
    }
    assert_eq!(first.1, vec![("CAP_NET_BIND_SERVICE".to_owned(), "required"), ("CAP_DAC_READ_SEARCH".to_owned(), "conditional")]);
    assert_eq!(first.3, vec![locked]);
}
