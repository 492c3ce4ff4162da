//! Reading and writing profiles. Writes are atomic (a temporary file in the same directory,
//! fsync, rename), so a failure or a signal never leaves a partial profile behind.
use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use super::model::{Profile, SCHEMA_VERSION};
use crate::error::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

impl Format {
    pub fn render(self, profile: &Profile) -> Result<String, Error> {
        match self {
            Format::Yaml => serde_yaml::to_string(profile).map_err(|err| Error::Runtime(format!("cannot render the profile: {err}"))),
            Format::Json => serde_json::to_string_pretty(profile)
                .map(|text| text + "\n")
                .map_err(|err| Error::Runtime(format!("cannot render the profile: {err}"))),
        }
    }
}

/// Checks, before recording starts, that `path` can be written (so a long recording does not
/// end in an unwritable path). Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<(), Error> {
    let probe = temporary_path(path);
    let result = fs::File::create(&probe).map(drop);
    let _ = fs::remove_file(&probe);
    result.map_err(|source| Error::Output { path: path.to_path_buf(), source })
}

pub fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), Error> {
    if path.is_dir() {
        return Err(Error::Output {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory"),
        });
    }
    let temporary = temporary_path(path);
    let _ = fs::remove_file(&temporary);
    let result = (|| {
        // create_new: O_EXCL, so a symlink planted at the temporary name is never followed.
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    result.map_err(|source| {
        let _ = fs::remove_file(&temporary);
        Error::Output { path: path.to_path_buf(), source }
    })
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.capdisc-{}.tmp", std::process::id()))
}

/// Reads a profile (YAML or JSON), checking its schema version.
pub fn read(path: &Path) -> Result<Profile, Error> {
    let text = fs::read_to_string(path)
        .map_err(|err| Error::Usage(format!("cannot read profile {}: {err}", path.display())))?;
    let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|err| {
        Error::Usage(format!("{} is not a valid profile (YAML/JSON error: {err}); record a new one with `capdisc record`", path.display()))
    })?;
    match value.get("schema_version").and_then(serde_yaml::Value::as_u64) {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(version) => {
            return Err(Error::Usage(format!(
                "{} has profile schema version {version}, but this capdisc reads version {SCHEMA_VERSION}; use a matching capdisc",
                path.display()
            )))
        }
        None => return Err(Error::Usage(format!("{} is not a capdisc profile (no schema_version)", path.display()))),
    }
    let profile: Profile = serde_yaml::from_value(value)
        .map_err(|err| Error::Usage(format!("{} is not a valid capdisc profile: {err}", path.display())))?;
    for cap in profile.capabilities.iter().chain(profile.cgroups.iter().flat_map(|group| &group.capabilities)) {
        match crate::caps::number(&cap.name) {
            Some(number) if number == cap.number => {}
            Some(number) => {
                return Err(Error::Usage(format!(
                    "{}: {} has number {}, but {} is capability {number}; the profile was edited inconsistently",
                    path.display(), cap.name, cap.number, cap.name
                )))
            }
            None => {
                return Err(Error::Usage(format!(
                    "{} names an unknown capability `{}`; did you mean {}?",
                    path.display(), cap.name, crate::caps::nearest(&cap.name)
                )))
            }
        }
    }
    Ok(profile)
}
