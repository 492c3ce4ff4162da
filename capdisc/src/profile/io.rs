//! Reading profiles (checking the schema version and capability names) and rendering them as
//! YAML or JSON; writing them is `files::write_atomic`.
use std::{fs, path::Path};

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
            Format::Yaml => serde_yaml::to_string(profile).map_err(|err| Error::io("cannot render the profile", err)),
            Format::Json => {
                serde_json::to_string_pretty(profile).map(|text| text + "\n").map_err(|err| Error::io("cannot render the profile", err))
            }
        }
    }
}

/// The largest profile capdisc reads: a host-wide recording of weeks is a few MiB; anything near
/// this is not a profile, and reading it whole could exhaust memory.
pub const MAX_PROFILE_BYTES: u64 = 64 << 20;

/// Reads a profile (YAML or JSON), checking its size, schema version and capability names.
/// (YAML alias bombs are stopped by serde_yaml's repetition limit, reported as invalid YAML.)
pub fn read(path: &Path) -> Result<Profile, Error> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(|err| Error::input(format!("cannot read profile {}", path.display()), err, ""))?;
    let mut text = String::new();
    file.take(MAX_PROFILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|err| Error::input(format!("cannot read profile {}", path.display()), err, ""))?;
    if text.len() as u64 > MAX_PROFILE_BYTES {
        return Err(Error::Usage(format!(
            "{} is larger than {} MiB, too large for a capdisc profile; give the profile `capdisc record` wrote",
            path.display(),
            MAX_PROFILE_BYTES >> 20
        )));
    }
    parse(&text, &path.display().to_string())
}

/// Parses profile text (YAML or JSON); `source` names it in errors. Never panics on any input
/// (fuzzed: `cargo xtask fuzz`).
pub fn parse(text: &str, source: &str) -> Result<Profile, Error> {
    let value: serde_yaml::Value = serde_yaml::from_str(text).map_err(|err| {
        Error::Usage(format!("{source} is not a valid profile (YAML/JSON error: {err}); record a new one with `capdisc record`"))
    })?;
    match value.get("schema_version").and_then(serde_yaml::Value::as_u64) {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(version) => {
            return Err(Error::Usage(format!(
                "{} has profile schema version {version}, but this capdisc reads version {SCHEMA_VERSION}; use a matching capdisc",
                source
            )))
        }
        None => return Err(Error::Usage(format!("{} is not a capdisc profile (no schema_version)", source))),
    }
    let profile: Profile =
        serde_yaml::from_value(value).map_err(|err| Error::Usage(format!("{} is not a valid capdisc profile: {err}", source)))?;
    for cap in profile.capabilities.iter().chain(profile.cgroups.iter().flat_map(|group| &group.capabilities)) {
        match crate::caps::number(&cap.name) {
            Some(number) if number == cap.number => {}
            Some(number) => {
                return Err(Error::Usage(format!(
                    "{}: {} has number {}, but {} is capability {number}; the profile was edited inconsistently",
                    source, cap.name, cap.number, cap.name
                )))
            }
            None => {
                return Err(Error::Usage(format!(
                    "{} names an unknown capability `{}`; did you mean {}?",
                    source,
                    cap.name,
                    crate::caps::nearest(&cap.name)
                )))
            }
        }
    }
    super::proof::check(&profile, source)?;
    Ok(profile)
}
