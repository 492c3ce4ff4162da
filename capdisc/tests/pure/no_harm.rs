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
    assert_eq!(apply.status.code(), Some(2), "an operational error: {text}");
    assert!(text.contains("is incomplete: 947 check(s) lost (aggregation map full 947"), "{text}");
    assert!(text.contains("record again with a larger --max-keys, or pass --allow-lossy"), "{text}");
    assert_eq!(text.trim().lines().count(), 1, "{text}");
    assert!(!root.path().join("etc/systemd/system/app.service.d").exists(), "nothing written");

    let out = dir.path().join("dropin.conf");
    let generate = capdisc().arg("generate").arg(&profile).arg("-o").arg(&out).output().expect("generate");
    assert_eq!(generate.status.code(), Some(2), "{}", stderr(&generate));
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
    let report = capdisc::profile::table::render(&capdisc::profile::read(&profile).expect("read"));
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

#[test]
fn setcap_output_names_the_real_binary_and_never_a_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = dir.path().join("app-bin");
    fs::write(&binary, b"\x7fELF").expect("write");
    let link = dir.path().join("app");
    std::os::unix::fs::symlink(&binary, &link).expect("symlink");
    let script = dir.path().join("app.sh");
    fs::write(&script, b"#!/bin/sh\n").expect("write");
    for (exe, expected, absent) in [
        (
            link.display().to_string(),
            format!("setcap cap_net_bind_service=ep {}", fs::canonicalize(&binary).expect("real").display()),
            "setcap cap_net_bind_service=ep /",
        ),
        (script.display().to_string(), format!("# not for {}: it is a script", script.display()), "\nsetcap "),
        ("bin/app".to_owned(), "# not for bin/app: a relative path".to_owned(), "\nsetcap "),
    ] {
        let profile = edited_story(dir.path(), "exe.yaml", |value| {
            value["capabilities"][0]["commands"] = serde_yaml::from_str(&format!("- comm: app\n  exe: {exe}\n")).expect("yaml");
        });
        let text = stdout_of(&capdisc().arg("generate").arg(&profile).args(["--format", "setcap"]).output().expect("generate"));
        assert!(text.contains(&expected), "{exe}: {text}");
        if exe == link.display().to_string() {
            assert!(
                !text.lines().any(|line| line == format!("setcap cap_net_bind_service=ep {}", link.display())),
                "never the symlink: {text}"
            );
        } else {
            assert!(!text.contains(absent), "no setcap command: {text}");
        }
    }
}

fn merge(dir: &Path, inputs: &[&Path], extra: &[&str]) -> (std::process::Output, std::path::PathBuf) {
    let out = dir.join("merged.yaml");
    let _ = fs::remove_file(&out);
    let output = capdisc().arg("merge").args(inputs).args(extra).arg("-o").arg(&out).output().expect("merge");
    (output, out)
}

#[test]
fn merge_is_honest_about_counts_windows_and_what_it_unites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let story = fixtures().join("story-app.yaml");
    // A second run of the same service, later and with two binds.
    let later = edited_story(dir.path(), "later.yaml", |value| {
        value["started_at"] = "2026-11-29T02:00:20.000Z".into();
        value["ended_at"] = "2026-11-29T02:00:24.000Z".into();
        value["duration_secs"] = 4.0.into();
        value["capabilities"][0]["granted"] = 2.into();
        value["capabilities"][0]["syscalls"][0]["granted"] = 2.into();
    });
    let (output, out) = merge(dir.path(), &[&story, &later], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let merged = capdisc::profile::read(&out).expect("merged");
    let bind = cap(&merged, "CAP_NET_BIND_SERVICE");
    assert_eq!(bind.granted, 3);
    assert_eq!(bind.reason, "3 granted audited check(s), mostly in bind", "the reason says the merged counts");
    assert_eq!(merged.duration_secs, 24.0, "the window from the first start to the last end");

    let (twice, out) = merge(dir.path(), &[&story, &story], &[]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        stderr(&twice).contains("both hold the recording of command: /usr/local/bin/app started 2026-11-29T02:00:00.000Z"),
        "{}",
        stderr(&twice)
    );
    assert!(stderr(&twice).contains("pass --force"), "{}", stderr(&twice));
    assert!(!out.exists());
    let (forced, _) = merge(dir.path(), &[&story, &story], &["--force"]);
    assert!(forced.status.success());

    let other = edited_story(dir.path(), "other.yaml", |value| {
        value["target"]["command"] = serde_yaml::from_str("[/usr/sbin/nginx]").expect("yaml");
        value["started_at"] = "2026-11-29T03:00:00.000Z".into();
    });
    let (unrelated, out) = merge(dir.path(), &[&story, &other], &[]);
    assert_eq!(unrelated.status.code(), Some(2));
    assert!(stderr(&unrelated).contains("records command app but"), "{}", stderr(&unrelated));
    assert!(stderr(&unrelated).contains("records command nginx: merge unites recordings of one service"), "{}", stderr(&unrelated));
    assert!(!out.exists());
}
