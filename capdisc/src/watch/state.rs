//! The state directory of `watch`: one profile per target (`targets/NAME.yaml`, the usual
//! schema), the baselines in use (`baselines/NAME.yaml`) and the host-wide loss counters
//! (`watch.yaml`). Every file is replaced atomically; a restarted `watch` resumes from them, so
//! counts continue and nothing is counted twice (each run adds only what its own kernel maps
//! counted). Checks made after the last write of a run that was killed (SIGKILL) are not kept.
use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::naming::{file_name, target_of_file};
use crate::{
    error::Error,
    profile::{self, Format, Losses, Profile},
    support::files,
};

/// `watch.yaml`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HostState {
    /// Losses and skips over every run, by the profile schema's names.
    pub losses: Losses,
    /// RFC 3339: when this state was first written, and last.
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub updated: String,
}

pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// The state directory at `root`, read as it is (nothing is created yet: see
    /// [`StateDir::create`]). A path that exists and is no directory is refused here.
    pub fn at(root: &Path) -> Result<Self, Error> {
        if root.exists() && !root.is_dir() {
            return Err(Error::Usage(format!(
                "--state-dir {} is not a directory; give a directory capdisc may create and write",
                root.display()
            )));
        }
        Ok(Self { root: root.to_owned() })
    }

    /// Creates (mode 0750) the directory and its two subdirectories, once the arguments are known
    /// to be good.
    pub fn create(&self) -> Result<(), Error> {
        for dir in [self.root.clone(), self.root.join("targets"), self.root.join("baselines")] {
            fs::DirBuilder::new().recursive(true).mode(0o750).create(&dir).map_err(|err| {
                Error::input(format!("cannot create the state directory {}", dir.display()), err, "; give a writable --state-dir")
            })?;
        }
        Ok(())
    }

    /// An existing state directory (for `report`).
    pub fn existing(root: &Path) -> Result<Self, Error> {
        if let Err(err) = fs::read_dir(root) {
            if err.kind() == std::io::ErrorKind::PermissionDenied {
                return Err(Error::Usage(format!(
                    "cannot read the state directory {}: {err}; it is root's (mode 0750): run capdisc report as root",
                    root.display()
                )));
            }
        }
        if !root.join("targets").is_dir() {
            return Err(Error::Usage(format!(
                "{} is not a capdisc watch state directory (no targets/ in it); give the --state-dir of `capdisc watch`",
                root.display()
            )));
        }
        Ok(Self { root: root.to_owned() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn targets(&self) -> Result<BTreeMap<String, Profile>, Error> {
        read_profiles(&self.root.join("targets"))
    }

    pub fn baselines(&self) -> Result<BTreeMap<String, Profile>, Error> {
        read_profiles(&self.root.join("baselines"))
    }

    pub fn host(&self) -> Result<HostState, Error> {
        let path = self.root.join("watch.yaml");
        match fs::read_to_string(&path) {
            Ok(text) => serde_yaml::from_str(&text).map_err(|err| corrupt(&path, &err.to_string())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(HostState::default()),
            Err(err) => Err(corrupt(&path, &err.to_string())),
        }
    }

    pub fn write_target(&self, target: &str, profile: &Profile) -> Result<(), Error> {
        write_profile(&self.root.join("targets").join(file_name(target)), profile)
    }

    pub fn write_baseline(&self, target: &str, profile: &Profile) -> Result<(), Error> {
        write_profile(&self.root.join("baselines").join(file_name(target)), profile)
    }

    pub fn write_host(&self, host: &HostState) -> Result<(), Error> {
        let text = serde_yaml::to_string(host).map_err(|err| Error::Runtime(format!("cannot render watch.yaml: {err}")))?;
        files::write_atomic(&self.root.join("watch.yaml"), text.as_bytes())
    }
}

fn write_profile(path: &Path, profile: &Profile) -> Result<(), Error> {
    files::write_atomic(path, Format::Yaml.render(profile)?.as_bytes())
}

/// Every `*.yaml` profile of a directory, by the target its file name says.
fn read_profiles(dir: &Path) -> Result<BTreeMap<String, Profile>, Error> {
    let mut profiles = BTreeMap::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(profiles),
        Err(err) => {
            return Err(Error::input(format!("cannot read {}", dir.display()), err, "; give a --state-dir capdisc may read and write"))
        }
    };
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|entry| entry.path()).filter(|path| path.extension().is_some_and(|ext| ext == "yaml")).collect();
    paths.sort();
    for path in paths {
        let file = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        let name = target_of_file(file).ok_or_else(|| corrupt(&path, "its name is not one capdisc writes"))?;
        let profile = profile::read(&path).map_err(|err| corrupt(&path, &err.to_string()))?;
        profiles.insert(name, profile);
    }
    Ok(profiles)
}

fn corrupt(path: &Path, why: &str) -> Error {
    Error::Usage(format!("cannot resume from {}: {why}; move it away to start that target afresh", path.display()))
}
