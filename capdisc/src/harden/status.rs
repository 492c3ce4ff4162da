//! `capdisc status PID` and `capdisc decode`: a process's five capability sets decoded by name
//! (as /proc/PID/status with capsh --decode), its ids and NoNewPrivs, and what they mean.
//! The parser is kept rather than the procfs crate's: it also reads pasted text (`decode`, and
//! it is fuzzed as such), while procfs reads only a live /proc and is a large dependency for the
//! eight fields used here.
use crate::kernel::procfs;

use serde::Serialize;

use crate::{caps, error::Error};

#[derive(Debug, Serialize)]
pub struct ProcessCaps {
    pub pid: u32,
    pub name: String,
    /// Real, effective, saved, filesystem.
    pub uids: [u32; 4],
    pub gids: [u32; 4],
    pub inheritable: u64,
    pub permitted: u64,
    pub effective: u64,
    pub bounding: u64,
    pub ambient: u64,
    pub no_new_privs: Option<bool>,
}

pub fn read(pid: u32) -> Result<ProcessCaps, Error> {
    let text = procfs::status(procfs::Proc::Pid(pid))
        .map_err(|_| Error::Target(format!("no process with pid {pid}; check it with `ps -p {pid}`")))?;
    parse(pid, &text)
}

pub fn parse(pid: u32, text: &str) -> Result<ProcessCaps, Error> {
    let field = |key: &str| procfs::status_field(text, key);
    let mask = |key: &str| procfs::status_mask(text, key).ok_or_else(|| Error::Runtime(format!("/proc/{pid}/status has no {key} line")));
    let ids = |key: &str| {
        let mut ids = [0u32; 4];
        for (slot, value) in ids.iter_mut().zip(field(key).split_whitespace()) {
            *slot = value.parse().unwrap_or(0);
        }
        ids
    };
    Ok(ProcessCaps {
        pid,
        name: field("Name").to_owned(),
        uids: ids("Uid"),
        gids: ids("Gid"),
        inheritable: mask("CapInh")?,
        permitted: mask("CapPrm")?,
        effective: mask("CapEff")?,
        bounding: mask("CapBnd")?,
        ambient: mask("CapAmb")?,
        no_new_privs: field("NoNewPrivs").parse::<u8>().ok().map(|value| value == 1),
    })
}

/// What the sets mean for the process, most important first.
pub fn findings(process: &ProcessCaps) -> Vec<String> {
    let mut findings = Vec::new();
    let root = process.uids[1] == 0;
    let bind = 1u64 << caps::CAP_NET_BIND_SERVICE;
    if !root && process.effective == 0 && process.ambient == 0 {
        findings.push(format!(
            "non-root (uid {}), ambient empty, effective empty: this process cannot bind ports below 1024 or do anything else privileged",
            process.uids[1]
        ));
    } else if !root && process.effective & bind == 0 && process.bounding & bind == 0 {
        findings.push("CAP_NET_BIND_SERVICE is outside the bounding set: binding ports below 1024 fails with EACCES".into());
    }
    if process.bounding == 0 {
        findings.push(
            "the bounding set is empty: no capability can ever be gained, not even through exec of a setuid or file-capability binary"
                .into(),
        );
    }
    let lowered = process.permitted & !process.effective;
    if lowered != 0 {
        findings.push(format!("permitted but not effective (raised only on demand): {}", names(lowered)));
    }
    if !root && process.ambient != 0 {
        findings.push(format!("ambient capabilities survive exec for this non-root process: {}", names(process.ambient)));
    }
    if process.no_new_privs == Some(true) {
        findings.push("NoNewPrivs is set: exec cannot gain privileges (setuid bits and file capabilities are ignored)".into());
    }
    findings
}

pub fn render(process: &ProcessCaps) -> String {
    let mut out = format!(
        "pid {} ({})\n  uid  real {} effective {} saved {} fs {}\n  gid  real {} effective {} saved {} fs {}\n",
        process.pid,
        process.name,
        process.uids[0],
        process.uids[1],
        process.uids[2],
        process.uids[3],
        process.gids[0],
        process.gids[1],
        process.gids[2],
        process.gids[3]
    );
    for (label, mask) in [
        ("CapInh", process.inheritable),
        ("CapPrm", process.permitted),
        ("CapEff", process.effective),
        ("CapBnd", process.bounding),
        ("CapAmb", process.ambient),
    ] {
        out.push_str(&format!("  {label} {mask:016x}  {}\n", names(mask)));
    }
    out.push_str(&format!(
        "  NoNewPrivs {}\n  securebits: not exposed for other processes by /proc (see `capsh --print` in the process)\n",
        match process.no_new_privs {
            Some(true) => "1",
            Some(false) => "0",
            None => "unknown",
        }
    ));
    for finding in findings(process) {
        out.push_str(&format!("finding: {finding}\n"));
    }
    out
}

/// `CAP_A,CAP_B`; `all` for the full set the kernel knows, `all except CAP_X` when nearly full;
/// `(none)` for zero.
pub fn names(mask: u64) -> String {
    let all = crate::systemd::all_caps();
    let list = |mask: u64| caps::decode_mask(mask).into_iter().map(caps::name).collect::<Vec<_>>().join(",");
    if mask == 0 {
        "(none)".into()
    } else if mask & all == all {
        "all".into()
    } else if (all & !mask).count_ones() <= 4 && mask.count_ones() > 8 {
        format!("all except {}", list(all & !mask))
    } else {
        list(mask)
    }
}

/// `capdisc decode`: one line per mask.
pub fn decode(inputs: &[String]) -> Result<String, Error> {
    let mut out = String::new();
    // An argument may be a whole pasted block (`grep Cap /proc/PID/status`): one mask a line;
    // other lines of a pasted status file (Name:, Uid:...) are skipped.
    let lines = inputs.iter().flat_map(|input| {
        let block = input.lines().filter(|line| !line.trim().is_empty()).count() > 1;
        input.lines().filter(move |line| {
            let line = line.trim();
            let other_status_line = block && line.contains(':') && !line.starts_with("Cap") && !line.starts_with("0x");
            !line.is_empty() && !other_status_line
        })
    });
    for input in lines {
        let (label, mask) = caps::parse_mask(input).map_err(Error::Usage)?;
        let label = label.map(|label| format!("{label}: ")).unwrap_or_default();
        let decoded: Vec<String> = caps::decode_mask(mask).into_iter().map(caps::name).collect();
        out.push_str(&format!("{label}0x{mask:016x} = {}\n", if decoded.is_empty() { "(none)".into() } else { decoded.join(",") }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY: &str = "Name:\tapp\nUid:\t999\t999\t999\t999\nGid:\t999\t999\t999\t999\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n";

    #[test]
    fn the_story_process_cannot_bind() {
        let process = parse(42, STORY).expect("parse");
        let findings = findings(&process);
        assert!(findings[0].contains("cannot bind ports below 1024"), "{findings:?}");
        assert!(findings.iter().any(|f| f.contains("bounding set is empty")));
    }

    #[test]
    fn decodes_masks_and_pasted_lines() {
        let text = decode(&["0x400".into(), "CapEff:\t0000000000000400".into(), "0".into()]).expect("decode");
        assert_eq!(
            text,
            "0x0000000000000400 = CAP_NET_BIND_SERVICE\nCapEff: 0x0000000000000400 = CAP_NET_BIND_SERVICE\n0x0000000000000000 = (none)\n"
        );
        assert!(decode(&["nope".into()]).is_err());
    }

    #[test]
    fn decodes_a_pasted_block_of_status_lines() {
        let block = "Name:\tapp\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000400\nCapAmb:\t0000000000000400\n";
        let text = decode(&[block.into()]).expect("decode");
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.starts_with("CapInh: 0x0000000000000000 = (none)\nCapPrm: 0x0000000000000400 = CAP_NET_BIND_SERVICE\n"), "{text}");
    }
}
