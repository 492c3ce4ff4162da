//! Which permission, whatever the directive: real services under sandboxing settings that break
//! them with "Operation not permitted" or "Read-only file system", and what capdisc names from
//! the kernel's evidence: the setting, why, and the narrowest fix. chrony with its shipped unit
//! under a drop-in copied from a hardening guide; small services that keep state under
//! `ProtectSystem=strict`, open a netlink or packet socket under `RestrictAddressFamilies=`, map
//! memory writable and executable under `MemoryDenyWriteExecute=`, and run a setuid helper under
//! `NoNewPrivileges=`.
use capdisc_guest_tests::{
    command::capdisc,
    expect, guest,
    unit::{self, Installed},
    wait,
};
use serde_json::Value;

/// A service of this test, `[Service]` holding `body`, stopped when the test ends.
fn service(name: &str, body: &str) -> Installed {
    let (path, text) = (format!("/etc/systemd/system/{name}"), format!("[Unit]\nDescription=capdisc sandbox test\n\n[Service]\n{body}"));
    let installed = Installed::new(&[(&path, &text)]);
    unit::systemctl(&["reset-failed", name]);
    installed
}

/// The sandbox refusals `trace --denied --json` shows for `unit` from its restart.
fn refusals(unit_name: &str) -> Vec<Value> {
    let trace = capdisc(&["trace", "--denied", "--json", "-q", "--unit", unit_name, "--restart", "--duration", "10"]);
    trace.expect_exit(0);
    let refused: Vec<Value> = trace
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["verdict"] == "refused")
        .collect();
    capdisc_guest_tests::report(&format!("{unit_name}: {}", refused.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")));
    refused
}

/// Panics unless one refusal of `syscall` names `setting`, a `why` holding `why` and `fix`.
fn expect_named(refused: &[Value], syscall: &str, setting: &str, why: &str, fix: &str) {
    let found = refused.iter().any(|event| {
        event["syscall"] == syscall
            && event["setting"] == setting
            && event["why"].as_str().is_some_and(|text| text.contains(why))
            && event["fix"] == fix
    });
    expect::that(found, &format!("{syscall} refused by {setting}: ...{why}...; fix: {fix}"), refused);
}

const CHRONY: &str = "chrony.service";
const CHRONY_GUIDE: &str = "/etc/systemd/system/chrony.service.d/50-hardening-guide.conf";

#[test]
fn s14_chrony_under_a_copied_seccomp_dropin_names_the_filter_and_group() {
    guest!();
    unit::shipped(CHRONY);
    let guide = "[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\nSystemCallErrorNumber=EPERM\n";
    let _guide = Installed::new(&[(CHRONY_GUIDE, guide)]);
    let mark = unit::journal_mark();
    unit::systemctl(&["restart", CHRONY]);
    let failed = || unit::journal_after(CHRONY, &mark).contains("Operation not permitted");
    wait::must(30, "chronyd says Operation not permitted", failed, || unit::journal_after(CHRONY, &mark));
    let refused = refusals(CHRONY);
    expect_named(
        &refused,
        // chronyd's adjtimex() is glibc's clock_adjtime system call: the kernel's name for it.
        "clock_adjtime",
        "SystemCallFilter=~@privileged",
        "clock_adjtime is in @clock, inside @privileged (SystemCallErrorNumber=EPERM)",
        "SystemCallFilter=@clock",
    );
    // A recording of the failing unit, and lint judging the unit against it.
    capdisc(&["record", "--sandbox", "--unit", CHRONY, "--restart", "--duration", "10", "-o", "/root/chrony-refused.yaml"]).expect_exit(0);
    capdisc(&["lint", CHRONY, "--profile", "/root/chrony-refused.yaml"])
        .expect_exit(1)
        .expect_says("SystemCallFilter=~@privileged refuses what the service did: clock_adjtime() refused by a seccomp filter (EPERM)")
        .expect_says("clock_adjtime is in @clock, inside @privileged")
        .expect_says("fix: add SystemCallFilter=@clock");
    drop(_guide);
    unit::restart_until(CHRONY, 30, || unit::is_active(CHRONY));
}

#[test]
fn s15_state_under_protect_system_strict_names_the_path_and_the_fix() {
    guest!();
    std::fs::create_dir_all("/var/lib/counter").expect("/var/lib/counter");
    let _unit = service(
        "counter.service",
        "ExecStart=/bin/sh -c 'while :; do echo 1 > /var/lib/counter/hits.tmp; sleep 1; done'\nProtectSystem=strict\nProtectHome=true\nPrivateTmp=true\nNoNewPrivileges=true\nCapabilityBoundingSet=\n",
    );
    let refused = refusals("counter.service");
    let found = refused.iter().any(|event| {
        event["path"] == "/var/lib/counter/hits.tmp"
            && event["refused"]["errno"] == "EROFS"
            && event["setting"] == "ProtectSystem=strict"
            && event["fix"] == "ReadWritePaths=/var/lib/counter"
            && event["fix_alternative"] == "StateDirectory=counter"
    });
    expect::that(
        found,
        "/var/lib/counter/hits.tmp: EROFS by ProtectSystem=strict; fix: ReadWritePaths=/var/lib/counter (or StateDirectory=counter)",
        &refused,
    );
    unit::systemctl(&["stop", "counter.service"]);
}

#[test]
fn s16_a_socket_family_left_out_names_restrict_address_families() {
    guest!();
    let restrict = "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n";
    // AF_NETLINK (16) and AF_PACKET (17), raw sockets, as a monitoring agent opens them.
    let _unit = service(
        "families.service",
        &format!("ExecStart=/bin/sh -c 'python3 -c \"import socket; socket.socket(16, 3)\"; python3 -c \"import socket; socket.socket(17, 3)\"; exec sleep infinity'\n{restrict}"),
    );
    let refused = refusals("families.service");
    let setting = "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX";
    for family in ["AF_NETLINK", "AF_PACKET"] {
        let found = refused.iter().any(|event| {
            event["syscall"] == "socket"
                && event["refused"]["by"] == "seccomp"
                && event["setting"].as_str().is_some_and(|line| line.starts_with("RestrictAddressFamilies="))
                && event["fix"] == format!("RestrictAddressFamilies={family}")
        });
        expect::that(found, &format!("socket({family}) refused by {setting}; fix: RestrictAddressFamilies={family}"), &refused);
    }
    unit::systemctl(&["stop", "families.service"]);
}

#[test]
fn s17_writable_executable_memory_names_memory_deny_write_execute() {
    guest!();
    let _unit = service(
        "jit.service",
        "ExecStart=/bin/sh -c 'python3 -c \"import mmap; mmap.mmap(-1, 4096, prot=7)\"; exec sleep infinity'\nMemoryDenyWriteExecute=yes\n",
    );
    let refused = refusals("jit.service");
    let found = refused.iter().any(|event| {
        event["setting"] == "MemoryDenyWriteExecute=yes"
            && event["why"].as_str().is_some_and(|why| why.contains("refuses memory both writable and executable"))
    });
    expect::that(found, "mmap refused by MemoryDenyWriteExecute=yes", &refused);
    unit::systemctl(&["stop", "jit.service"]);
}

#[test]
fn s18_a_setuid_helper_under_no_new_privileges_gains_nothing() {
    guest!();
    // mount is setuid root; as `app` it lists the mounts, or with its set-id bit ignored, as app.
    let _unit = service(
        "helper.service",
        "User=app\nExecStart=/bin/sh -c '/usr/bin/mount > /dev/null; exec sleep infinity'\nNoNewPrivileges=yes\n",
    );
    let refused = refusals("helper.service");
    let found = refused.iter().any(|event| {
        event["refused"]["by"] == "exec"
            && event["path"].as_str().is_some_and(|path| path.ends_with("/mount"))
            && event["setting"] == "NoNewPrivileges=yes"
    });
    expect::that(found, "the exec of /usr/bin/mount gained nothing, by NoNewPrivileges=yes", &refused);
    unit::systemctl(&["stop", "helper.service"]);
}
