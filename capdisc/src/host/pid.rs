//! A running process and its tree, read from /proc.
use std::{fs, path::Path};

use crate::error::Error;

pub fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

pub fn check_exists(pid: u32) -> Result<(), Error> {
    if pid == 0 || !exists(pid) {
        return Err(Error::Target(format!("no process with pid {pid}; check the pid with `ps -p {pid}`")));
    }
    Ok(())
}

/// The process, its threads and every live descendant (their pids and thread ids).
pub fn tree(pid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    let mut pending = vec![pid];
    while let Some(process) = pending.pop() {
        if members.contains(&process) {
            continue;
        }
        members.push(process);
        let Ok(tasks) = fs::read_dir(format!("/proc/{process}/task")) else { continue };
        for task in tasks.flatten() {
            let task_path = task.path();
            if let Some(tid) = task.file_name().to_str().and_then(|name| name.parse::<u32>().ok()) {
                if tid != process {
                    members.push(tid);
                }
            }
            if let Ok(children) = fs::read_to_string(task_path.join("children")) {
                pending.extend(children.split_whitespace().filter_map(|child| child.parse::<u32>().ok()));
            }
        }
    }
    members
}

/// When the process started (clock ticks since boot, `/proc/PID/stat` field 22): the oldest of a
/// cgroup's processes is the one that started it.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: fields count from its last `)`.
    stat.rsplit_once(')')?.1.split_whitespace().nth(19)?.parse().ok()
}

/// The inode number of the initial user namespace (`PROC_USER_INIT_INO`, include/linux/proc_ns.h),
/// the same on every boot.
const HOST_USERNS_INODE: &str = "user:[4026531837]";

/// Whether the process lives in the host's (initial) user namespace.
pub fn in_host_userns(pid: u32) -> bool {
    fs::read_link(format!("/proc/{pid}/ns/user")).is_ok_and(|link| link.to_str() == Some(HOST_USERNS_INODE))
}
