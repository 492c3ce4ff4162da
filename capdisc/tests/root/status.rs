//! `capdisc status` and `decode` on real processes whose sets setpriv and capsh arranged (run as
//! root: setpriv changes uids).
use std::{fs, process::Command};

use crate::common::*;

fn stdout_of(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `sleep` under setpriv/capsh arguments and returns it once `sleep` runs (the sets are
/// arranged by then).
fn arranged(program: &str, args: &[&str]) -> std::process::Child {
    let child = Command::new(program).args(args).spawn().expect("spawn");
    let comm = format!("/proc/{}/comm", child.id());
    let mut child = child;
    for _ in 0..500 {
        if fs::read_to_string(&comm).is_ok_and(|name| name.trim() == "sleep") {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{program} never exec'd sleep");
}

#[test]
fn status_decodes_real_processes() {
    if skip_without_root() {
        return;
    }
    let mut bare =
        arranged("setpriv", &["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "sleep", "5"]);
    let output = capdisc().args(["status", &bare.id().to_string()]).output().expect("status");
    let text = stdout_of(&output);
    let _ = bare.kill();
    let _ = bare.wait();
    assert!(text.contains("CapBnd 0000000000000000  (none)"), "{text}");
    assert!(
        text.contains("finding: non-root (uid 65534), ambient empty, effective empty: this process cannot bind ports below 1024"),
        "{text}"
    );

    let mut ambient = arranged(
        "capsh",
        &["--keep=1", "--user=nobody", "--inh=cap_net_bind_service", "--addamb=cap_net_bind_service", "--", "-c", "exec sleep 5"],
    );
    let output = capdisc().args(["status", &ambient.id().to_string(), "--json"]).output().expect("status");
    let _ = ambient.kill();
    let _ = ambient.wait();
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(value["process"]["ambient"], 0x400, "{value}");
    assert_eq!(value["process"]["effective"], 0x400, "{value}");
    assert!(value["findings"].to_string().contains("ambient capabilities survive exec"), "{value}");

    let decoded = capdisc().args(["decode", "0x400", "CapEff:\t0000000000003000"]).output().expect("decode");
    assert_eq!(stdout_of(&decoded), "0x0000000000000400 = CAP_NET_BIND_SERVICE\nCapEff: 0x0000000000003000 = CAP_NET_ADMIN,CAP_NET_RAW\n");
    let bad = capdisc().args(["decode", "cap_net_raw"]).output().expect("decode");
    assert_eq!(bad.status.code(), Some(2));
}
