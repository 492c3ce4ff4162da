//! Reading the guests' container steps from their serial logs: the story guest's
//! (guest/containers.sh) and the container outputs guest's (guest/outputs.sh).
use std::collections::BTreeMap;

use super::scenario::marked_lines;

/// The results of lines `PREFIX key value`, by key.
fn keyed(serial: &str, prefix: &str) -> BTreeMap<String, String> {
    marked_lines(serial)
        .filter_map(|line| line.strip_prefix(prefix))
        .map(|rest| {
            let (key, value) = rest.split_once(' ').unwrap_or((rest, ""));
            (key.to_owned(), value.trim().to_owned())
        })
        .collect()
}

/// (what was checked, passed) for each container step.
pub fn checks(serial: &str) -> Vec<(String, bool)> {
    let steps = keyed(serial, "CAPDISC-CONTAINER ");
    let step = |key: &str| steps.get(key).map(String::as_str).unwrap_or("(missing)");
    let first = |key: &str| step(key).split_whitespace().next().unwrap_or("").to_owned();
    // The runtime's set-up must hold at least its credential and namespace work, and never a need.
    let setup_separated = |key: &str, needs: &str| {
        let setup: Vec<&str> = step(key).split(',').collect();
        ["CAP_SETUID", "CAP_SETGID", "CAP_SYS_ADMIN"].iter().all(|cap| setup.contains(cap))
            && needs.split(',').all(|need| !setup.contains(&need))
    };
    let both = "CAP_CHOWN,CAP_NET_BIND_SERVICE";
    vec![
        (
            "containers: the image is imported offline and the container serves :604".to_owned(),
            step("import") == "0" && step("web-serves") == "yes",
        ),
        ("c1. record --container (attached) exits 0".to_owned(), step("c1-exit") == "0" && step("c1-exec") != "(missing)"),
        ("c1. a podman exec's chown: exactly CAP_CHOWN required".to_owned(), step("c1-required") == "CAP_CHOWN"),
        (
            "c1. unproven, for the container's non-root user (crun's uid-0 set-up aside), generate leaves the root-equivalent CAP_CHOWN out".to_owned(),
            step("c1-generated").is_empty(),
        ),
        ("c1. the runtime's work to join (SETUID, SETGID, SYS_ADMIN...) is set-up".to_owned(), setup_separated("c1-setup", "CAP_CHOWN")),
        (
            "c2. record --container --restart exits 0, the service served meanwhile".to_owned(),
            step("c2-exit") == "0" && step("c2-serves") == "yes",
        ),
        ("c2. from its start: exactly CAP_CHOWN and CAP_NET_BIND_SERVICE required".to_owned(), step("c2-required") == both),
        ("c2. crun's set-up before the entrypoint is set-up, not a need".to_owned(), setup_separated("c2-setup", both)),
        ("c2. the container runs on afterwards".to_owned(), step("c2-running-after") == "yes"),
        (
            "c2b. capdisc SIGKILLed while the container is stopped for its restart: the guardian starts it".to_owned(),
            step("c2b-stopped") == "yes" && step("c2b-web-after") == "serves",
        ),
        (
            "c3. record -- podman run records the container, not the client".to_owned(),
            first("c3-exit") == "0" && step("c3-required") == "CAP_NET_BIND_SERVICE",
        ),
        (
            "c4. minimize --container proves CAP_CHOWN and CAP_NET_BIND_SERVICE".to_owned(),
            first("c4-exit") == "0" && step("c4-required") == both,
        ),
        ("c4. the trial without CAP_CHOWN failed, naming chown".to_owned(), step("c4-chown-denial") == "named"),
        (
            "c4. web serves again after the proof; no trial container or cgroup left".to_owned(),
            step("c4-web-after") == "serves" && step("c4-leftovers") == "0 0",
        ),
        (
            "c5. generate --format podman gives exactly the proven flags".to_owned(),
            step("c5-flags") == "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE",
        ),
        ("c5. podman runs them: the service serves".to_owned(), step("c5-serves") == "yes"),
        (
            "c5. and holds exactly CHOWN and NET_BIND_SERVICE (effective, bounding, ambient)".to_owned(),
            step("c5-sets") == "0000000000000401 0000000000000401 0000000000000401",
        ),
        (
            "c6. verify of a narrower set fails (exit 1), naming CAP_CHOWN in chown".to_owned(),
            step("c6-exit") == "1" && step("c6-denial") == "named",
        ),
        ("c7. capdisc SIGKILLed mid-proof: the guardian starts web again".to_owned(), step("c7-web-after") == "serves"),
        ("c7. and removes the trial container and cgroup".to_owned(), step("c7-leftovers") == "0 0"),
    ]
}

/// (what was checked, passed) for each step of the container outputs' guest (guest/outputs.sh).
pub fn output_checks(serial: &str) -> Vec<(String, bool)> {
    let steps = keyed(serial, "CAPDISC-OUTPUT ");
    let step = |key: &str| steps.get(key).map(String::as_str).unwrap_or("(missing)");
    let both = "CAP_CHOWN,CAP_NET_BIND_SERVICE";
    let mask = step("proof-mask");
    let exact = format!("{mask} {mask} {mask}");
    let mut checks = vec![
        (
            "outputs: the image is imported offline and the container serves :604".to_owned(),
            step("import") == "0" && step("web-serves") == "yes",
        ),
        (
            "outputs: minimize --container under podman 5 proves exactly CAP_CHOWN and CAP_NET_BIND_SERVICE".to_owned(),
            step("proof-exit").split_whitespace().next() == Some("0") && step("proof-required") == both,
        ),
        (
            "outputs: record --container --restart under podman 5: exactly CAP_CHOWN and CAP_NET_BIND_SERVICE required".to_owned(),
            sorted(step("record-required")) == sorted(both),
        ),
    ];
    for (format, started) in [("compose", "compose-up"), ("quadlet", "quadlet-start"), ("kube", "kube-play")] {
        checks.push((format!("outputs: {format}: its tool starts the container"), step(started) == "0"));
        checks.push((format!("outputs: {format}: the service serves"), step(&format!("{format}-serves")) == "yes"));
        checks.push((
            format!("outputs: {format}: it holds exactly the proven set (effective, bounding, ambient)"),
            step(&format!("{format}-sets")) == exact && mask != "(missing)",
        ));
    }
    checks.push(("outputs: the steps ran to their end".to_owned(), step("done").is_empty()));
    checks
}

/// (what was checked, passed) for each rootless podman step (guest/rootless.sh).
pub fn rootless_checks(serial: &str) -> Vec<(String, bool)> {
    let steps = keyed(serial, "CAPDISC-ROOTLESS ");
    let step = |key: &str| steps.get(key).map(String::as_str).unwrap_or("(missing)");
    let both = "CAP_CHOWN,CAP_NET_BIND_SERVICE";
    vec![
        (
            "rootless: alice's podman imports the image and runs web (slirp4netns, :604 on :8604)".to_owned(),
            step("import") == "0" && step("web-serves") == "yes",
        ),
        (
            "rootless r1. record --container --rootless during exec: exactly CAP_CHOWN required, nothing denied (the runtime's host-namespace attempts are set-up)".to_owned(),
            step("r1-exit") == "0" && step("r1-required") == "CAP_CHOWN" && step("r1-denied").is_empty(),
        ),
        (
            "rootless r1. the profile names alice and the container's user namespace".to_owned(),
            step("r1-user") == "alice" && step("r1-namespace") == "named",
        ),
        (
            "rootless r2. --restart (its scope handed to alice's systemd): exactly CAP_CHOWN and CAP_NET_BIND_SERVICE, web runs on".to_owned(),
            step("r2-serves") == "yes" && sorted(step("r2-required")) == sorted(both) && step("r2-running-after") == "yes",
        ),
        (
            "rootless r3. -- podman run as alice under a delegated cgroup: exactly the two, nothing left".to_owned(),
            step("r3-serves") == "yes" && sorted(step("r3-required")) == sorted(both) && step("r3-leftovers") == "0 0 0",
        ),
        (
            "rootless r4. minimize --container --rootless proves exactly the two, naming the chown denial".to_owned(),
            step("r4-exit").split_whitespace().next() == Some("0") && step("r4-required") == both && step("r4-chown-denial") == "named",
        ),
        (
            "rootless r4. web serves again after the proof; no trial container or cgroup left".to_owned(),
            step("r4-web-after") == "serves" && step("r4-leftovers") == "0 0 0",
        ),
        (
            "rootless r5. the generated flags, run by alice's podman, serve and hold exactly CHOWN and NET_BIND_SERVICE".to_owned(),
            step("r5-flags") == "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE"
                && step("r5-serves") == "yes"
                && step("r5-sets") == "0000000000000401 0000000000000401 0000000000000401",
        ),
        (
            "rootless r6. capdisc SIGKILLed mid-proof: the guardian removes alice's trial container, its cgroup and id directory, and starts web".to_owned(),
            step("r6-web-after") == "serves" && step("r6-leftovers") == "0 0 0",
        ),
        (
            "rootless r7. trace --container --rootless shows the exec'd chown, granted in the container's user namespace".to_owned(),
            step("r7-exec") == "0" && step("r7-chown") == "seen",
        ),
        (
            "rootless r8. a bind on the host's network is denied against the host's namespace, and the profile says no flag grants it".to_owned(),
            step("r8-denied") == "CAP_NET_BIND_SERVICE" && step("r8-host-named") == "yes",
        ),
        ("rootless: the steps ran to their end".to_owned(), step("done").is_empty()),
    ]
}

/// (what was checked, passed) for each step with a real docker daemon (guest/docker.sh).
pub fn docker_checks(serial: &str) -> Vec<(String, bool)> {
    let steps = keyed(serial, "CAPDISC-DOCKER ");
    let step = |key: &str| steps.get(key).map(String::as_str).unwrap_or("(missing)");
    let both = "CAP_CHOWN,CAP_NET_BIND_SERVICE";
    let none_left = "0 0";
    vec![
        (
            "docker: the daemon (systemd cgroup driver) imports the image and runs web in its scope".to_owned(),
            step("begin").contains(" systemd ")
                && step("import") == "0"
                && step("web-serves") == "yes"
                && step("web-cgroup") == "/system.slice/docker-ID.scope",
        ),
        (
            "docker d1. record --container during a docker exec: exactly CAP_CHOWN required, runc's joining set-up".to_owned(),
            step("d1-exec") == "0" && step("d1-required") == "CAP_CHOWN" && !step("d1-setup").is_empty(),
        ),
        (
            "docker d2. --restart (its scope made first): exactly CAP_CHOWN and CAP_NET_BIND_SERVICE, web runs on".to_owned(),
            sorted(step("d2-required")) == sorted(both) && step("d2-running") == "yes",
        ),
        (
            "docker d2. minimize --container is refused with one line (docker keeps no create command), nothing written".to_owned(),
            step("d2-minimize-exit") == "2" && step("d2-minimize-says") == "yes" && step("d2-minimize-nothing-written") == "yes",
        ),
        (
            "docker d3. minimize -- docker run proves exactly the two, naming the chown denial; no trial container or scope left"
                .to_owned(),
            step("d3-exit").split_whitespace().next() == Some("0")
                && step("d3-required") == both
                && step("d3-denial-named") == "yes"
                && step("d3-leftovers") == none_left,
        ),
        (
            "docker d4. the generated flags, run by docker, serve and hold exactly CHOWN and NET_BIND_SERVICE".to_owned(),
            step("d4-flags") == "--cap-drop=ALL --cap-add=CHOWN --cap-add=NET_BIND_SERVICE"
                && step("d4-serves") == "yes"
                && step("d4-sets") == "0000000000000401 0000000000000401 0000000000000000",
        ),
        (
            "docker d5. a non-root container user gets no capability from docker's flags (no ambient set)".to_owned(),
            step("d5-sets") == "0000000000000000 0000000000000401 0000000000000000",
        ),
        (
            "docker d6. capdisc SIGKILLed mid-proof: the guardian removes the trial container and its scope".to_owned(),
            step("d6-leftovers") == none_left && step("d6-nothing-written") == "yes",
        ),
        (
            "docker d7. cgroupfs driver, daemon.json's cgroup-parent: record -- docker run records the container in /ops/ID; --rm removes it"
                .to_owned(),
            step("d7-driver") == "cgroupfs"
                && sorted(step("d7-required")) == sorted(both)
                && step("d7-cgroup") == "/ops/ID"
                && step("d7-removed") == "yes",
        ),
        (
            "docker d8. a cgroup parent on dockerd's command line: the recording stops with one line, writes nothing, leaves nothing"
                .to_owned(),
            step("d8-exit") == "2"
                && step("d8-says") == "yes"
                && step("d8-nothing-written") == "yes"
                && step("d8-removed") == "yes",
        ),
        ("docker: the steps ran to their end".to_owned(), step("done").is_empty()),
    ]
}

/// (what was checked, passed) for the Debian package's steps (guest/package.sh).
pub fn package_checks(serial: &str) -> Vec<(String, bool)> {
    let steps = keyed(serial, "CAPDISC-PACKAGE ");
    let step = |key: &str| steps.get(key).map(String::as_str).unwrap_or("(missing)");
    // CAP_BPF, CAP_PERFMON, CAP_SYSLOG: the unit's declared CapabilityBoundingSet=.
    let declared = format!("{:016x}", (1u64 << 39) | (1 << 38) | (1 << 34));
    vec![
        ("package: dpkg -i installs it (no compiler)".to_owned(), step("install") == "0" && step("version").starts_with("capdisc ")),
        (
            "package: man capdisc renders (the schema in it), and a subcommand's page".to_owned(),
            step("man") == "renders" && step("man-subcommand") == "renders",
        ),
        (
            "package: bash completion loads; zsh and fish completions installed".to_owned(),
            step("bash-completion") == "loads" && step("zsh-fish") == "present",
        ),
        ("package: capdisc-watch.service is installed, not enabled".to_owned(), step("unit-enabled") == "disabled"),
        ("package: systemctl enable --now capdisc-watch serves /metrics".to_owned(), step("enable") == "0" && step("metrics") == "served"),
        ("package: it runs under its declared bounding set".to_owned(), step("capbnd") == declared),
        (
            "package: apt remove stops it and leaves no binary, unit, runtime file or drop-in".to_owned(),
            step("remove") == "0" && step("left-after-remove") == "nothing",
        ),
        ("package: apt purge leaves no state and no unit link".to_owned(), step("purge") == "0" && step("left-after-purge") == "nothing"),
    ]
}

fn sorted(list: &str) -> Vec<&str> {
    let mut names: Vec<&str> = list.split(',').collect();
    names.sort_unstable();
    names
}
