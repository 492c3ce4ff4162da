//! The hardening path does no harm: a lossy profile is refused, nothing is written outside
//! --root or through a symlink, widening needs consent, --user never overrides the unit, and an
//! --all profile is hardened per unit. Each test fails on a capdisc that does the harm.
use std::{fs, path::Path};

use crate::{
    common::*,
    harden::{fixtures, root_arg, stdout_of, unit_root, STORY_BROKEN},
};

/// The story's profile with some of its fields replaced (YAML paths of one level).
fn edited_story(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_yaml::Value)) -> std::path::PathBuf {
    let text = fs::read_to_string(fixtures().join("story-app.yaml")).expect("fixture");
    let mut value: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
    edit(&mut value);
    let path = dir.join(name);
    fs::write(&path, serde_yaml::to_string(&value).expect("yaml")).expect("write");
    path
}

fn lossy(dir: &Path) -> std::path::PathBuf {
    edited_story(dir, "lossy.yaml", |value| value["losses"]["checks_map_full"] = 947.into())
}

#[test]
fn a_lossy_profile_is_refused_by_apply_and_generate_and_reported_by_diff_and_lint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = lossy(dir.path());
    let root = unit_root(STORY_BROKEN);
    let apply =
        capdisc().arg("apply").arg(&profile).args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)]).output().expect("apply");
    let text = stderr(&apply);
    assert_eq!(apply.status.code(), Some(1), "{text}");
    assert!(text.contains("is incomplete: 947 check(s) lost (aggregation map full 947"), "{text}");
    assert!(text.contains("record again with a larger --max-keys, or pass --allow-lossy"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(!root.path().join("etc/systemd/system/app.service.d").exists(), "nothing written");

    let out = dir.path().join("dropin.conf");
    let generate = capdisc().arg("generate").arg(&profile).arg("-o").arg(&out).output().expect("generate");
    assert_eq!(generate.status.code(), Some(1), "{}", stderr(&generate));
    assert!(!out.exists());
    let forced = capdisc().arg("generate").arg(&profile).arg("--allow-lossy").output().expect("generate");
    assert!(forced.status.success());
    assert!(stdout_of(&forced).contains("# WARNING: the recording is incomplete (947 check(s) lost"), "{}", stdout_of(&forced));

    let diff = capdisc().arg("diff").arg(fixtures().join("story-app.yaml")).arg(&profile).output().expect("diff");
    assert!(stdout_of(&diff).contains("warning: the current profile lost 947 check(s)"), "{}", stdout_of(&diff));
    let lint = capdisc().args(["lint", "app", "--root", &root_arg(&root), "--profile"]).arg(&profile).output().expect("lint");
    assert!(stdout_of(&lint).contains("the profile is incomplete: 947 check(s) lost"), "{}", stdout_of(&lint));
}

#[test]
fn call_site_samples_not_kept_are_not_called_lost_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = edited_story(dir.path(), "samples.yaml", |value| value["losses"]["call_site_slots_full"] = 2.into());
    let generate = capdisc().arg("generate").arg(&profile).output().expect("generate");
    assert!(generate.status.success(), "{}", stderr(&generate));
    assert!(!stdout_of(&generate).contains("WARNING"), "{}", stdout_of(&generate));
    let report = capdisc::report::table(&capdisc::profile::read(&profile).expect("read"));
    assert!(report.contains("losses: none"), "{report}");
    assert!(report.contains("note: 2 call-site sample(s) not kept") && report.contains("every check was counted"), "{report}");
}

#[test]
fn apply_never_writes_outside_the_root_nor_through_a_symlinked_parent() {
    let root = unit_root(STORY_BROKEN);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    // R/etc/systemd -> elsewhere (the unit file moves with it, so the unit is still found).
    let systemd = root.path().join("etc/systemd");
    fs::rename(&systemd, elsewhere.path().join("systemd")).expect("move");
    std::os::unix::fs::symlink(elsewhere.path().join("systemd"), &systemd).expect("symlink");
    let before = fs::read_dir(elsewhere.path().join("systemd/system")).expect("read").count();
    for extra in [&["--dry-run"][..], &[]] {
        let output = capdisc()
            .arg("apply")
            .arg(fixtures().join("story-app.yaml"))
            .args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)])
            .args(extra)
            .output()
            .expect("apply");
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{extra:?}: {text}");
        assert!(text.contains("etc/systemd: it is a symlink"), "{extra:?}: {text}");
    }
    assert_eq!(fs::read_dir(elsewhere.path().join("systemd/system")).expect("read").count(), before, "nothing written elsewhere");
}

#[test]
fn user_never_overrides_the_units_own_user() {
    let root = unit_root(STORY_BROKEN);
    let output = capdisc()
        .arg("apply")
        .arg(fixtures().join("story-app.yaml"))
        .args(["--unit", "app", "--allow-widen", "--user", "root", "--root", &root_arg(&root)])
        .output()
        .expect("apply");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: --user root ignored: the unit's User=daemon decides"), "{}", stderr(&output));
    let dropin = fs::read_to_string(root.path().join("etc/systemd/system/app.service.d/60-capdisc.conf")).expect("written");
    assert!(dropin.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"), "ambient kept for User=daemon: {dropin}");
    assert!(dropin.contains("# Runs as non-root (daemon; the unit's User=daemon)"), "{dropin}");
}

#[test]
fn an_all_profile_is_hardened_per_unit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = edited_story(dir.path(), "all.yaml", |value| {
        let uses = value["capabilities"].clone();
        value["target"]["kind"] = "all".into();
        value["target"]["description"] = "every task on the host".into();
        value["cgroups"] = serde_yaml::from_str(
            "- cgroup: /system.slice/app.service\n  unit: app.service\n  capabilities: []\n- cgroup: /system.slice/cron.service\n  unit: cron.service\n  capabilities: []\n",
        )
        .expect("yaml");
        value["cgroups"][0]["capabilities"] = uses;
    });
    let union = capdisc().arg("generate").arg(&profile).output().expect("generate");
    assert_eq!(union.status.code(), Some(2));
    assert!(stderr(&union).contains("covers the whole host (2 cgroups); name one with --target (for example app.service, cron.service)"));
    let app = capdisc().arg("generate").arg(&profile).args(["--target", "app"]).output().expect("generate");
    assert!(app.status.success(), "{}", stderr(&app));
    assert!(stdout_of(&app).contains("CapabilityBoundingSet=CAP_NET_BIND_SERVICE"), "{}", stdout_of(&app));
    let cron = capdisc().arg("generate").arg(&profile).args(["--target", "cron.service"]).output().expect("generate");
    assert!(!stdout_of(&cron).contains("CapabilityBoundingSet=CAP_"), "{}", stdout_of(&cron));
    let none = capdisc().arg("generate").arg(&profile).args(["--target", "nginx"]).output().expect("generate");
    assert!(stderr(&none).contains("no unit or cgroup `nginx` in this profile; it has: app.service, cron.service"), "{}", stderr(&none));
}
