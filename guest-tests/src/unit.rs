//! A systemd unit as the tests look at it, and putting it back to how the guest shipped it.
use capdisc::kernel::procfs;

use crate::command::{run, Run};
use crate::wait;

/// `systemctl ARGS`.
pub fn systemctl(args: &[&str]) -> Run {
    run("systemctl", args)
}

/// `systemctl is-active UNIT`.
pub fn state(unit: &str) -> String {
    systemctl(&["is-active", unit]).stdout.trim().to_owned()
}

pub fn is_active(unit: &str) -> bool {
    state(unit) == "active"
}

/// `systemctl show -p PROPERTY --value UNIT`.
pub fn property(unit: &str, property: &str) -> String {
    systemctl(&["show", "-p", property, "--value", unit]).stdout.trim().to_owned()
}

/// The unit's main process, if it has one.
pub fn main_pid(unit: &str) -> Option<u32> {
    property(unit, "MainPID").parse().ok().filter(|pid| *pid != 0)
}

/// A line of `/proc/PID/status` (`CapBnd`, `CapAmb`...) of the unit's main process, or "".
pub fn status_field(unit: &str, field: &str) -> String {
    let Some(pid) = main_pid(unit) else { return String::new() };
    crate::container::caps_of(&pid.to_string(), field)
}

/// The main process's `/proc/PID/status`, its fields by name, read at once (None without one).
pub fn main_status(unit: &str) -> Option<std::collections::BTreeMap<String, String>> {
    let status = procfs::status(procfs::Proc::Pid(main_pid(unit)?)).ok()?;
    Some(status.lines().filter_map(|line| line.split_once(':')).map(|(key, value)| (key.to_owned(), value.trim().to_owned())).collect())
}

/// The main process's bounding set as the kernel shows it (`000001ffffffffff`).
pub fn capbnd(unit: &str) -> String {
    status_field(unit, "CapBnd")
}

/// The unit's journal, messages only.
pub fn journal(unit: &str) -> String {
    run("journalctl", &["-u", unit, "--no-pager", "-o", "cat"]).stdout
}

/// `systemd-analyze security` of a loaded unit (or, `offline`, of a unit file), its overall
/// exposure level.
pub fn exposure(unit_or_file: &str, offline: bool) -> Option<f64> {
    let args: Vec<&str> = if offline { vec!["security", "--offline=true", unit_or_file] } else { vec!["security", unit_or_file] };
    exposure_of(&run("systemd-analyze", &args).stdout)
}

/// The number in "Overall exposure level for UNIT: 9.6 UNSAFE".
pub fn exposure_of(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.split_once("Overall exposure level for ")?.1.split_once(": ")?.1.split_whitespace().next()?.parse().ok())
}

/// capdisc's drop-ins of `unit`: the installed one and the runtime ones (permissive, trial).
pub fn capdisc_dropins(unit: &str) -> Vec<String> {
    let mut found = Vec::new();
    for dir in [format!("/etc/systemd/system/{unit}.d"), format!("/run/systemd/system/{unit}.d")] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains("capdisc") {
                found.push(format!("{dir}/{name}"));
            }
        }
    }
    found
}

/// Puts `unit` back as the guest shipped it: capdisc's drop-ins removed, reloaded, stopped and
/// its failure forgotten (the fixture every test that changes a unit starts from).
pub fn shipped(unit: &str) {
    let dropins = capdisc_dropins(unit);
    for path in &dropins {
        std::fs::remove_file(path).unwrap_or_else(|err| panic!("cannot remove {path}: {err}"));
    }
    if !dropins.is_empty() {
        systemctl(&["daemon-reload"]);
    }
    systemctl(&["stop", unit]);
    systemctl(&["reset-failed", unit]);
}

/// Starts (or restarts) `unit` and waits until `ready` holds (`seconds` at most), or panics
/// with the unit's state and journal.
pub fn restart_until(unit: &str, seconds: u64, ready: impl FnMut() -> bool) {
    systemctl(&["restart", unit]);
    wait::must(seconds, &format!("{unit} restarted and ready"), ready, || {
        format!("{} ({})\n{}", state(unit), property(unit, "Result"), tail(&journal(unit), 15))
    });
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `curl` of a local URL: the HTTP status ("000" when nothing answered) and the body.
pub fn http(url: &str) -> (String, String) {
    let body = run("curl", &["-s", "--max-time", "5", "-o", "/tmp/capdisc-http-body", "-w", "%{http_code}", url]);
    let text = std::fs::read_to_string("/tmp/capdisc-http-body").unwrap_or_default();
    (body.stdout.trim().to_owned(), text)
}

/// Whether `url` answers 2xx.
pub fn answers(url: &str) -> bool {
    http(url).0.starts_with('2')
}

/// Now, as journalctl's `--since` reads it (`@SECONDS.MICROS`): [`journal_after`] and
/// [`journal_export`] read only what came later. (Not a cursor: journalctl 252 with a match
/// and `--after-cursor` skips the first entry that matches.)
pub fn journal_mark() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    format!("@{}.{:06}", now.as_secs(), now.subsec_micros())
}

/// The unit's journal since `mark`, messages only.
pub fn journal_after(unit: &str, mark: &str) -> String {
    run("journalctl", &["-u", unit, "--no-pager", "-o", "cat", &format!("--since={mark}")]).stdout
}

/// The journal's entries since `mark` that have every field of `matches` (`MESSAGE_ID=...`),
/// each as its text fields (`PRIORITY` -> `3`).
pub fn journal_export(matches: &[&str], mark: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let since = format!("--since={mark}");
    let mut args = vec!["-o", "export", "--no-pager", since.as_str()];
    args.extend_from_slice(matches);
    let export = run("journalctl", &args).stdout;
    export
        .split("\n\n")
        .map(|entry| entry.lines().filter_map(|line| line.split_once('=')).map(|(key, value)| (key.to_owned(), value.to_owned())).collect())
        .filter(|entry: &std::collections::BTreeMap<String, String>| !entry.is_empty())
        .collect()
}

/// Files a test wrote (units, drop-ins), removed when it ends however it ends, with systemd
/// reloaded.
pub struct Installed(Vec<String>);

impl Installed {
    /// Writes each (path, text) and reloads systemd.
    pub fn new(files: &[(&str, &str)]) -> Installed {
        for (path, text) in files {
            if let Some(dir) = std::path::Path::new(path).parent() {
                std::fs::create_dir_all(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display()));
            }
            std::fs::write(path, text).unwrap_or_else(|err| panic!("{path}: {err}"));
        }
        systemctl(&["daemon-reload"]).expect_exit(0);
        Installed(files.iter().map(|(path, _)| (*path).to_owned()).collect())
    }

    /// A file something else will write (capdisc), removed as these are.
    pub fn later(path: &str) -> Installed {
        Installed(vec![path.to_owned()])
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
        systemctl(&["daemon-reload"]);
    }
}
