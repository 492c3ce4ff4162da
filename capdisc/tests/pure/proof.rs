//! A proof is checked when read, `generate`/`apply` write nothing `lint` would call root, and
//! offline means the same as live: capdisc's own leftovers are errors under `--root`, and an
//! `apply` whose read-back fails puts the previous drop-in back. Each test fails on a capdisc
//! that trusts an edited proof, grants an unproven root-equivalent capability or leaves a
//! drop-in it could not read back.
use std::{fs, path::Path};

use capdisc::profile::{self, Decision, Method, Phase, Profile, Trial, Verdict, Verification};

use crate::{
    common::*,
    harden::{fixtures, root_arg, stdout_of, unit_root, STORY_BROKEN},
};

/// The story's permissive recording (CAP_NET_BIND_SERVICE required, CAP_DAC_READ_SEARCH only
/// conditional, as the non-root python service shows it).
fn permissive() -> Profile {
    profile::read(&fixtures().join("story-permissive.yaml")).expect("fixture")
}

/// The permissive recording with the proof `minimize` writes for it: `dac` kept or dropped.
fn proven(dac: Decision) -> Profile {
    let mut profile = permissive();
    let (both, bind) = (vec!["CAP_DAC_READ_SEARCH".to_owned(), "CAP_NET_BIND_SERVICE".to_owned()], vec!["CAP_NET_BIND_SERVICE".to_owned()]);
    let trial = |set: Vec<String>, testing: &str, passed: bool| Trial {
        set,
        testing: testing.into(),
        passed,
        outcome: if passed { "passed".into() } else { "the check failed".into() },
        denials: Vec::new(),
        refusals: Vec::new(),
    };
    let mut proof = Verification {
        method: Method::Shrink,
        target: "unit app.service".into(),
        check: Some("curl -fsS http://127.0.0.1:444/".into()),
        phases: vec![Phase::Start, Phase::Stop, Phase::StartAgain],
        exercise: Vec::new(),
        date: "2026-11-29T03:00:00.000Z".into(),
        passed: true,
        capabilities: vec![
            Verdict { name: "CAP_DAC_READ_SEARCH".into(), verdict: dac, evidence: "from the trial without it".into() },
            Verdict { name: "CAP_NET_BIND_SERVICE".into(), verdict: Decision::Kept, evidence: "the check failed without it".into() },
        ],
        trials: vec![
            trial(both.clone(), "the whole recorded set", true),
            trial(bind.clone(), "without CAP_DAC_READ_SEARCH", dac == Decision::Dropped),
            // Removed from the set the last passing trial ran.
            trial(
                if dac == Decision::Kept { vec!["CAP_DAC_READ_SEARCH".into()] } else { Vec::new() },
                "without CAP_NET_BIND_SERVICE",
                false,
            ),
        ],
        sandbox: Vec::new(),
        sandbox_trials: Vec::new(),
        container_sandbox: Vec::new(),
        sandbox_unit: Vec::new(),
        exposure: None,
        digest: String::new(),
    };
    proof.digest = profile::digest(&profile, &proof);
    profile.verification = Some(proof);
    profile
}

fn write(dir: &Path, name: &str, value: &serde_yaml::Value) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, serde_yaml::to_string(value).expect("yaml")).expect("write");
    path
}

/// An edit of a profile: its name, the change, and what the refusal must say.
type Edit = (&'static str, Box<dyn Fn(&mut serde_yaml::Value)>, &'static str);

fn as_value(profile: &Profile) -> serde_yaml::Value {
    serde_yaml::to_value(profile).expect("value")
}

#[test]
fn a_proof_is_checked_when_read_and_an_edited_one_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = write(dir.path(), "proven.yaml", &as_value(&proven(Decision::Dropped)));
    let generated = capdisc().arg("generate").arg(&sealed).output().expect("generate");
    assert!(generated.status.success(), "{}", stderr(&generated));
    let dropin = stdout_of(&generated);
    assert!(
        dropin.contains("# Proven by capdisc minimize") && dropin.contains("\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"),
        "{dropin}"
    );

    let edits: Vec<Edit> = vec![
        (
            "maybe",
            Box::new(|v| v["verification"]["capabilities"][0]["verdict"] = "maybe".into()),
            "unknown variant `maybe`, expected `kept` or `dropped`",
        ),
        (
            "module",
            Box::new(|v| {
                let kept =
                    serde_yaml::to_value(Verdict { name: "CAP_SYS_MODULE".into(), verdict: Decision::Kept, evidence: "trust me".into() })
                        .expect("value");
                v["verification"]["capabilities"].as_sequence_mut().expect("list").push(kept);
            }),
            "`verification.capabilities[2]` is kept CAP_SYS_MODULE, which the recording never saw and no trial ran with",
        ),
        (
            "wider",
            Box::new(|v| v["verification"]["capabilities"][0]["verdict"] = "kept".into()),
            "keeps [CAP_DAC_READ_SEARCH CAP_NET_BIND_SERVICE], but the last passing trial (trials[1]) ran [CAP_NET_BIND_SERVICE]",
        ),
        ("failed", Box::new(|v| v["verification"]["passed"] = false.into()), "`verification.passed` is false"),
        (
            "recording",
            Box::new(|v| v["capabilities"][0]["granted"] = 2.into()),
            "proof does not match this recording (`verification.digest` differs)",
        ),
        (
            "unsigned",
            Box::new(|v| v["verification"]["digest"] = "".into()),
            "proof does not match this recording (`verification.digest` is missing",
        ),
    ];
    let root = unit_root(STORY_BROKEN);
    for (name, edit, says) in edits {
        let mut value = as_value(&proven(Decision::Dropped));
        edit(&mut value);
        let edited = write(dir.path(), &format!("{name}.yaml"), &value);
        let out = dir.path().join(format!("{name}.conf"));
        let generate = capdisc().arg("generate").arg(&edited).arg("-o").arg(&out).output().expect("generate");
        assert_eq!(generate.status.code(), Some(2), "{name}: {}", stderr(&generate));
        assert!(stderr(&generate).contains(says), "{name}: {}", stderr(&generate));
        assert_eq!(stderr(&generate).trim().lines().count(), 1, "one line: {}", stderr(&generate));
        assert!(!out.exists(), "{name}: nothing written");
        let apply = capdisc()
            .arg("apply")
            .arg(&edited)
            .args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)])
            .output()
            .expect("apply");
        assert_eq!(apply.status.code(), Some(2), "{name}: {}", stderr(&apply));
        assert!(!root.path().join("etc/systemd/system/app.service.d").exists(), "{name}: apply wrote nothing");
    }
}

#[test]
fn an_unproven_root_equivalent_capability_is_left_out_for_a_non_root_service() {
    let dir = tempfile::tempdir().expect("tempdir");
    let recorded = fixtures().join("story-permissive.yaml");
    let generated = capdisc().arg("generate").arg(&recorded).output().expect("generate");
    assert!(generated.status.success(), "{}", stderr(&generated));
    let dropin = stdout_of(&generated);
    assert!(
        dropin.ends_with("[Service]\nCapabilityBoundingSet=\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"),
        "{dropin}"
    );
    assert!(dropin.contains("#   CAP_DAC_READ_SEARCH left out: it amounts to root for a non-root service"), "{dropin}");
    assert!(stderr(&generated).contains("`--allow-dangerous CAP_DAC_READ_SEARCH` grants it anyway"), "{}", stderr(&generated));
    let json = stdout_of(&capdisc().arg("generate").arg(&recorded).args(["--format", "json"]).output().expect("json"));
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["required"], serde_json::json!(["CAP_NET_BIND_SERVICE"]));
    assert_eq!(json["withheld"][0]["name"], "CAP_DAC_READ_SEARCH");

    // A rootless container's capabilities are its user namespace's: none amounts to root on the
    // host, so the same recording as a rootless container's grants what it used.
    let mut rootless = permissive();
    rootless.target.kind = profile::TargetKind::Container;
    rootless.target.container =
        Some(profile::ContainerInfo { runtime: "podman".into(), name: Some("web".into()), id: None, rootless_user: Some("alice".into()) });
    let rootless = write(dir.path(), "rootless.yaml", &as_value(&rootless));
    let json = stdout_of(&capdisc().arg("generate").arg(&rootless).args(["--format", "json"]).output().expect("json"));
    let json: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(json["required"], serde_json::json!(["CAP_NET_BIND_SERVICE", "CAP_DAC_READ_SEARCH"]), "{json}");
    assert_eq!(json["withheld"], serde_json::json!([]));

    let asked =
        stdout_of(&capdisc().arg("generate").arg(&recorded).args(["--allow-dangerous", "dac_read_search"]).output().expect("generate"));
    assert!(asked.contains("\nAmbientCapabilities=CAP_NET_BIND_SERVICE CAP_DAC_READ_SEARCH\n"), "{asked}");
    let kept = write(dir.path(), "kept.yaml", &as_value(&proven(Decision::Kept)));
    let proven_dropin = stdout_of(&capdisc().arg("generate").arg(&kept).output().expect("generate"));
    assert!(
        proven_dropin.contains("\nAmbientCapabilities=CAP_DAC_READ_SEARCH CAP_NET_BIND_SERVICE\n"),
        "a proof is enough: {proven_dropin}"
    );

    // The story path: apply the permissive recording, then lint finds nothing.
    let root = unit_root(STORY_BROKEN);
    let apply =
        capdisc().arg("apply").arg(&recorded).args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)]).output().expect("apply");
    assert_eq!(apply.status.code(), Some(0), "{}{}", stdout_of(&apply), stderr(&apply));
    let written = fs::read_to_string(root.path().join("etc/systemd/system/app.service.d/60-capdisc.conf")).expect("drop-in");
    let settings = written.split("[Service]").nth(1).expect("a [Service] section");
    assert_eq!(settings, "\nCapabilityBoundingSet=\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n", "{written}");
    let lint = capdisc().args(["lint", "app", "--root", &root_arg(&root), "--json"]).output().expect("lint");
    assert_eq!(lint.status.code(), Some(0), "{}", stdout_of(&lint));
    assert_eq!(stdout_of(&lint).trim(), "[]", "lint after apply finds nothing");
    let against = capdisc().args(["lint", "app", "--root", &root_arg(&root), "--profile"]).arg(&recorded).output().expect("lint");
    assert_eq!(against.status.code(), Some(0), "what apply left out is not a need: {}", stdout_of(&against));
    assert!(stdout_of(&against).contains("info: the profile's CAP_DAC_READ_SEARCH is not granted by capdisc"), "{}", stdout_of(&against));
}

const LEFTOVER: &str = "[Service]\nCapabilityBoundingSet=~\nAmbientCapabilities=~\n";

#[test]
fn offline_lint_and_apply_see_capdiscs_own_leftovers() {
    let root = unit_root(&STORY_BROKEN.replace("CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"));
    let runtime = root.path().join("run/systemd/system/app.service.d");
    fs::create_dir_all(&runtime).expect("mkdir");
    fs::write(runtime.join("zz-capdisc-trial.conf"), LEFTOVER).expect("write");
    let lint = capdisc().args(["lint", "app", "--root", &root_arg(&root), "--json"]).output().expect("lint");
    assert_eq!(lint.status.code(), Some(1), "{}", stdout_of(&lint));
    let findings: serde_json::Value = serde_json::from_str(&stdout_of(&lint)).expect("json");
    let leftover = findings.as_array().expect("list").iter().find(|f| f["cause"].as_str().unwrap_or("").contains("zz-capdisc-trial.conf"));
    assert_eq!(leftover.map(|f| f["severity"].clone()), Some("error".into()), "{findings}");
    // Offline the fix is the file to delete: `capdisc restore` needs the running systemd (and
    // pointed back at lint).
    let fix = leftover.and_then(|f| f["fix"].as_str()).unwrap_or_default();
    assert!(fix.starts_with("delete ") && fix.contains("zz-capdisc-trial.conf") && !fix.contains("capdisc restore --unit"), "{fix}");

    let apply = capdisc()
        .arg("apply")
        .arg(fixtures().join("story-app.yaml"))
        .args(["--unit", "app", "--root", &root_arg(&root)])
        .output()
        .expect("apply");
    assert_eq!(apply.status.code(), Some(2), "{}", stderr(&apply));
    assert!(stderr(&apply).contains("capdisc drop-in left behind under this root") && stderr(&apply).contains("rm "), "{}", stderr(&apply));
    assert!(!root.path().join("etc/systemd/system/app.service.d").exists(), "refused before writing");
}

#[test]
fn an_apply_whose_read_back_fails_puts_the_previous_drop_in_back() {
    let root = unit_root(STORY_BROKEN);
    let dropins = root.path().join("etc/systemd/system/app.service.d");
    fs::create_dir_all(&dropins).expect("mkdir");
    fs::write(dropins.join("99-later.conf"), "[Service]\nCapabilityBoundingSet=~\n").expect("write");
    let apply = || {
        capdisc()
            .arg("apply")
            .arg(fixtures().join("story-app.yaml"))
            .args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)])
            .output()
            .expect("apply")
    };
    let first = apply();
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("a later drop-in overrides 60-capdisc.conf") && stderr(&first).contains("60-capdisc.conf removed"),
        "{}",
        stderr(&first)
    );
    assert!(!dropins.join("60-capdisc.conf").exists(), "the new drop-in is gone");

    fs::write(dropins.join("60-capdisc.conf"), "# an earlier drop-in\n[Service]\n").expect("write");
    let second = apply();
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(stderr(&second).contains("put back"), "{}", stderr(&second));
    assert_eq!(fs::read_to_string(dropins.join("60-capdisc.conf")).expect("read"), "# an earlier drop-in\n[Service]\n");
}

#[test]
fn small_mistakes_name_the_right_flag_or_fact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let timeout =
        capdisc().arg("verify").arg(fixtures().join("story-app.yaml")).args(["--timeout", "0", "--", "true"]).output().expect("verify");
    assert_eq!(timeout.status.code(), Some(2));
    assert!(
        stderr(&timeout).contains("invalid value '0' for '--timeout <DURATION>': `0` is not a positive duration"),
        "{}",
        stderr(&timeout)
    );
    let interval = capdisc().args(["watch", "--cgroup", "/", "--interval", "0", "--learn", "1s"]).output().expect("watch");
    assert_eq!(interval.status.code(), Some(2));
    assert!(
        stderr(&interval).contains("invalid value '0' for '--interval <DURATION>': `0` is not a positive duration"),
        "{}",
        stderr(&interval)
    );
    // One syntax for every time, and a negative one is a bad value, not a flag (clap's tip was
    // to write `-- -1`, which would have made -1 the command).
    let negative = capdisc().args(["record", "--duration", "-1", "--", "true"]).output().expect("record");
    assert_eq!(negative.status.code(), Some(2));
    assert!(stderr(&negative).contains("`-1` is not a positive duration"), "{}", stderr(&negative));
    assert!(!stderr(&negative).contains("-- -1"), "{}", stderr(&negative));
    let phases = capdisc()
        .arg("verify")
        .arg(fixtures().join("story-app.yaml"))
        .args(["--phases", "start,reload", "--", "true"])
        .output()
        .expect("verify");
    assert_eq!(phases.status.code(), Some(2));
    assert!(stderr(&phases).contains("--phases reload,stop apply to --unit NAME"), "{}", stderr(&phases));
    let lint = capdisc().args(["lint", "--unit-file"]).arg(dir.path()).output().expect("lint");
    assert_eq!(lint.status.code(), Some(2));
    assert!(stderr(&lint).contains("is a directory, not a unit file"), "{}", stderr(&lint));
    if Path::new("/run/systemd/system").exists() {
        eprintln!("skipping the restore message: systemd runs on this host (the guest story covers restore)");
    } else {
        let restore = capdisc().args(["restore", "--unit", "app"]).output().expect("restore");
        assert_eq!(restore.status.code(), Some(2));
        assert!(
            stderr(&restore).contains("no unit runs under a capdisc drop-in") && !stderr(&restore).contains("--pid"),
            "{}",
            stderr(&restore)
        );
    }
}

/// The proof with a sandboxing section as `minimize --sandbox` writes it for a unit that set
/// `ProtectSystem=strict` itself: two settings kept, one dropped by a trial's evidence.
fn proven_with_sandboxing() -> Profile {
    let mut profile = proven(Decision::Dropped);
    let mut proof = profile.verification.take().expect("a proof");
    let setting = |setting: &str, value: &str, verdict: Decision, why: &str| profile::SandboxSetting {
        setting: setting.into(),
        values: vec![value.into()],
        verdict,
        why: why.into(),
    };
    proof.sandbox = vec![
        setting("PrivateTmp", "yes", Decision::Kept, "/tmp and /var/tmp its own"),
        setting("RestrictAddressFamilies", "AF_INET", Decision::Kept, "the families it opened: AF_INET"),
        setting("MemoryDenyWriteExecute", "yes", Decision::Dropped, "trial 4 failed with it: mmap refused"),
    ];
    proof.sandbox_unit = vec!["ProtectSystem=strict".into()];
    proof.exposure = Some(profile::Exposures { before: 9.3, capabilities: 6.7, sandboxing: 4.1 });
    proof.digest = profile::digest(&profile, &proof);
    profile.verification = Some(proof);
    profile
}

#[test]
fn the_proven_sandboxing_is_written_with_why_and_lint_names_a_line_beyond_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = write(dir.path(), "sandboxed.yaml", &as_value(&proven_with_sandboxing()));
    let generated = capdisc().arg("generate").arg(&sealed).output().expect("generate");
    assert!(generated.status.success(), "{}", stderr(&generated));
    let dropin = stdout_of(&generated);
    for expected in [
        "# Exposure (systemd-analyze security --offline): 9.3 before, 6.7 with the capabilities alone, 4.1 with this sandboxing.",
        "# PrivateTmp: /tmp and /var/tmp its own\nPrivateTmp=yes\n",
        "# RestrictAddressFamilies: the families it opened: AF_INET\nRestrictAddressFamilies=AF_INET\n",
        "#   MemoryDenyWriteExecute=yes: trial 4 failed with it: mmap refused",
    ] {
        assert!(dropin.contains(expected), "{expected}\n---\n{dropin}");
    }
    assert!(!dropin.contains("\nMemoryDenyWriteExecute=yes"), "a dropped setting is only a comment: {dropin}");

    // An edited sandboxing line is refused like an edited verdict.
    let mut value = as_value(&proven_with_sandboxing());
    value["verification"]["sandbox"][1]["values"][0] = "AF_INET AF_NETLINK".into();
    let edited = write(dir.path(), "edited.yaml", &value);
    let refused = capdisc().arg("generate").arg(&edited).output().expect("generate");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("`verification.digest` differs"), "{}", stderr(&refused));

    // The unit as proven (its own line and the kept ones): nothing beyond the proof.
    let root = unit_root("[Unit]\nDescription=app\n\n[Service]\nExecStart=/bin/sleep 1000\nProtectSystem=strict\n");
    let dropins = root.path().join("etc/systemd/system/app.service.d");
    fs::create_dir_all(&dropins).expect("mkdir");
    fs::write(dropins.join("60-capdisc.conf"), &dropin).expect("write");
    let lint = |root: &tempfile::TempDir| {
        let output =
            capdisc().arg("lint").arg("app").arg("--root").arg(root_arg(root)).arg("--profile").arg(&sealed).output().expect("lint");
        stdout_of(&output)
    };
    let covered = lint(&root);
    assert!(!covered.contains("is not what the profile's proof covered"), "{covered}");
    // A colleague's line after the proof, and the unit's own line changed.
    fs::write(dropins.join("70-colleague.conf"), "[Service]\nProtectHome=read-only\nProtectSystem=full\n").expect("write");
    let beyond = lint(&root);
    for expected in [
        "warning: ProtectHome=read-only is not what the profile's proof covered: its trials ran the unit without it",
        "warning: ProtectSystem=full is not what the profile's proof covered: its trials ran the unit with ProtectSystem=strict",
    ] {
        assert!(beyond.contains(expected), "{expected}\n---\n{beyond}");
    }
}

/// The proof `minimize --container web --sandbox` writes: the set, then an allow-list and a
/// read-only root kept (with the tmpfs directories it wrote in).
fn proven_container_confinement() -> Profile {
    let mut profile = proven(Decision::Dropped);
    let mut proof = profile.verification.take().expect("a proof");
    let setting = |setting: &str, values: &[&str]| profile::SandboxSetting {
        setting: setting.into(),
        values: values.iter().map(|value| (*value).to_owned()).collect(),
        verdict: Decision::Kept,
        why: "the trial passed with it".into(),
    };
    proof.container_sandbox = vec![
        setting("seccomp", &["accept4", "bind", "execve", "exit_group"]),
        setting("no-new-privileges", &["true"]),
        setting("read-only", &["true"]),
        setting("tmpfs", &["/run"]),
    ];
    proof.digest = profile::digest(&profile, &proof);
    profile.verification = Some(proof);
    profile
}

#[test]
fn a_containers_proven_confinement_is_written_as_each_runtime_takes_it_and_never_from_a_recording() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sealed = write(dir.path(), "web.yaml", &as_value(&proven_container_confinement()));
    let file = dir.path().join("web.seccomp.json");
    let generate = |format: &str| {
        let output = capdisc().arg("generate").arg(&sealed).args(["--format", format]).output().expect("generate");
        assert!(output.status.success(), "{format}: {}", stderr(&output));
        stdout_of(&output)
    };
    // The profile: EPERM for every call but the proven ones.
    let seccomp: serde_json::Value = serde_json::from_str(&generate("seccomp")).expect("json");
    assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(seccomp["syscalls"][0]["names"], serde_json::json!(["accept4", "bind", "execve", "exit_group"]));
    let podman = generate("podman");
    assert_eq!(
        podman.lines().last(),
        Some(
            format!(
                "--cap-drop=ALL --cap-add=NET_BIND_SERVICE --security-opt=no-new-privileges --security-opt=seccomp={} --read-only",
                file.display()
            )
            .as_str()
        ),
        "{podman}"
    );
    assert!(podman.contains(&format!("--format seccomp -o {}", file.display())), "says how to write the file: {podman}");
    // docker mounts no tmpfs in a read-only container itself.
    assert!(generate("docker").lines().last().is_some_and(|flags| flags.ends_with("--read-only --tmpfs=/run")), "{}", generate("docker"));
    let kube = generate("k8s");
    for expected in [
        "  allowPrivilegeEscalation: false\n  readOnlyRootFilesystem: true\n",
        "  seccompProfile:\n    type: Localhost\n    localhostProfile: web.seccomp.json\n",
    ] {
        assert!(kube.contains(expected), "{expected}\n---\n{kube}");
    }
    let compose = generate("compose");
    for expected in [
        format!("security_opt:\n  - no-new-privileges:true\n  - seccomp={}\n", file.display()),
        "read_only: true\ntmpfs:\n  - /run\n".to_owned(),
    ] {
        assert!(compose.contains(&expected), "{expected}\n---\n{compose}");
    }
    let quadlet = generate("quadlet");
    assert!(
        quadlet.contains("NoNewPrivileges=true\nSeccompProfile=/etc/containers/systemd/web.seccomp.json\nReadOnly=true\n"),
        "{quadlet}"
    );

    // A recording (or a proof without the confinement) is never written as a filter.
    let output = dir.path().join("none.json");
    let refused = capdisc()
        .arg("generate")
        .arg(fixtures().join("story-permissive.yaml"))
        .args(["--format", "seccomp", "-o"])
        .arg(&output)
        .output()
        .expect("generate");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("holds no proven seccomp allow-list"), "{}", stderr(&refused));
    assert!(!output.exists(), "nothing written");
    // An edited allow-list is refused like an edited verdict.
    let mut value = as_value(&proven_container_confinement());
    value["verification"]["container_sandbox"][0]["values"][0] = "unshare".into();
    let edited = write(dir.path(), "edited.yaml", &value);
    let refused = capdisc().arg("generate").arg(&edited).args(["--format", "seccomp"]).output().expect("generate");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("`verification.digest` differs"), "{}", stderr(&refused));
}
