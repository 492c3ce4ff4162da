//! File capabilities: one `setcap` command per recorded executable, with the required
//! capabilities that executable itself used, on the real binary (symlinks resolved). Where
//! file capabilities cannot work, no command is written, and a comment says why: a script (the
//! kernel ignores file capabilities of `#!` files), a relative path (as given to execve), or an
//! executable whose path was not recorded.
use std::{collections::BTreeMap, fs, io::Read, path::Path};

use super::Recommendation;
use crate::profile::Profile;

pub fn render(profile: &Profile, recommendation: &Recommendation) -> String {
    let mut per_exe: BTreeMap<Option<String>, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for cap in &recommendation.evidence {
        for command in &cap.commands {
            let entry = per_exe.entry(command.exe.clone()).or_default();
            entry.0.push(cap.name.to_ascii_lowercase());
            entry.1.push(command.comm.clone());
        }
    }
    let mut out = format!("# file capabilities for the executables recorded in {}\n", profile.target.description);
    for left_out in &recommendation.withheld {
        out.push_str(&format!("# {}\n", left_out.describe()));
    }
    if per_exe.is_empty() {
        out.push_str(if recommendation.withheld.is_empty() {
            "# no capability was required: nothing to set\n"
        } else {
            "# nothing else is granted: nothing to set\n"
        });
    }
    for (exe, (mut caps, comms)) in per_exe {
        caps.sort();
        caps.dedup();
        let caps = caps.join(",");
        match exe.as_deref().map(target) {
            Some(Target::Binary { path, resolved_from }) => {
                if let Some(link) = resolved_from {
                    out.push_str(&format!("# {link} is a symlink to {path}: file capabilities go on the real file\n"));
                }
                out.push_str(&format!("setcap {caps}=ep {path}\n"));
            }
            Some(Target::Script { path }) => out.push_str(&format!(
                "# not for {path}: it is a script (#!), and the kernel ignores file capabilities of scripts; give {caps} to the service instead (`capdisc generate --format systemd`, AmbientCapabilities=)\n"
            )),
            Some(Target::Relative { path }) => out.push_str(&format!(
                "# not for {path}: a relative path (as the command was started); run setcap {caps}=ep on the absolute path of the binary\n"
            )),
            None => out.push_str(&format!(
                "# not for {}: its executable path was not recorded; run setcap {caps}=ep on the binary itself (not a symlink or script)\n",
                comms.first().map(String::as_str).unwrap_or("?")
            )),
        }
    }
    out
}

enum Target {
    Binary { path: String, resolved_from: Option<String> },
    Script { path: String },
    Relative { path: String },
}

/// What setcap can act on for a recorded executable path. Paths are checked on this machine when
/// they exist here (a profile may come from another host, whose paths are kept as they are).
fn target(exe: &str) -> Target {
    if !exe.starts_with('/') {
        return Target::Relative { path: exe.to_owned() };
    }
    let Ok(real) = fs::canonicalize(exe) else {
        return Target::Binary { path: exe.to_owned(), resolved_from: None };
    };
    let real_text = real.display().to_string();
    if is_script(&real) {
        return Target::Script { path: exe.to_owned() };
    }
    let resolved_from = (real_text != exe).then(|| exe.to_owned());
    Target::Binary { path: real_text, resolved_from }
}

fn is_script(path: &Path) -> bool {
    let mut head = [0u8; 2];
    fs::File::open(path).and_then(|mut file| file.read_exact(&mut head)).is_ok() && &head == b"#!"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_scripts_and_relative_paths_get_no_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let binary = dir.path().join("real-binary");
        fs::write(&binary, b"\x7fELF....").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&binary, &link).expect("symlink");
        let script = dir.path().join("run.sh");
        fs::write(&script, b"#!/bin/sh\nexec true\n").expect("write");
        let real = fs::canonicalize(&binary).expect("canonical").display().to_string();
        assert!(matches!(target(&link.display().to_string()), Target::Binary { path, resolved_from: Some(_) } if path == real));
        assert!(matches!(target(&script.display().to_string()), Target::Script { .. }));
        assert!(matches!(target("./app"), Target::Relative { .. }));
        assert!(matches!(target("/not/on/this/host"), Target::Binary { resolved_from: None, .. }));
    }
}
