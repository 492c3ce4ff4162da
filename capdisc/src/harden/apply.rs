//! `capdisc apply`: writes the generated drop-in for a unit, after saying plainly how it differs
//! from what the unit grants now, then checks what systemd really parsed (it drops names it does
//! not know without a word). It does no harm unasked: a profile that lost checks is refused
//! (`--allow-lossy`), so is a drop-in that would grant what the unit does not grant now
//! (`--allow-widen`), and nothing is written outside the root or through a symlink.
use crate::support::console;
use std::path::{Path, PathBuf};

use crate::{
    caps,
    error::Error,
    generate::{render_dropin, Recommendation},
    profile::{self, Profile},
    systemd::{self, apply_dropin, check_dropin, live_view, mask_text, revert_dropin, systemd_running, Effective, UnitFiles},
};

pub struct ApplyOptions {
    pub profile: PathBuf,
    pub unit: String,
    pub root: Option<PathBuf>,
    pub dry_run: bool,
    pub no_reload: bool,
    pub user: Option<String>,
    /// For an `--all` profile: the unit or cgroup to harden.
    pub target: Option<String>,
    pub allow_lossy: bool,
    pub allow_widen: bool,
    /// `minimize --apply`: widen only by capabilities a failed trial proved necessary.
    pub widen_proven: bool,
    /// Root-equivalent capabilities to grant a non-root service even unproven.
    pub allow_dangerous: Vec<String>,
    /// Refuse (and undo) a drop-in after which `systemd-analyze security` scores the unit above this.
    pub max_exposure: Option<f64>,
}

pub fn apply(options: &ApplyOptions) -> Result<i32, Error> {
    let source = options.profile.display().to_string();
    let profile = profile::read(&options.profile)?.for_target(options.target.as_deref())?;
    profile.require_complete(&source, options.allow_lossy)?;
    let unit = systemd::unit_name(&options.unit);
    let live = options.root.is_none() && systemd_running();
    let root = options.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    // One writer per unit, and never on top of a leftover of an earlier capdisc.
    let _lock = if live {
        let lock = systemd::UnitLock::acquire(&unit)?;
        systemd::refuse_leftovers(&unit)?;
        Some(lock)
    } else {
        // Offline no capdisc can own a runtime drop-in: each is a leftover, refused before writing.
        systemd::refuse_offline_leftovers(&root, &unit)?;
        None
    };
    let current = current_config(&unit, &root, live)?;
    let user = runs_as(&current, options.user.as_deref());
    let recommendation =
        Recommendation::from_profile(&profile, user.as_ref().map(|(user, from)| (user.as_str(), from.as_str())), &options.allow_dangerous);
    recommendation.warn();
    let content = render_dropin(&profile, &source, &recommendation);
    let intended = recommendation.mask();

    console::outln!("{}", comparison(&current, &recommendation, intended));
    // systemd's own score, before: the loaded unit live, the unit files offline.
    let analyzed_root = (!live).then_some(root.as_path());
    let exposure_before = match systemd::exposure(&unit, analyzed_root) {
        Ok(score) => Some(score),
        Err(err) if options.max_exposure.is_some() => {
            return Err(Error::Kernel(format!("--max-exposure needs systemd's score of {unit}: {err}; nothing written")));
        }
        Err(_) => None,
    };
    // Every refusal of the real run, checked before anything is written (and by --dry-run).
    let target_path = check_dropin(&root, &unit)?;
    let widened = intended & !current.usable();
    if widened != 0 && !options.allow_widen && !(options.widen_proven && proven_necessary(&profile, widened)) {
        return Err(Error::Refused(format!(
            "apply widens {unit}: {} not granted now; nothing written; rerun with --allow-widen if the service needs it",
            widening_evidence(&profile, widened)
        )));
    }
    if options.dry_run {
        console::outln!("--- {} (dry run, nothing written)", target_path.display());
        console::out!("{content}");
        return Ok(0);
    }
    let applied = apply_dropin(&root, &unit, &content)?;
    match (&applied.changed, &applied.backup) {
        (false, _) => console::outln!("{} is already up to date", applied.path.display()),
        (true, Some(backup)) => console::outln!("wrote {} (previous version kept as {})", applied.path.display(), backup.display()),
        (true, None) => console::outln!("wrote {}", applied.path.display()),
    }
    let undo = |why: Error| -> Result<i32, Error> {
        let undone = revert_dropin(&root, &unit, &applied)?;
        if live && !options.no_reload {
            systemd::systemctl(&["daemon-reload"])?;
        }
        Err(match why {
            Error::Refused(why) => Error::Refused(format!("{why}; {undone}")),
            other => Error::Runtime(format!("{other}; {undone}")),
        })
    };
    if let Err(err) = read_back(options, &unit, &root, live, &recommendation, intended) {
        return undo(err);
    }
    if live && options.no_reload {
        return Ok(0);
    }
    let after = systemd::exposure(&unit, analyzed_root);
    match (exposure_before, &after) {
        (Some(before), Ok(after)) => console::outln!("exposure (systemd-analyze security, lower is better): {before:.1} -> {after:.1}"),
        (None, Ok(after)) => console::outln!("exposure (systemd-analyze security, lower is better): {after:.1} after"),
        (_, Err(err)) => console::note!("no exposure score: {err}"),
    }
    if let (Some(max), Ok(after)) = (options.max_exposure, &after) {
        if *after > max {
            return undo(Error::Refused(format!("the drop-in leaves {unit} at exposure {after:.1}, above --max-exposure {max:.1}")));
        }
    }
    if let (Some(_), Err(err)) = (options.max_exposure, after) {
        return undo(Error::Kernel(format!("--max-exposure needs systemd's score of {unit} after the change: {err}")));
    }
    Ok(0)
}

/// What systemd (live) or the unit files (offline) say after the drop-in: Err when they do not
/// show the intended sets.
fn read_back(
    options: &ApplyOptions,
    unit: &str,
    root: &Path,
    live: bool,
    recommendation: &Recommendation,
    intended: u64,
) -> Result<(), Error> {
    if live && !options.no_reload {
        systemd::systemctl(&["daemon-reload"])?;
        let view = live_view(unit)?;
        let mut problems = Vec::new();
        if view.bounding != intended {
            problems.push(format!(
                "CapabilityBoundingSet: systemd has {}, capdisc wrote {}",
                mask_text(view.bounding),
                mask_text(intended)
            ));
        }
        if recommendation.needs_ambient() && view.ambient != intended {
            problems.push(format!("AmbientCapabilities: systemd has {}, capdisc wrote {}", mask_text(view.ambient), mask_text(intended)));
        }
        if !problems.is_empty() {
            return Err(Error::Runtime(format!(
                "systemd did not parse the drop-in as written ({}); another drop-in may override it, see `systemctl cat {unit}`",
                problems.join("; ")
            )));
        }
        console::outln!("systemd reads back: bounding {}, ambient {}", mask_text(view.bounding), mask_text(view.ambient));
        console::outln!("restart the unit to apply it: systemctl restart {unit}");
    } else {
        // Offline: resolve the files again, the way systemd merges them, and check.
        let after = systemd::resolve(&UnitFiles::find(unit, root)?)?;
        let ambient_ok = !recommendation.needs_ambient() || after.ambient == intended;
        if after.bounding | implicit_mask(&after) != intended | implicit_mask(&after) || !ambient_ok {
            return Err(Error::Runtime(format!(
                "after the drop-in the unit resolves to bounding {} and ambient {}, not {}; a later drop-in overrides 60-capdisc.conf",
                mask_text(after.bounding),
                mask_text(after.ambient),
                mask_text(intended)
            )));
        }
        if live {
            console::outln!("not reloaded (--no-reload): run `systemctl daemon-reload && systemctl restart {unit}`");
        }
    }
    Ok(())
}

/// Who the service runs as, and where that answer came from: the unit's own `User=` (or
/// `DynamicUser=`) wins; `--user` only fills in when the unit does not say, and a `--user` that
/// contradicts the unit is ignored with a warning (it would drop or add `AmbientCapabilities=`
/// against what systemd will really do).
fn runs_as(current: &Effective, requested: Option<&str>) -> Option<(String, String)> {
    let from_unit = if let Some(exec_start) = &current.root_exec_start {
        Some(("root".to_owned(), format!("the unit's {exec_start}: its prefix runs it as root whatever User= says")))
    } else if current.dynamic_user {
        Some(("dynamic".to_owned(), "the unit's DynamicUser=yes".to_owned()))
    } else {
        current.user.clone().map(|user| (user.clone(), format!("the unit's User={user}")))
    };
    match (from_unit, requested) {
        (Some((user, from)), Some(requested)) => {
            if requested != user {
                console::warning!("--user {requested} ignored: {from} decides who the service runs as");
            }
            Some((user, from))
        }
        (Some(unit), None) => Some(unit),
        (None, Some(requested)) => Some((requested.to_owned(), "--user; the unit does not say".to_owned())),
        (None, None) => None,
    }
}

/// Whether every capability in `mask` was kept by a trial that failed without it (read from the
/// proof's trials, never from the wording of a verdict's evidence).
fn proven_necessary(profile: &Profile, mask: u64) -> bool {
    let Some(proof) = profile.verification.as_ref().filter(|proof| proof.passed) else { return false };
    caps::decode_mask(mask).into_iter().all(|number| proof.proven_necessary(&caps::name(number)))
}

fn widening_evidence(profile: &Profile, widened: u64) -> String {
    caps::decode_mask(widened)
        .into_iter()
        .map(|number| {
            let name = caps::name(number);
            let evidence = profile.capability(&name).map(|cap| {
                let top = cap.syscalls.first().map(|syscall| syscall.name.as_str()).unwrap_or("none");
                let denied = if cap.denied > 0 { format!(", denied {} time(s)", cap.denied) } else { String::new() };
                format!("{top}: {} granted check(s){denied}", cap.granted)
            });
            format!("{name} ({})", evidence.unwrap_or_else(|| "required".into()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn current_config(unit: &str, root: &Path, live: bool) -> Result<Effective, Error> {
    let mut current = match UnitFiles::find(unit, root) {
        Ok(files) => systemd::resolve(&files)?,
        Err(err) if !live => return Err(err),
        Err(_) => Effective { unit: unit.to_owned(), bounding: systemd::all_caps(), ..Effective::default() },
    };
    if live {
        let view = live_view(unit)?;
        current.bounding = view.bounding;
        current.bounding_assigned = view.bounding != systemd::all_caps();
        current.ambient = view.ambient;
        current.user = (!view.user.is_empty()).then_some(view.user);
        current.dynamic_user = view.dynamic_user;
        current.source = "systemd (systemctl show)".into();
    }
    Ok(current)
}

fn comparison(current: &Effective, recommendation: &Recommendation, intended: u64) -> String {
    let usable = current.usable();
    let mut out = format!("{} now grants: {} ({})\n", current.unit, mask_text(usable), current.source);
    let missing = intended & !usable;
    if missing != 0 {
        out.push_str(&format!("needed by the profile but not granted now (the drop-in adds them): {}\n", mask_text(missing)));
    }
    let unused = usable & !intended;
    if unused != 0 {
        out.push_str(&format!("granted now but never used in the profile (the drop-in removes them): {}\n", mask_text(unused)));
    }
    for (option, mask) in &current.implicit {
        let lost = mask & intended;
        if lost != 0 {
            out.push_str(&format!(
                "warning: {option} removes {} from the bounding set, which the profile requires; the drop-in cannot restore it\n",
                mask_text(lost)
            ));
        }
    }
    out.push_str(&format!(
        "the drop-in grants: {}{}",
        mask_text(intended),
        if recommendation.needs_ambient() { " (bounding and ambient, non-root)" } else { " (bounding set, root)" }
    ));
    out
}

fn implicit_mask(effective: &Effective) -> u64 {
    effective.implicit.iter().fold(0, |mask, (_, dropped)| mask | dropped)
}
