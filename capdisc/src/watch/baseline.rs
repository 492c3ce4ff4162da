//! Each target's baseline: what it is allowed to use without raising creep. From `--baseline`
//! (one profile for every target, the matching part of an `--all` profile, or a directory of
//! `NAME.yaml`), else the baseline an earlier `--learn` wrote to the state directory, else
//! learned now: what the target uses during its first `--learn` window (from when `watch` first
//! saw it, so a unit installed later gets its own window).
use std::{
    collections::{BTreeMap, BTreeSet},
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use super::naming::file_name;
use crate::{error::Error, profile::Profile};

enum Given {
    None,
    File(PathBuf, Box<Profile>),
    Dir(PathBuf),
}

/// A target's standing.
pub enum Standing<'a> {
    /// Judged against this baseline.
    Judged(&'a Profile),
    /// Learning until then.
    Learning(SystemTime),
    /// No baseline and nothing to learn it from: counted, never judged.
    Unjudged,
}

pub struct Baselines {
    given: Given,
    /// Use a given baseline that lost checks (`--allow-lossy`).
    allow_lossy: bool,
    learn: Option<Duration>,
    known: BTreeMap<String, Profile>,
    /// Targets whose given baseline was looked for and not found (said once).
    missing: BTreeSet<String>,
}

impl Baselines {
    /// `learned`: the baselines an earlier run wrote to the state directory.
    /// A given baseline that lost checks under-states what the service uses (creep would be
    /// over-reported): refused unless `allow_lossy`.
    pub fn new(path: Option<&Path>, learn: Option<Duration>, learned: BTreeMap<String, Profile>, allow_lossy: bool) -> Result<Self, Error> {
        let given = match path {
            None => Given::None,
            Some(dir) if dir.is_dir() => Given::Dir(dir.to_owned()),
            Some(file) => {
                let profile = crate::profile::read(file)?;
                complete(&profile, file, allow_lossy)?;
                Given::File(file.to_owned(), Box::new(profile))
            }
        };
        if matches!(given, Given::None) && learn.is_none() && learned.is_empty() {
            return Err(Error::Usage(
                "watch needs a baseline to judge creep against: give --baseline PROFILE|DIR, or --learn DURATION to learn one".into(),
            ));
        }
        Ok(Self { given, allow_lossy, learn, known: learned, missing: BTreeSet::new() })
    }

    /// Where the target stands, looking its given baseline up the first time it is asked.
    /// `seen_at`: when `watch` first saw the target (the start of its learning window).
    pub fn standing(&mut self, target: &str, seen_at: SystemTime) -> Result<Standing<'_>, Error> {
        if !self.known.contains_key(target) && !self.missing.contains(target) {
            match self.lookup(target)? {
                Some(profile) => {
                    self.known.insert(target.to_owned(), profile);
                }
                None => {
                    self.missing.insert(target.to_owned());
                }
            }
        }
        if let Some(profile) = self.known.get(target) {
            return Ok(Standing::Judged(profile));
        }
        Ok(match self.learn {
            Some(window) => Standing::Learning(seen_at + window),
            None => Standing::Unjudged,
        })
    }

    fn lookup(&self, target: &str) -> Result<Option<Profile>, Error> {
        match &self.given {
            Given::None => Ok(None),
            Given::File(_, profile) if profile.cgroups.is_empty() => Ok(Some((**profile).clone())),
            // An `--all` profile: the part of this unit, when it has one.
            Given::File(_, profile) => Ok(profile.for_target(Some(target)).ok()),
            Given::Dir(dir) => {
                for candidate in [dir.join(file_name(target)), dir.join(format!("{target}.yaml"))] {
                    if candidate.is_file() {
                        let profile = crate::profile::read(&candidate)?;
                        complete(&profile, &candidate, self.allow_lossy)?;
                        return Ok(Some(profile));
                    }
                }
                Ok(None)
            }
        }
    }

    /// The end of a target's learning window (from `seen_at` until now): what it used becomes
    /// its baseline, its recording window the learning window itself.
    pub fn learned(&mut self, target: &str, mut profile: Profile, seen_at: SystemTime) {
        let now = SystemTime::now();
        profile.started_at = crate::support::clock::rfc3339(seen_at);
        profile.ended_at = crate::support::clock::rfc3339(now);
        profile.duration_secs = now.duration_since(seen_at).unwrap_or_default().as_secs_f64();
        self.known.insert(target.to_owned(), profile);
    }

    /// Every baseline in use, by target (written to the state directory for `report`).
    pub fn all(&self) -> &BTreeMap<String, Profile> {
        &self.known
    }

    /// Says where baselines come from (the start-up line).
    pub fn describe(&self) -> String {
        let learn = self.learn.map(|window| format!("; targets without one learn theirs for {}", humantime::format_duration(window)));
        let source = match &self.given {
            Given::None => format!("{} learned earlier", self.known.len()),
            Given::File(path, _) => format!("from {}", path.display()),
            Given::Dir(dir) => format!("from {}/NAME.yaml", dir.display()),
        };
        format!("baselines {source}{}", learn.unwrap_or_default())
    }
}

/// Refuses a given baseline that lost checks, naming the file and the way past it.
fn complete(profile: &Profile, path: &Path, allow_lossy: bool) -> Result<(), Error> {
    if !profile.losses.incomplete() || allow_lossy {
        return Ok(());
    }
    Err(Error::Untrusted(format!(
        "the baseline {} is incomplete: {}, so it under-states what the service uses and creep would be over-reported; record it again with a larger --max-keys, or pass --allow-lossy to use it anyway",
        path.display(),
        profile.losses.describe()
    )))
}
