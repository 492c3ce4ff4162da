//! `capdisc try`: a hardening change tried through the unit's whole life before it lands. The
//! story's change on the story's working unit, named and fixed; chrony under a drop-in copied
//! from a hardening guide, its fix proven; and a change that passes, installed and read back.
use capdisc_guest_tests::{
    command::capdisc,
    expect, guest,
    unit::{self, Installed},
};

/// The story's unit before the colleague's change: non-root, ambient CAP_NET_BIND_SERVICE, on
/// :448 (the story's own units hold 443 to 447).
const BEFORE: &str = "app-before.service";
const BEFORE_URL: &str = "http://127.0.0.1:448/";

fn working_unit() -> Installed {
    let installed = Installed::new(&[(
        "/etc/systemd/system/app-before.service",
        "[Unit]\nDescription=the story's service before the change\n\n[Service]\nExecStart=/usr/local/bin/capdisc-demo --port 448\nExecReload=/bin/kill -HUP $MAINPID\nUser=app\nGroup=app\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nNoNewPrivileges=true\n",
    )]);
    unit::restart_until(BEFORE, 30, || unit::answers(BEFORE_URL));
    installed
}

#[test]
fn s19_the_storys_change_is_refused_naming_the_empty_bounding_set_and_its_fix_proven() {
    guest!();
    let _unit = working_unit();
    std::fs::write("/root/colleague.conf", "[Service]\nCapabilityBoundingSet=\nProtectSystem=strict\nProtectHome=true\n")
        .expect("the change");
    let dropin = "/etc/systemd/system/app-before.service.d/colleague.conf";
    let _installed = Installed::later(dropin);
    let check = "curl -fsS -o /dev/null http://127.0.0.1:448/";
    let tried = capdisc(&["try", "/root/colleague.conf", "--unit", BEFORE, "--check", check, "--timeout", "60", "--apply", "--with-fixes"]);
    capdisc_guest_tests::report(&tried.output());
    tried
        .expect_exit(0)
        .expect_says("trial 1, the drop-in as given: FAILED")
        .expect_says("CapabilityBoundingSet: CapabilityBoundingSet= leaves CAP_NET_BIND_SERVICE out, and with it the unit's ambient CAP_NET_BIND_SERVICE, which bind needs")
        .expect_says("trial 2, with CapabilityBoundingSet=CAP_NET_BIND_SERVICE: passed")
        .expect_says("FAILED as given; app-before.service works with these fixes (proven by trial 2)")
        .expect_says("  fix: CapabilityBoundingSet=CAP_NET_BIND_SERVICE")
        .expect_says(&format!("installed {dropin} (systemd reads it)"));
    expect::equal("capdisc's runtime drop-ins left", &unit::capdisc_dropins(BEFORE), &Vec::<String>::new());
    // Installed with its proven fix: systemd reads it back, and the service serves under it.
    unit::restart_until(BEFORE, 30, || unit::answers(BEFORE_URL));
    expect::equal("CapabilityBoundingSet", unit::property(BEFORE, "CapabilityBoundingSet").as_str(), "cap_net_bind_service");
    expect::equal("ProtectSystem", unit::property(BEFORE, "ProtectSystem").as_str(), "strict");
}

#[test]
fn s20_chronys_copied_seccomp_dropin_is_fixed_by_trials() {
    guest!();
    unit::shipped("chrony.service");
    unit::restart_until("chrony.service", 30, || unit::is_active("chrony.service"));
    std::fs::write(
        "/root/chrony-guide.conf",
        "[Service]\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\nSystemCallErrorNumber=EPERM\n",
    )
    .expect("the guide's drop-in");
    let tried =
        capdisc(&["try", "/root/chrony-guide.conf", "--unit", "chrony.service", "--check", "chronyc -n tracking", "--timeout", "60"]);
    capdisc_guest_tests::report(&tried.output());
    tried
        .expect_exit(1)
        .expect_says("SystemCallFilter: clock_adjtime refused by a seccomp filter (EPERM")
        .expect_says("by SystemCallFilter=~@privileged")
        .expect_says("  fix: SystemCallFilter=@clock");
    expect::that(tried.says("works with these fixes (proven by trial"), "the fix proven by a trial", tried.output());
    expect::that(unit::is_active("chrony.service"), "chrony runs as before", unit::state("chrony.service"));
}

#[test]
fn s21_a_change_that_passes_is_installed_and_read_back() {
    guest!();
    let _unit = working_unit();
    std::fs::write("/root/tightening.conf", "[Service]\nProtectSystem=strict\nProtectHome=true\nPrivateTmp=true\n").expect("the change");
    let dropin = "/etc/systemd/system/app-before.service.d/tightening.conf";
    let _installed = Installed::later(dropin);
    let tried = capdisc(&[
        "try",
        "/root/tightening.conf",
        "--unit",
        BEFORE,
        "--check",
        "curl -fsS -o /dev/null http://127.0.0.1:448/",
        "--timeout",
        "60",
        "--apply",
    ]);
    capdisc_guest_tests::report(&tried.output());
    tried
        .expect_exit(0)
        .expect_says("try: passed: app-before.service works through")
        .expect_says("exposure (systemd-analyze security --offline, lower is better): ")
        .expect_says(&format!("installed {dropin} (systemd reads it)"));
    unit::restart_until(BEFORE, 30, || unit::answers(BEFORE_URL));
    expect::equal("PrivateTmp", unit::property(BEFORE, "PrivateTmp").as_str(), "yes");
}
