//! systemd's own score of a unit's hardening: `systemd-analyze security UNIT` (the loaded unit on
//! a live system; `--offline=true --root=ROOT` for unit files under a root), "Overall exposure
//! level" from 0 (locked down) to 10 (exposed). `apply` prints it before and after its change and
//! refuses a change that would score above `--max-exposure`.
use std::{path::Path, process::Command};

use crate::error::Error;

/// The unit's exposure as its files are, then with each of `dropins` added (one at a time), read
/// the same way: `--offline` over a copy of the unit's files (the live unit is not touched).
pub fn exposures_offline(unit: &str, dropins: &[&str]) -> Result<(f64, Vec<f64>), Error> {
    let private = crate::support::files::PrivateDir::make("exposure", 0o700)?;
    let root = &private.path;
    let measured = (|| {
        let files = super::UnitFiles::find(unit, Path::new("/"))?;
        for path in files.all() {
            let copy = root.join(path.strip_prefix("/").unwrap_or(path));
            if let Some(dir) = copy.parent() {
                std::fs::create_dir_all(dir).map_err(|err| Error::io("cannot copy the unit's files", err))?;
            }
            std::fs::copy(path, &copy).map_err(|err| Error::io("cannot copy the unit's files", err))?;
        }
        let before = exposure(unit, Some(root))?;
        let dir = root.join(format!("etc/systemd/system/{unit}.d"));
        std::fs::create_dir_all(&dir).map_err(|err| Error::io("cannot write the drop-in's copy", err))?;
        let mut after = Vec::new();
        for dropin in dropins {
            std::fs::write(dir.join("zz-capdisc-exposure.conf"), dropin)
                .map_err(|err| Error::io("cannot write the drop-in's copy", err))?;
            after.push(exposure(unit, Some(root))?);
        }
        Ok((before, after))
    })();
    drop(private);
    measured
}

/// The unit's exposure, or Err saying why systemd-analyze could not give it.
pub fn exposure(unit: &str, root: Option<&Path>) -> Result<f64, Error> {
    let mut command = Command::new("systemd-analyze");
    command.arg("security");
    if let Some(root) = root {
        command.arg("--offline=true").arg(format!("--root={}", root.display()));
    }
    command.arg(unit);
    let output = command.output().map_err(|err| Error::Kernel(format!("cannot run systemd-analyze ({err}); install systemd")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    parse(&text, unit).ok_or_else(|| {
        let said = String::from_utf8_lossy(&output.stderr);
        Error::Runtime(format!(
            "systemd-analyze security {unit} gave no exposure level ({})",
            said.trim().lines().last().unwrap_or("no output")
        ))
    })
}

/// "→ Overall exposure level for UNIT: 6.2 MEDIUM 😐" -> 6.2.
pub fn parse(text: &str, unit: &str) -> Option<f64> {
    let marker = format!("Overall exposure level for {unit}: ");
    text.lines().find_map(|line| line.split(&marker).nth(1)?.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_systemds_overall_line() {
        let text = "  NAME  DESCRIPTION  EXPOSURE\n✗ UMask=  ...  0.1\n\n→ Overall exposure level for app.service: 6.8 MEDIUM 😐\n";
        assert_eq!(super::parse(text, "app.service"), Some(6.8));
        assert_eq!(super::parse(text, "other.service"), None);
        assert_eq!(super::parse("", "app.service"), None);
    }
}
