//! A unit's capability configuration from its files, resolved as systemd does: the unit file
//! from the first directory that has it (/etc over /run over /usr/local/lib over /usr/lib), then
//! drop-ins (`UNIT.d/*.conf` and `service.d/*.conf`) from every directory, one per file name
//! (the higher-priority directory wins), applied in lexical order of file name.
use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use super::{
    capset::{all_caps, CapSetBuilder},
    implicit::IMPLICIT_DROPS,
    names::{is_root_user, unit_name},
};
use crate::{caps, error::Error};

/// Unit directories in priority order, relative to the root.
const UNIT_DIRS: [&str; 5] =
    ["etc/systemd/system", "run/systemd/system", "usr/local/lib/systemd/system", "usr/lib/systemd/system", "lib/systemd/system"];

#[derive(Debug)]
pub struct UnitFiles {
    pub name: String,
    pub main: PathBuf,
    pub dropins: Vec<PathBuf>,
}

impl UnitFiles {
    pub fn find(name: &str, root: &Path) -> Result<Self, Error> {
        let name = unit_name(name);
        let main = UNIT_DIRS.iter().map(|dir| root.join(dir).join(&name)).find(|path| path.exists()).ok_or_else(|| {
            let looked: Vec<String> = UNIT_DIRS.iter().map(|dir| format!("/{dir}")).collect();
            Error::Usage(format!("unit {name} not found under {} (looked in {})", root.display(), looked.join(", ")))
        })?;
        if fs::read_link(&main).is_ok_and(|target| target == Path::new("/dev/null")) {
            return Err(Error::Usage(format!("unit {name} is masked ({} -> /dev/null)", main.display())));
        }
        let kind = name.rsplit('.').next().unwrap_or("service");
        let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in UNIT_DIRS {
            for folder in [format!("{name}.d"), format!("{kind}.d")] {
                let Ok(entries) = fs::read_dir(root.join(dir).join(folder)) else { continue };
                for entry in entries.flatten() {
                    let file_name = entry.file_name().to_string_lossy().into_owned();
                    if file_name.ends_with(".conf") {
                        by_name.entry(file_name).or_insert_with(|| entry.path());
                    }
                }
            }
        }
        Ok(Self { name, main, dropins: by_name.into_values().collect() })
    }

    /// A unit file given by path, with drop-ins from `PATH.d/*.conf` beside it.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        if path.is_dir() {
            return Err(Error::Usage(format!(
                "{} is a directory, not a unit file; give the unit file itself (its drop-ins are read from FILE.d/ beside it)",
                path.display()
            )));
        }
        if !path.is_file() {
            return Err(Error::Usage(format!("no unit file {}", path.display())));
        }
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let mut dropins: Vec<PathBuf> = fs::read_dir(path.with_file_name(format!("{name}.d")))
            .map(|entries| {
                entries.flatten().map(|entry| entry.path()).filter(|path| path.extension().is_some_and(|ext| ext == "conf")).collect()
            })
            .unwrap_or_default();
        dropins.sort_by_key(|path| path.file_name().map(|name| name.to_os_string()));
        Ok(Self { name, main: path.to_path_buf(), dropins })
    }

    pub fn all(&self) -> impl Iterator<Item = &PathBuf> {
        std::iter::once(&self.main).chain(&self.dropins)
    }
}

/// The capability configuration systemd would apply.
#[derive(Debug, Default)]
pub struct Effective {
    pub unit: String,
    pub files: Vec<PathBuf>,
    /// Bounding set after implicit drops; all capabilities when never assigned.
    pub bounding: u64,
    pub bounding_assigned: bool,
    /// Ambient set as declared (before systemd intersects it with the bounding set).
    pub ambient: u64,
    pub user: Option<String>,
    pub dynamic_user: bool,
    pub no_new_privileges: bool,
    pub secure_bits: Option<String>,
    /// Options that removed capabilities implicitly, with what they removed.
    pub implicit: Vec<(String, u64)>,
    /// (setting, word) pairs systemd ignores silently.
    pub ignored_names: Vec<(String, String)>,
    /// Commands with the `+` prefix: they run with full privileges, ignoring these settings.
    pub privileged_commands: Vec<String>,
    /// The `ExecStart=` with a `!` or `+` prefix, if any: its command runs with root credentials
    /// whatever `User=` says (`!`: the capability settings still apply; `+`: nothing applies).
    pub root_exec_start: Option<String>,
    /// Where the view came from: "unit files" or "systemd (systemctl show)".
    pub source: String,
    /// Unit text that systemd reads differently from what it seems to say (a malformed section
    /// header, an assignment outside any section): file, line and what is wrong.
    pub anomalies: Vec<String>,
    /// capdisc runtime drop-ins no live capdisc owns.
    pub leftovers: Vec<PathBuf>,
    /// Read from the running systemd (`systemctl show`): a leftover is put back with `capdisc
    /// restore`; offline (`--root`, no systemd) it is a file to delete.
    pub live: bool,
}

impl Effective {
    pub fn non_root(&self) -> bool {
        self.root_exec_start.is_none() && (self.dynamic_user || self.user.as_deref().is_some_and(|user| !is_root_user(user)))
    }

    /// The `ExecStart=+...` line, when the service's main command runs with full privileges:
    /// `CapabilityBoundingSet=` does not apply to it, so no trial can prove a set for it.
    pub fn unconfinable_exec_start(&self) -> Option<&str> {
        self.privileged_commands.iter().find(|command| command.starts_with("ExecStart=")).map(String::as_str)
    }

    /// What the service's processes can actually hold: the bounding set for root; for a
    /// non-root user, the ambient capabilities that survive the bounding set.
    pub fn usable(&self) -> u64 {
        if self.non_root() {
            self.ambient & self.bounding
        } else {
            self.bounding
        }
    }
}

pub fn resolve(files: &UnitFiles) -> Result<Effective, Error> {
    let mut texts = Vec::new();
    for path in files.all() {
        let text = fs::read_to_string(path).map_err(|err| Error::input(format!("cannot read {}", path.display()), err, ""))?;
        texts.push((path.clone(), text));
    }
    Ok(resolve_texts(&files.name, &texts))
}

/// The configuration systemd would apply from a unit's texts (the unit file, then its drop-ins
/// in order). Never panics on any input (fuzzed: `cargo xtask fuzz`).
pub fn resolve_texts(unit: &str, texts: &[(PathBuf, String)]) -> Effective {
    let mut bounding = CapSetBuilder::default();
    let mut ambient = CapSetBuilder::default();
    let mut effective = Effective { unit: unit.to_owned(), source: "unit files".into(), ..Effective::default() };
    let mut implicit: BTreeMap<&str, bool> = BTreeMap::new();
    for (path, text) in texts {
        effective.files.push(path.clone());
        let (settings, anomalies) = service_settings(text);
        effective.anomalies.extend(anomalies.into_iter().map(|anomaly| format!("{}: {anomaly}", path.display())));
        for (key, value) in settings {
            match key.as_str() {
                "CapabilityBoundingSet" => {
                    bounding.apply(&value);
                    effective.ignored_names.extend(bounding.ignored.drain(..).map(|word| (key.clone(), word)));
                }
                "AmbientCapabilities" => {
                    ambient.apply(&value);
                    effective.ignored_names.extend(ambient.ignored.drain(..).map(|word| (key.clone(), word)));
                }
                "User" => effective.user = (!value.is_empty()).then_some(value),
                "DynamicUser" => effective.dynamic_user = yes(&value),
                "NoNewPrivileges" => effective.no_new_privileges = yes(&value),
                "SecureBits" => effective.secure_bits = (!value.is_empty()).then_some(value),
                "ExecStart" | "ExecStartPre" | "ExecStartPost" | "ExecReload" | "ExecStop" | "ExecStopPost" => {
                    let prefix: String = value.chars().take_while(|c| "@-:+!".contains(*c)).collect();
                    if prefix.contains('+') {
                        effective.privileged_commands.push(format!("{key}={value}"));
                    }
                    if key == "ExecStart" {
                        effective.root_exec_start = (prefix.contains('+') || prefix.contains('!')).then(|| format!("{key}={value}"));
                    }
                }
                other => {
                    if let Some((option, _)) = IMPLICIT_DROPS.iter().find(|(option, _)| *option == other) {
                        implicit.insert(option, yes(&value));
                    }
                }
            }
        }
    }
    effective.bounding_assigned = bounding.value().is_some();
    effective.bounding = bounding.value().unwrap_or_else(all_caps);
    effective.ambient = ambient.value().unwrap_or(0);
    for (option, dropped) in IMPLICIT_DROPS {
        if implicit.get(option).copied().unwrap_or(false) {
            let mask = dropped.iter().filter_map(|name| caps::number(name)).fold(0u64, |mask, cap| mask | 1 << cap);
            effective.bounding &= !mask;
            effective.implicit.push((format!("{option}=yes"), mask));
        }
    }
    effective
}

/// Every `[Service]` assignment of a unit text, in order (continuation lines joined).
pub fn service_assignments(text: &str) -> Vec<(String, String)> {
    service_settings(text).0
}

/// Every `[Service]` assignment of `key` in the unit's files, in the order systemd reads them
/// (the unit file, then its drop-ins), with the file each is in. Unreadable files are skipped.
pub fn assignments(files: &UnitFiles, key: &str) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for path in files.all() {
        let Ok(text) = fs::read_to_string(path) else { continue };
        let (settings, _) = service_settings(&text);
        found.extend(settings.into_iter().filter(|(name, _)| name == key).map(|(_, value)| (path.clone(), value)));
    }
    found
}

/// `[Service]` settings in file order, continuation lines joined, and the lines systemd would
/// read differently from what they seem to say.
fn service_settings(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut settings = Vec::new();
    let mut anomalies = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if pending.is_empty() && (line.starts_with('#') || line.starts_with(';') || line.is_empty()) {
            continue;
        }
        if let Some(continued) = line.strip_suffix('\\') {
            pending.push_str(continued);
            pending.push(' ');
            continue;
        }
        let full = std::mem::take(&mut pending) + line;
        let number = index + 1;
        if full.starts_with('[') && full.ends_with(']') {
            section = full[1..full.len() - 1].to_owned();
        } else if full.starts_with('[') {
            // systemd rejects the header; what follows does not belong to the section it seems to.
            anomalies.push(format!("line {number}: malformed section header `{full}`; systemd ignores it and what follows"));
            section = String::from("(invalid)");
        } else if section.is_empty() {
            anomalies.push(format!("line {number}: `{full}` is outside any section; systemd ignores it"));
        } else if !full.contains('=') {
            anomalies.push(format!("line {number}: `{full}` is not an assignment; systemd ignores it"));
        } else if section == "Service" {
            if let Some((key, value)) = full.split_once('=') {
                settings.push((key.trim().to_owned(), value.trim().to_owned()));
            }
        }
    }
    (settings, anomalies)
}

fn yes(value: &str) -> bool {
    matches!(value.to_ascii_lowercase().as_str(), "yes" | "true" | "1" | "on")
}

#[cfg(test)]
mod tests {
    use super::*;

    const STORY_BROKEN: &str = "[Unit]\nDescription=API service\n[Service]\nExecStart=/usr/local/bin/app\nUser=app\nGroup=app\nAmbientCapabilities=CAP_NET_BIND_SERVICE\nCapabilityBoundingSet=\nProtectSystem=strict\nProtectHome=true\nNoNewPrivileges=true\n";

    fn resolve_text(main: &str, dropins: &[(&str, &str)]) -> Effective {
        let dir = tempfile::tempdir().expect("tempdir");
        let unit_dir = dir.path().join("etc/systemd/system");
        fs::create_dir_all(unit_dir.join("app.service.d")).expect("mkdir");
        fs::write(unit_dir.join("app.service"), main).expect("write");
        for (name, text) in dropins {
            fs::write(unit_dir.join("app.service.d").join(name), text).expect("write");
        }
        resolve(&UnitFiles::find("app", dir.path()).expect("find")).expect("resolve")
    }

    #[test]
    fn the_story_unit_has_an_empty_bounding_set_and_a_dropped_ambient_cap() {
        let effective = resolve_text(STORY_BROKEN, &[]);
        assert_eq!(effective.bounding, 0);
        assert_eq!(effective.ambient, 1 << 10);
        assert!(effective.non_root());
        assert_eq!(effective.usable(), 0);
    }

    #[test]
    fn dropins_apply_in_lexical_order_after_the_unit() {
        let effective = resolve_text(
            "[Service]\nCapabilityBoundingSet=CAP_CHOWN CAP_NET_RAW\n",
            &[
                ("20-more.conf", "[Service]\nCapabilityBoundingSet=CAP_KILL\n"),
                ("10-less.conf", "[Service]\nCapabilityBoundingSet=~CAP_NET_RAW\n"),
            ],
        );
        assert_eq!(effective.bounding, (1 << 0) | (1 << 5), "~NET_RAW first (10-), then OR KILL (20-)");
    }

    #[test]
    fn implicit_drops_and_privileged_commands_are_seen() {
        let effective = resolve_text("[Service]\nProtectClock=yes\nExecStartPre=+/bin/setup\nExecStart=/bin/app\n", &[]);
        assert_eq!(effective.bounding & (1 << 25), 0, "CAP_SYS_TIME dropped");
        assert!(!effective.bounding_assigned);
        assert_eq!(effective.privileged_commands, vec!["ExecStartPre=+/bin/setup"]);
        assert_eq!(effective.unconfinable_exec_start(), None, "a privileged ExecStartPre= leaves the main command provable");
        let full = resolve_text("[Service]\nExecStart=-+/bin/app --serve\n", &[]);
        assert_eq!(full.unconfinable_exec_start(), Some("ExecStart=-+/bin/app --serve"));
        assert!(effective.root_exec_start.is_none(), "only ExecStart= decides who the service runs as");
        let chrony = resolve_text("[Service]\nUser=_chrony\nExecStart=!/usr/sbin/chronyd -F 1\n", &[]);
        assert_eq!(chrony.root_exec_start.as_deref(), Some("ExecStart=!/usr/sbin/chronyd -F 1"));
        assert!(!chrony.non_root(), "`!` runs it as root whatever User= says");
    }

    #[test]
    fn text_systemd_reads_differently_is_reported() {
        let effective =
            resolve_text("CapabilityBoundingSet=\n[Service\nUser=app\n[Service]\nAmbientCapabilities\nExecStart=/bin/app\n", &[]);
        let text = effective.anomalies.join("\n");
        assert!(text.contains("line 1: `CapabilityBoundingSet=` is outside any section"), "{text}");
        assert!(text.contains("line 2: malformed section header `[Service`"), "{text}");
        assert!(text.contains("line 5: `AmbientCapabilities` is not an assignment"), "{text}");
        assert_eq!(effective.user, None, "User=app under the broken header is not read");
    }

    #[test]
    fn higher_priority_directories_win_for_the_same_dropin_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (base, text) in
            [("usr/lib/systemd/system", "CapabilityBoundingSet=CAP_KILL"), ("etc/systemd/system", "CapabilityBoundingSet=CAP_CHOWN")]
        {
            let d = dir.path().join(base).join("app.service.d");
            fs::create_dir_all(&d).expect("mkdir");
            fs::write(d.join("50-caps.conf"), format!("[Service]\n{text}\n")).expect("write");
        }
        fs::write(dir.path().join("usr/lib/systemd/system/app.service"), "[Service]\nExecStart=/bin/app\n").expect("write");
        let effective = resolve(&UnitFiles::find("app.service", dir.path()).expect("find")).expect("resolve");
        assert_eq!(effective.bounding, 1, "/etc's 50-caps.conf masks /usr/lib's");
    }
}
