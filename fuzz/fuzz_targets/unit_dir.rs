//! The unit directories `apply` and `lint --root` read back from disk: a unit and its drop-ins,
//! named and written from the input (NUL-separated: the unit's text, then drop-in name and text
//! pairs), found under a root as systemd orders them (/etc over /run over /usr/lib; drop-ins by
//! name) and resolved. No input may panic.
#![no_main]
use capdisc::systemd::{resolve, UnitFiles};
use libfuzzer_sys::fuzz_target;

const DIRS: [&str; 3] = ["etc/systemd/system", "run/systemd/system", "usr/lib/systemd/system"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let Ok(root) = tempfile::tempdir() else { return };
    let unit = parts.next().unwrap_or_default();
    let main = root.path().join(DIRS[unit.len() % DIRS.len()]);
    if std::fs::create_dir_all(&main).is_err() || std::fs::write(main.join("app.service"), unit).is_err() {
        return;
    }
    let mut index = 0;
    while let (Some(name), Some(body)) = (parts.next(), parts.next()) {
        // Drop-in names as a directory listing gives them: one path component, any bytes else.
        let name: String = name.chars().filter(|c| *c != '/').take(64).collect();
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        let dir = root.path().join(DIRS[index % DIRS.len()]).join("app.service.d");
        index += 1;
        if std::fs::create_dir_all(&dir).is_ok() {
            let _ = std::fs::write(dir.join(format!("{name}.conf")), body);
        }
    }
    if let Ok(files) = UnitFiles::find("app", root.path()) {
        if let Ok(effective) = resolve(&files) {
            let findings = capdisc::harden::lint::lint(&effective, None);
            let _ = capdisc::harden::lint::render(&effective, &findings);
        }
    }
});
