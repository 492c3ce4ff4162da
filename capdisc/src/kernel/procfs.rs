//! The two /proc files capdisc reads about a process, each parsed in one place: `status` (its
//! `Key:\tvalue` lines: capability sets, ids, NoNewPrivs) and `cgroup` (its cgroup v2 path, the
//! `0::` line).
use std::fs;

/// Which process: a pid, or capdisc itself.
#[derive(Clone, Copy, Debug)]
pub enum Proc {
    Pid(u32),
    Own,
}

impl Proc {
    fn file(self, name: &str) -> String {
        match self {
            Proc::Pid(pid) => format!("/proc/{pid}/{name}"),
            Proc::Own => format!("/proc/self/{name}"),
        }
    }
}

/// The text of `/proc/PID/status`.
pub fn status(process: Proc) -> std::io::Result<String> {
    fs::read_to_string(process.file("status"))
}

/// The value of `Key:` in a status text, trimmed (`""` when the line is missing).
pub fn status_field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(':')).map(str::trim).unwrap_or("")
}

/// A hexadecimal mask of a status text (`CapEff`...), when the line is there.
pub fn status_mask(text: &str, key: &str) -> Option<u64> {
    u64::from_str_radix(status_field(text, key), 16).ok()
}

/// The process's cgroup v2 path relative to the cgroup v2 root (`/system.slice/app.service`),
/// from the `0::` line of `/proc/PID/cgroup`; `None` when it cannot be read or has none.
pub fn cgroup_path(process: Proc) -> Option<String> {
    let text = fs::read_to_string(process.file("cgroup")).ok()?;
    cgroup_line(&text).map(str::to_owned)
}

/// The cgroup v2 path of a `/proc/PID/cgroup` text.
pub fn cgroup_line(text: &str) -> Option<&str> {
    text.lines().find_map(|line| line.strip_prefix("0::")).map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_masks_and_the_cgroup_line() {
        let text = "Name:\tapp\nCapEff:\t0000000000000400\nNoNewPrivs:\t1\n";
        assert_eq!(status_field(text, "Name"), "app");
        assert_eq!(status_mask(text, "CapEff"), Some(0x400));
        assert_eq!(status_mask(text, "CapAmb"), None);
        assert_eq!(status_field(text, "Cap"), "", "a key is a whole key");
        assert_eq!(cgroup_line("12:pids:/x\n0::/system.slice/app.service\n"), Some("/system.slice/app.service"));
        assert_eq!(cgroup_line("12:pids:/x\n"), None);
        assert!(status(Proc::Own).is_ok_and(|text| !status_field(&text, "Uid").is_empty()));
        assert!(cgroup_path(Proc::Own).is_some_and(|path| path.starts_with('/')));
    }
}
