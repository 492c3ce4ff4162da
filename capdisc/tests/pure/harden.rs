//! generate, apply, lint, status, decode, diff and merge against fixture profiles, fixture units,
//! real processes and systemd's own tools (systemd-analyze reads what capdisc wrote).
use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

use crate::common::*;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    capdisc().current_dir(dir).args(args).output().expect("run capdisc")
}

pub fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const FIXTURES: [&str; 4] = ["root-bind", "story-app", "nothing-needed", "denied-and-advisory"];
const FORMATS: [&str; 8] = ["systemd", "docker", "podman", "compose", "quadlet", "k8s", "setcap", "json"];

/// Every format of every fixture equals its golden file (UPDATE_GOLDEN=1 rewrites them).
#[test]
fn generated_formats_match_the_golden_files() {
    let golden = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut mismatches = Vec::new();
    for fixture in FIXTURES {
        for format in FORMATS {
            let output = run_in(&fixtures(), &["generate", &format!("{fixture}.yaml"), "--format", format]);
            assert!(output.status.success(), "{fixture} {format}: {}", stderr(&output));
            let path = golden.join(format!("{fixture}.{format}"));
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                fs::write(&path, &output.stdout).expect("write golden");
            } else if fs::read(&path).ok().as_deref() != Some(&output.stdout[..]) {
                mismatches.push(format!("{}:\n{}", path.display(), stdout_of(&output)));
            }
        }
    }
    assert!(mismatches.is_empty(), "differs from golden (UPDATE_GOLDEN=1 to accept):\n{}", mismatches.join("\n"));
}

#[test]
fn systemd_dropins_say_what_a_user_depends_on() {
    let non_root = stdout_of(&run_in(&fixtures(), &["generate", "story-app.yaml"]));
    assert!(non_root.contains("\nCapabilityBoundingSet=\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"), "{non_root}");
    let root = stdout_of(&run_in(&fixtures(), &["generate", "root-bind.yaml"]));
    assert!(root.contains("CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n") && !root.contains("AmbientCapabilities"), "{root}");
    let nothing = stdout_of(&run_in(&fixtures(), &["generate", "nothing-needed.yaml"]));
    assert!(nothing.ends_with("[Service]\nCapabilityBoundingSet=\nAmbientCapabilities=\n"), "{nothing}");
    assert!(nothing.contains("No capability is granted"));
    let denied = stdout_of(&run_in(&fixtures(), &["generate", "denied-and-advisory.yaml"]));
    assert!(denied.contains("#   CAP_NET_BIND_SERVICE (denied only"), "{denied}");
    assert!(!denied.contains("CapabilityBoundingSet=CAP_CHOWN CAP_NET_BIND_SERVICE"), "denied is never granted");
    let forced = stdout_of(&run_in(&fixtures(), &["generate", "root-bind.yaml", "--user", "app"]));
    assert!(forced.contains("AmbientCapabilities=CAP_NET_BIND_SERVICE"), "--user makes it non-root: {forced}");
}

pub const STORY_BROKEN: &str = "[Unit]\nDescription=API service\n\n[Service]\nExecStart=/bin/sleep 1000\nUser=daemon\nGroup=daemon\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=\nProtectSystem=strict\nProtectHome=true\nNoNewPrivileges=true\n";

/// A root directory with /etc/systemd/system/app.service.
pub fn unit_root(unit: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("etc/systemd/system");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join("app.service"), unit).expect("write unit");
    root
}

pub fn root_arg(root: &tempfile::TempDir) -> String {
    root.path().display().to_string()
}

#[test]
fn lint_names_the_story_cause_and_passes_the_fix() {
    let broken = unit_root(STORY_BROKEN);
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&broken)]).output().expect("lint");
    let text = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("error: AmbientCapabilities=CAP_NET_BIND_SERVICE is dropped because CapabilityBoundingSet= is empty"), "{text}");
    assert!(text.contains("bind() to ports below 1024 will fail with EACCES"), "{text}");
    assert!(text.contains("fix: add CAP_NET_BIND_SERVICE to the bounding set"), "{text}");

    let fixed = unit_root(&STORY_BROKEN.replace("CapabilityBoundingSet=\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"));
    let profile = fixtures().join("story-app.yaml");
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&fixed), "--profile"]).arg(&profile).output().expect("lint");
    assert_eq!(output.status.code(), Some(0), "{}", stdout_of(&output));
    assert!(stdout_of(&output).contains("no findings"));
}

#[test]
fn lint_catches_names_systemd_ignores_and_unused_or_missing_grants() {
    let root = unit_root(
        "[Service]\nExecStart=/bin/app\nUser=daemon\nCapabilityBoundingSet=net_bind_service\nAmbientCapabilities=CAP_NET_BIND_SERVCE\n",
    );
    let text = stdout_of(&capdisc().args(["lint", "app", "--root", &root_arg(&root)]).output().expect("lint"));
    assert!(text.contains("contains `net_bind_service`, which systemd silently ignores"), "{text}");
    assert!(text.contains("fix: write CapabilityBoundingSet=CAP_NET_BIND_SERVICE"), "{text}");
    assert!(text.contains("did you mean CAP_NET_BIND_SERVICE?"), "{text}");
    assert!(text.contains("contains `CAP_NET_BIND_SERVCE`, which systemd silently ignores (no capability has that name)"), "{text}");
    assert!(!text.contains("`CAP_NET_BIND_SERVCE`, which systemd silently ignores (capability names need the CAP_ prefix)"), "{text}");

    let noroot = unit_root("[Service]\nExecStart=/bin/app\nSecureBits=keep-caps noroot\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\n");
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&noroot)]).output().expect("lint");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout_of(&output).contains("warning: SecureBits=noroot: the service runs as root but gets no capabilities"),
        "{}",
        stdout_of(&output)
    );

    let open = unit_root("[Service]\nExecStart=/bin/app\n");
    let output = capdisc()
        .args(["lint", "app", "--root", &root_arg(&open), "--profile"])
        .arg(fixtures().join("root-bind.yaml"))
        .output()
        .expect("lint");
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout_of(&output).contains(
        "warning: CapabilityBoundingSet= is not set, so every capability is available; the profile needs only CAP_NET_BIND_SERVICE"
    ));

    let narrow = unit_root("[Service]\nExecStart=/bin/app\nCapabilityBoundingSet=CAP_CHOWN\n");
    let output = capdisc()
        .args(["lint", "app", "--root", &root_arg(&narrow), "--profile"])
        .arg(fixtures().join("root-bind.yaml"))
        .output()
        .expect("lint");
    let text = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(text.contains("error: the profile used CAP_NET_BIND_SERVICE (in bind), which this configuration does not grant"), "{text}");
    assert!(text.contains("info: CAP_CHOWN is granted but the profile never used it"), "{text}");
}

#[test]
fn lint_follows_dropins_from_a_unit_file_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unit = dir.path().join("app.service");
    fs::write(&unit, STORY_BROKEN).expect("write");
    fs::create_dir(dir.path().join("app.service.d")).expect("mkdir");
    fs::write(dir.path().join("app.service.d/60-capdisc.conf"), stdout_of(&run_in(&fixtures(), &["generate", "story-app.yaml"])))
        .expect("write");
    let output = capdisc().args(["lint", "--unit-file"]).arg(&unit).output().expect("lint");
    assert_eq!(output.status.code(), Some(0), "the generated drop-in fixes the story: {}", stdout_of(&output));
}

/// What `systemd-analyze security --offline` parsed: is CAP_NET_BIND_SERVICE outside the
/// bounding set (its `~CAP_NET_(BIND_SERVICE|...)` restriction "set")? And the exposure.
fn analyze(root: &Path) -> (bool, String) {
    let json = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--json=short"])
        .arg(format!("--root={}", root.display()))
        .arg("app.service")
        .stderr(Stdio::null())
        .output()
        .expect("systemd-analyze");
    let items: serde_json::Value = serde_json::from_slice(&json.stdout).expect("security json");
    let restricted = items
        .as_array()
        .expect("list")
        .iter()
        .find(|item| item["name"].as_str().is_some_and(|name| name.contains("CAP_NET_(BIND_SERVICE")))
        .map(|item| item["set"] == true)
        .expect("the NET_BIND_SERVICE line");
    let text = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(format!("--root={}", root.display()))
        .arg("app.service")
        .output()
        .expect("systemd-analyze");
    let exposure = String::from_utf8_lossy(&text.stdout)
        .lines()
        .find_map(|line| line.split("app.service: ").nth(1).map(str::to_owned))
        .unwrap_or_default();
    (restricted, exposure)
}

#[test]
fn systemd_reads_the_generated_dropin_as_intended() {
    let root = unit_root(STORY_BROKEN);
    let (restricted_before, exposure_before) = analyze(root.path());
    assert!(restricted_before, "the broken unit keeps NET_BIND_SERVICE out of the bounding set");
    let apply = |extra: &[&str]| {
        capdisc()
            .args(["apply"])
            .arg(fixtures().join("story-app.yaml"))
            .args(["--unit", "app", "--root", &root_arg(&root)])
            .args(extra)
            .output()
            .expect("apply")
    };
    // The story's fix widens the unit: never without consent.
    let refused = apply(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains(
            "apply widens app.service: CAP_NET_BIND_SERVICE (bind: 1 granted check(s)) not granted now; nothing written; rerun with --allow-widen"
        ),
        "{}",
        stderr(&refused)
    );
    assert!(!root.path().join("etc/systemd/system/app.service.d").exists(), "nothing written");
    let applied = apply(&["--allow-widen"]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert!(stdout_of(&applied).contains("needed by the profile but not granted now (the drop-in adds them): CAP_NET_BIND_SERVICE"));
    let (restricted_after, exposure_after) = analyze(root.path());
    assert!(!restricted_after, "systemd parsed CAP_NET_BIND_SERVICE into the bounding set");
    println!("systemd-analyze exposure: before {exposure_before}, after {exposure_after}");

    // systemd-analyze verify accepts the unit with the drop-in (a unit directory of its own).
    let dir = tempfile::tempdir().expect("tempdir");
    fs::write(dir.path().join("app.service"), STORY_BROKEN).expect("write");
    fs::create_dir(dir.path().join("app.service.d")).expect("mkdir");
    fs::copy(root.path().join("etc/systemd/system/app.service.d/60-capdisc.conf"), dir.path().join("app.service.d/60-capdisc.conf"))
        .expect("copy");
    let verify = Command::new("systemd-analyze").arg("verify").arg(dir.path().join("app.service")).output().expect("verify");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));

    // The trap capdisc guards against: a name without cap_ parses to nothing, silently.
    let wrong = unit_root(&STORY_BROKEN.replace("CapabilityBoundingSet=\n", "CapabilityBoundingSet=net_bind_service\n"));
    assert!(analyze(wrong.path()).0, "systemd ignored net_bind_service");
}

#[test]
fn apply_is_atomic_idempotent_keeps_a_backup_and_refuses_symlinks() {
    let root = unit_root(STORY_BROKEN);
    let dropin_dir = root.path().join("etc/systemd/system/app.service.d");
    let apply = |fixture: &str| {
        capdisc()
            .arg("apply")
            .arg(fixtures().join(fixture))
            .args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)])
            .output()
            .expect("apply")
    };
    assert!(apply("story-app.yaml").status.success());
    let first = fs::read_to_string(dropin_dir.join("60-capdisc.conf")).expect("written");
    let again = apply("story-app.yaml");
    assert!(stdout_of(&again).contains("already up to date"), "{}", stdout_of(&again));
    assert_eq!(fs::read_to_string(dropin_dir.join("60-capdisc.conf")).expect("still there"), first);
    assert!(apply("nothing-needed.yaml").status.success());
    assert_eq!(fs::read_to_string(dropin_dir.join("60-capdisc.conf.bak")).expect("backup"), first);
    let names: Vec<String> =
        fs::read_dir(&dropin_dir).expect("dir").flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "no temporary files left: {names:?}");

    let dry = capdisc()
        .arg("apply")
        .arg(fixtures().join("root-bind.yaml"))
        .args(["--unit", "app", "--root", &root_arg(&root), "--dry-run", "--allow-widen"])
        .output()
        .expect("dry run");
    assert!(stdout_of(&dry).contains("dry run, nothing written"));
    assert_ne!(fs::read_to_string(dropin_dir.join("60-capdisc.conf")).expect("kept"), first, "dry run changed nothing");

    let victim = root.path().join("victim");
    fs::write(&victim, "untouched").expect("write");
    fs::remove_file(dropin_dir.join("60-capdisc.conf")).expect("rm");
    std::os::unix::fs::symlink(&victim, dropin_dir.join("60-capdisc.conf")).expect("symlink");
    let refused = apply("story-app.yaml");
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("60-capdisc.conf: it is a symlink"), "{}", stderr(&refused));
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "untouched");
}

#[test]
fn diff_reports_creep_with_exit_status_and_merge_unites() {
    let dir = fixtures();
    let creep = run_in(&dir, &["diff", "root-bind.yaml", "denied-and-advisory.yaml"]);
    assert_eq!(creep.status.code(), Some(1));
    let text = stdout_of(&creep);
    assert!(text.contains("newly required: CAP_CHOWN"), "{text}");
    assert!(text.contains("class changed:  CAP_NET_BIND_SERVICE required -> denied"), "{text}");
    let same = run_in(&dir, &["diff", "story-app.yaml", "story-app.yaml"]);
    assert_eq!(same.status.code(), Some(0));
    let shrink = run_in(&dir, &["diff", "story-app.yaml", "nothing-needed.yaml", "--json"]);
    assert_eq!(shrink.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&shrink.stdout).expect("json");
    assert_eq!(json["no_longer_used"], serde_json::json!(["CAP_NET_BIND_SERVICE"]));

    let out = tempfile::tempdir().expect("tempdir");
    let merged_path = out.path().join("merged.yaml");
    let merged = capdisc()
        .current_dir(&dir)
        .args(["merge", "root-bind.yaml", "denied-and-advisory.yaml", "-o"])
        .arg(&merged_path)
        .output()
        .expect("merge");
    assert!(merged.status.success(), "{}", stderr(&merged));
    let profile = capdisc::profile::read(&merged_path).expect("merged profile reads back");
    assert_eq!(required(&profile), vec!["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]);
    let bind = cap(&profile, "CAP_NET_BIND_SERVICE");
    assert_eq!((bind.granted, bind.denied), (1, 1));
    assert_eq!(bind.uids, vec![0, 65534]);
    assert_eq!(cap(&profile, "CAP_SYS_ADMIN").granted, 80);
    assert_eq!(profile.merged_from.len(), 2);
}

#[test]
fn bad_input_is_one_line_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        fs::write(&path, text).expect("write");
        path
    };
    let story = fs::read_to_string(fixtures().join("story-app.yaml")).expect("fixture");
    let cases = [
        (write("broken.yaml", "schema_version: 1\ncapabilities: [\n"), "is not a valid profile"),
        (write("future.yaml", &story.replace("schema_version: 1", "schema_version: 99")), "schema version 99"),
        (
            write("typo.yaml", &story.replace("name: CAP_NET_BIND_SERVICE", "name: CAP_NET_BIND_SERVCE")),
            "did you mean CAP_NET_BIND_SERVICE?",
        ),
        (dir.path().join("missing.yaml"), "cannot read profile"),
        (write("bomb.yaml", &alias_bomb()), "repetition limit exceeded"),
    ];
    for (path, expected) in cases {
        let target = dir.path().join("out.conf");
        let output = capdisc().arg("generate").arg(&path).arg("-o").arg(&target).output().expect("generate");
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains(expected), "{expected}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "{text}");
        assert!(!target.exists());
    }
    let missing_unit = capdisc()
        .arg("apply")
        .arg(fixtures().join("story-app.yaml"))
        .args(["--unit", "nope", "--root"])
        .arg(dir.path())
        .output()
        .expect("apply");
    assert_eq!(missing_unit.status.code(), Some(2));
    assert!(stderr(&missing_unit).contains("unit nope.service not found"), "{}", stderr(&missing_unit));
}

/// A YAML "billion laughs": ten levels of ten aliases each.
fn alias_bomb() -> String {
    let mut lines = vec!["a0: &a0 [x, x, x, x, x, x, x, x, x, x]".to_owned()];
    for level in 1..10 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        lines.push(format!("a{level}: &a{level} [{refs}]"));
    }
    lines.push("schema_version: 1".to_owned());
    lines.join("\n") + "\n"
}

#[test]
fn a_huge_profile_is_refused_without_reading_it_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("huge.yaml");
    let file = fs::File::create(&path).expect("create");
    file.set_len(capdisc::profile::MAX_PROFILE_BYTES + 10).expect("sparse file");
    let output = capdisc().arg("generate").arg(&path).output().expect("generate");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("larger than 64 MiB, too large for a capdisc profile"), "{}", stderr(&output));
}

#[test]
fn completions_parse_and_the_man_pages_render() {
    let bash = capdisc().args(["completions", "bash"]).output().expect("completions");
    assert!(bash.status.success());
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("capdisc.bash");
    fs::write(&script, &bash.stdout).expect("write");
    let check = Command::new("bash").arg("-n").arg(&script).output().expect("bash -n");
    assert!(check.status.success(), "bash accepts it: {}", String::from_utf8_lossy(&check.stderr));
    assert!(String::from_utf8_lossy(&bash.stdout).contains("minimize"), "every subcommand completes");

    let pages = capdisc().args(["man", "--dir"]).arg(dir.path()).output().expect("man");
    assert!(pages.status.success(), "{}", stderr(&pages));
    for page in ["capdisc.1", "capdisc-record.1", "capdisc-minimize.1", "capdisc-apply.1"] {
        assert!(dir.path().join(page).exists(), "{page}");
    }
    if Command::new("man").arg("--version").output().is_ok_and(|out| out.status.success()) {
        let rendered = Command::new("man").env("MANWIDTH", "100").arg("-l").arg(dir.path().join("capdisc.1")).output().expect("man -l");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(rendered.status.success() && text.contains("PROFILE SCHEMA") && text.contains("schema_version: 1"), "{text}");
    } else {
        eprintln!("skipping the man -l rendering: man is not installed here");
    }
}

#[test]
fn apply_scores_the_unit_before_and_after_and_keeps_nothing_above_max_exposure() {
    let root = unit_root(STORY_BROKEN);
    let apply = |extra: &[&str]| {
        capdisc()
            .args(["apply"])
            .arg(fixtures().join("story-app.yaml"))
            .args(["--unit", "app", "--allow-widen", "--root", &root_arg(&root)])
            .args(extra)
            .output()
            .expect("apply")
    };
    let (_, before) = analyze(root.path());
    let strict = apply(&["--max-exposure", "1.0"]);
    assert_eq!(strict.status.code(), Some(1), "{}{}", stdout_of(&strict), stderr(&strict));
    assert!(
        stderr(&strict).contains("above --max-exposure 1.0") && stderr(&strict).contains("60-capdisc.conf removed"),
        "{}",
        stderr(&strict)
    );
    assert!(!root.path().join("etc/systemd/system/app.service.d/60-capdisc.conf").exists(), "nothing kept");
    let (_, still) = analyze(root.path());
    assert_eq!(still, before, "the unit scores as before");

    let kept = apply(&["--max-exposure", "10"]);
    assert_eq!(kept.status.code(), Some(0), "{}", stderr(&kept));
    let (_, after) = analyze(root.path());
    let number = |text: &str| text.split_whitespace().next().unwrap_or_default().to_owned();
    let line = format!("exposure (systemd-analyze security, lower is better): {} -> {}", number(&before), number(&after));
    assert!(stdout_of(&kept).contains(&line), "systemd's own scores, as systemd-analyze prints them: {line}\n{}", stdout_of(&kept));
    let bad = apply(&["--max-exposure", "11"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("is not an exposure level from 0.0 to 10.0"), "{}", stderr(&bad));
}

/// A root-equivalent capability a non-root service used (CAP_CHOWN, which `generate` withholds
/// unproven) is still one it used: granted, lint does not call it unused; not granted, lint says
/// the service will fail (it said "granted but never used" and "not granted by capdisc").
#[test]
fn lint_judges_a_withheld_capability_as_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let story = fs::read_to_string(fixtures().join("story-app.yaml")).expect("fixture");
    let chown = story
        .replace("- name: CAP_NET_BIND_SERVICE\n  number: 10\n", "- name: CAP_CHOWN\n  number: 0\n")
        .replace("mostly in bind", "mostly in chown");
    assert_ne!(chown, story, "the fixture changed shape");
    let profile = dir.path().join("chown.yaml");
    fs::write(&profile, chown).expect("write profile");

    let granted = unit_root("[Service]\nExecStart=/bin/app\nUser=app\nCapabilityBoundingSet=CAP_CHOWN\nAmbientCapabilities=CAP_CHOWN\n");
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&granted), "--profile"]).arg(&profile).output().expect("lint");
    let text = stdout_of(&output);
    assert!(!text.contains("never used"), "{text}");
    assert!(!text.contains("not granted by capdisc"), "{text}");
    assert!(text.contains("holds CAP_CHOWN as an ambient capability, which amounts to root"), "{text}");

    let nothing = unit_root("[Service]\nExecStart=/bin/app\nUser=app\nCapabilityBoundingSet=\n");
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&nothing), "--profile"]).arg(&profile).output().expect("lint");
    let text = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("error: the profile used CAP_CHOWN (in bind), which this configuration does not grant: it will fail"), "{text}");
    assert!(text.contains("`capdisc minimize` proves whether it is needed"), "{text}");
}

/// A unit recorded without its reload and stop (the README's first workflow) says so where the
/// user reads the result: a unit whose ExecReload= needs a capability is not covered by it.
#[test]
fn a_unit_recording_says_which_phases_it_covered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let story = fs::read_to_string(fixtures().join("story-app.yaml")).expect("fixture");
    let unit = story.replace("  kind: command\n", "  kind: unit\n  unit: app.service\n").replace(
        "description: 'command: /usr/local/bin/app'",
        "description: unit app.service (cgroup /system.slice/app.service) from its restart",
    );
    assert_ne!(unit, story, "the fixture changed shape");
    let profile = dir.path().join("unit.yaml");
    fs::write(&profile, unit).expect("write");
    let dropin = stdout_of(&capdisc().arg("generate").arg(&profile).output().expect("generate"));
    assert!(
        dropin.contains("# Phases: recorded the unit's start and what ran while it was recorded only: no reload and no stop ran under capdisc, so what ExecReload= or ExecStop= need is not in it (`capdisc minimize --unit app.service` runs and records every phase)."),
        "{dropin}"
    );
    let command = stdout_of(&capdisc().arg("generate").arg(fixtures().join("story-app.yaml")).output().expect("generate"));
    assert!(!command.contains("# Phases:"), "a command's run is its whole life: {command}");
}

/// `--format setcap` for a non-root recording whose only need is withheld says it was withheld,
/// not that nothing was required.
#[test]
fn setcap_says_what_it_withheld() {
    let dir = tempfile::tempdir().expect("tempdir");
    let story = fs::read_to_string(fixtures().join("story-app.yaml")).expect("fixture");
    let chown = story.replace("- name: CAP_NET_BIND_SERVICE\n  number: 10\n", "- name: CAP_CHOWN\n  number: 0\n");
    let profile = dir.path().join("chown.yaml");
    fs::write(&profile, chown).expect("write profile");
    let output = capdisc().arg("generate").arg(&profile).args(["--format", "setcap"]).output().expect("generate");
    let text = stdout_of(&output);
    assert!(text.contains("# CAP_CHOWN left out: it amounts to root for a non-root service"), "{text}");
    assert!(text.contains("# nothing else is granted: nothing to set"), "{text}");
    assert!(!text.contains("no capability"), "{text}");
}

/// `lint --profile` judges the unit's sandboxing against what the recording saw it refuse: the
/// setting, why, and the narrowest fix; the fixed unit refuses none of it.
#[test]
fn lint_names_the_setting_behind_each_refusal_the_recording_saw() {
    if !Path::new("/usr/bin/systemd-analyze").exists() {
        eprintln!("no systemd-analyze here (the system-call groups come from it): skipped");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let story = fs::read_to_string(fixtures().join("story-app.yaml")).expect("fixture");
    let refusals = "refusals:\n- syscall: adjtimex\n  by: seccomp\n  errno: EPERM\n  comm: chronyd\n  count: 3\n  why: recorded\n\
                    - syscall: openat\n  by: file system\n  errno: EROFS\n  path: /var/lib/counter/hits.tmp\n  comm: python3\n  count: 2\n  why: recorded\n\
                    - syscall: socket\n  by: seccomp\n  errno: EAFNOSUPPORT\n  family: AF_NETLINK\n  comm: chronyd\n  count: 1\n  why: recorded\n";
    let profile = dir.path().join("refused.yaml");
    fs::write(&profile, format!("{story}{refusals}")).expect("write profile");
    let hardened =
        "[Service]\nExecStart=/bin/app\nUser=app\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n\
                    ProtectSystem=strict\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n\
                    SystemCallFilter=@system-service\nSystemCallFilter=~@privileged\nSystemCallErrorNumber=EPERM\n";
    let root = unit_root(hardened);
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&root), "--profile"]).arg(&profile).output().expect("lint");
    let text = stdout_of(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("error: SystemCallFilter=~@privileged refuses what the service did: adjtimex() refused by a seccomp filter (EPERM) (3 time(s) in the recording, by chronyd): adjtimex is in @clock, inside @privileged (SystemCallErrorNumber=EPERM)"), "{text}");
    assert!(text.contains("add SystemCallFilter=@clock, then prove it"), "{text}");
    assert!(
        text.contains("error: ProtectSystem=strict refuses what the service did: openat(/var/lib/counter/hits.tmp) failed: EROFS"),
        "{text}"
    );
    assert!(text.contains("add ReadWritePaths=/var/lib/counter (or StateDirectory=counter)"), "{text}");
    assert!(
        text.contains("error: RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 refuses what the service did: socket(AF_NETLINK)"),
        "{text}"
    );
    assert!(text.contains("add RestrictAddressFamilies=AF_NETLINK"), "{text}");

    let fixed =
        unit_root(&format!("{hardened}SystemCallFilter=@clock\nReadWritePaths=/var/lib/counter\nRestrictAddressFamilies=AF_NETLINK\n"));
    let output = capdisc().args(["lint", "app", "--root", &root_arg(&fixed), "--profile"]).arg(&profile).output().expect("lint");
    let text = stdout_of(&output);
    assert!(!text.contains("refuses what the service did"), "the fixes allow every refused call: {text}");
}
