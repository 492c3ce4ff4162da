//! Arguments and dispatch of the subcommands that read profiles and units: generate, apply,
//! lint, status, decode, diff, merge.
use crate::support::console;
use std::path::PathBuf;

use clap::Args;

use crate::{
    error::Error,
    generate::{render, OutputFormat},
    harden::apply::{apply, ApplyOptions},
    harden::lint,
    harden::status,
    profile::{self, Format},
    support::files,
    systemd::{self, UnitFiles},
};

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The profile written by `capdisc record`.
    pub profile: PathBuf,
    /// systemd, docker, podman, compose, quadlet, k8s, setcap, seccomp (a container's proven
    /// seccomp profile, JSON) or json.
    #[arg(long, default_value = "systemd", value_parser = parse_format)]
    pub format: OutputFormat,
    /// The user the service runs as (`root` for root); by default taken from the profile's uids.
    #[arg(long)]
    pub user: Option<String>,
    /// Write to FILE (atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// For a profile recorded with --all: the unit or cgroup to generate for.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Use a profile that lost checks (the set may lack capabilities the service needs).
    #[arg(long)]
    pub allow_lossy: bool,
    /// Grant CAP to a non-root service even though it amounts to root and no proof kept it
    /// (left out otherwise; `capdisc minimize` proves whether it is needed). Repeatable.
    #[arg(long, value_name = "CAP", value_parser = parse_cap)]
    pub allow_dangerous: Vec<String>,
}

/// A capability name as the user may write it (`CAP_SYS_ADMIN`, `sys_admin`), canonical.
fn parse_cap(text: &str) -> Result<String, String> {
    crate::caps::parse_name(text).map(crate::caps::name)
}

fn parse_format(text: &str) -> Result<OutputFormat, String> {
    text.parse()
}

impl GenerateArgs {
    pub fn run(self) -> Result<i32, Error> {
        let source = self.profile.display().to_string();
        let profile = profile::read(&self.profile)?.for_target(self.target.as_deref())?;
        profile.require_complete(&source, self.allow_lossy)?;
        let text = render(&profile, &source, self.format, self.user.as_deref(), &self.allow_dangerous)?;
        emit(&text, self.output.as_deref())
    }
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    pub profile: PathBuf,
    /// The unit to harden (`app` means `app.service`).
    #[arg(long)]
    pub unit: String,
    /// Treat DIR as the root filesystem (offline; no reload).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print the drop-in and the comparison; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not run `systemctl daemon-reload` (nor read back systemd's view).
    #[arg(long)]
    pub no_reload: bool,
    /// The user the service runs as, when the unit does not say (`root` for root); the unit's
    /// own User= always wins (a contradicting --user is ignored with a warning).
    #[arg(long)]
    pub user: Option<String>,
    /// For a profile recorded with --all: the unit or cgroup whose part to apply.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Use a profile that lost checks (the set may lack capabilities the service needs).
    #[arg(long)]
    pub allow_lossy: bool,
    /// Allow the drop-in to grant capabilities the unit does not grant now (each is named with
    /// its evidence when refused).
    #[arg(long)]
    pub allow_widen: bool,
    /// Grant CAP to a non-root service even though it amounts to root and no proof kept it
    /// (left out otherwise; `capdisc minimize` proves whether it is needed). Repeatable.
    #[arg(long, value_name = "CAP", value_parser = parse_cap)]
    pub allow_dangerous: Vec<String>,
    /// Refuse, and undo, a drop-in after which `systemd-analyze security` scores the unit above N
    /// (0 is locked down, 10 exposed).
    #[arg(long, value_name = "N", value_parser = parse_exposure)]
    pub max_exposure: Option<f64>,
}

/// An exposure level as systemd-analyze scores it: 0.0 to 10.0.
pub fn parse_exposure(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(level) if (0.0..=10.0).contains(&level) => Ok(level),
        _ => Err(format!("`{text}` is not an exposure level from 0.0 to 10.0 (systemd-analyze security's scale)")),
    }
}

impl ApplyArgs {
    pub fn run(self) -> Result<i32, Error> {
        apply(&ApplyOptions {
            profile: self.profile,
            unit: self.unit,
            root: self.root,
            dry_run: self.dry_run,
            no_reload: self.no_reload,
            user: self.user,
            target: self.target,
            allow_lossy: self.allow_lossy,
            allow_widen: self.allow_widen,
            widen_proven: false,
            allow_dangerous: self.allow_dangerous,
            max_exposure: self.max_exposure,
        })
    }
}

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["unit", "unit_file"]))]
pub struct LintArgs {
    /// A unit name, resolved from the unit directories (under --root).
    pub unit: Option<String>,
    /// A unit file (its drop-ins are read from FILE.d/ beside it).
    #[arg(long, value_name = "PATH")]
    pub unit_file: Option<PathBuf>,
    /// Compare with a recorded profile.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<PathBuf>,
    /// Treat DIR as the root filesystem.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Findings as JSON.
    #[arg(long)]
    pub json: bool,
}

impl LintArgs {
    pub fn run(self) -> Result<i32, Error> {
        let files = match (&self.unit_file, &self.unit) {
            (Some(path), _) => UnitFiles::from_file(path)?,
            (None, Some(unit)) => UnitFiles::find(unit, self.root.as_deref().unwrap_or("/".as_ref()))?,
            (None, None) => return Err(Error::Usage("name a unit or give --unit-file PATH".into())),
        };
        let mut effective = systemd::resolve(&files)?;
        if self.unit.is_some() && self.root.is_none() && systemd::systemd_running() {
            let view = systemd::live_view(&files.name)?;
            effective.bounding = view.bounding;
            effective.ambient = view.ambient;
            effective.source = "systemd (systemctl show) and unit files".into();
            effective.leftovers = systemd::leftovers(&files.name);
            effective.live = true;
        } else if self.unit.is_some() {
            // Offline (--root, or no systemd running): no capdisc owns a runtime drop-in there.
            effective.leftovers = systemd::offline_leftovers(self.root.as_deref().unwrap_or("/".as_ref()), &files.name);
        }
        let profile = self.profile.as_deref().map(profile::read).transpose()?;
        let findings = lint::lint(&effective, profile.as_ref());
        if self.json {
            console::outln!("{}", serde_json::to_string_pretty(&findings).map_err(|err| Error::io("cannot render JSON", err))?);
        } else {
            console::out!("{}", lint::render(&effective, &findings));
        }
        Ok(lint::exit_code(&findings))
    }
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    pub pid: u32,
    #[arg(long)]
    pub json: bool,
}

impl StatusArgs {
    pub fn run(self) -> Result<i32, Error> {
        let process = status::read(self.pid)?;
        if self.json {
            let value = serde_json::json!({ "process": process, "findings": status::findings(&process) });
            console::outln!("{value:#}");
        } else {
            console::out!("{}", status::render(&process));
        }
        Ok(0)
    }
}

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// Masks: 0x400, 0000000000000400, or `CapEff:\t...` lines; none: read pasted lines from
    /// stdin (`grep Cap /proc/PID/status | capdisc decode`).
    pub masks: Vec<String>,
}

/// The most `decode` reads from stdin (a status file is under 2 KiB).
const DECODE_STDIN_LIMIT: u64 = 1 << 20;

impl DecodeArgs {
    pub fn run(self) -> Result<i32, Error> {
        let masks = if self.masks.is_empty() { vec![read_pasted()?] } else { self.masks };
        console::out!("{}", status::decode(&masks)?);
        Ok(0)
    }
}

/// What was pasted or piped into stdin, for `decode` without arguments.
fn read_pasted() -> Result<String, Error> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Usage(
            "give masks to decode (capdisc decode 0x400), or pipe lines in (grep Cap /proc/PID/status | capdisc decode)".into(),
        ));
    }
    let mut text = String::new();
    stdin.lock().take(DECODE_STDIN_LIMIT).read_to_string(&mut text).map_err(|err| Error::input("cannot read stdin", err, ""))?;
    if text.trim().is_empty() {
        return Err(Error::Usage(
            "nothing to decode on stdin: pipe in masks or `CapEff:` lines (grep Cap /proc/PID/status | capdisc decode)".into(),
        ));
    }
    Ok(text)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub baseline: PathBuf,
    pub current: PathBuf,
    #[arg(long)]
    pub json: bool,
}

impl DiffArgs {
    pub fn run(self) -> Result<i32, Error> {
        let diff = profile::diff(&profile::read(&self.baseline)?, &profile::read(&self.current)?);
        if self.json {
            console::outln!("{}", serde_json::to_string_pretty(&diff).map_err(|err| Error::io("cannot render JSON", err))?);
        } else {
            console::out!("{}", diff.render());
        }
        Ok(i32::from(diff.creep()))
    }
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    #[arg(required = true)]
    pub profiles: Vec<PathBuf>,
    /// Where to write the merged profile (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// Merge even the same recording twice, or recordings of different services.
    #[arg(long)]
    pub force: bool,
}

impl MergeArgs {
    pub fn run(self) -> Result<i32, Error> {
        let profiles = self
            .profiles
            .iter()
            .map(|path| profile::read(path).map(|profile| (path.display().to_string(), profile)))
            .collect::<Result<Vec<_>, _>>()?;
        let merged = profile::merge(&profiles, self.force)?;
        let format = if self.json { Format::Json } else { Format::Yaml };
        files::write_atomic(&self.output, format.render(&merged)?.as_bytes())?;
        console::say!("merged {} profile(s) into {}", profiles.len(), self.output.display());
        Ok(0)
    }
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The unit capdisc left changed (`app` means `app.service`).
    #[arg(long)]
    pub unit: String,
}

impl RestoreArgs {
    pub fn run(self) -> Result<i32, Error> {
        let unit = systemd::unit_name(&self.unit);
        if !systemd::systemd_running() {
            return Err(Error::Target(format!(
                "systemd is not running on this host (no /run/systemd/system), so no unit runs under a capdisc drop-in; for an offline root, `capdisc lint {unit} --root DIR` names any leftover to delete"
            )));
        }
        let _lock = systemd::UnitLock::acquire(&unit)?;
        if systemd::runtime_dropins(&unit).is_empty() {
            console::outln!("{unit} has no capdisc runtime drop-in; nothing to restore");
            return Ok(0);
        }
        // Sockets a dead capdisc stopped with the unit: the enabled ones left inactive.
        let sockets = systemd::idle_enabled_sockets(&unit);
        console::outln!("{}", systemd::restore(&unit, None, &sockets)?);
        Ok(0)
    }
}

#[derive(Args, Debug)]
pub struct GuardArgs {
    #[arg(long)]
    pub unit: Option<String>,
    #[arg(long)]
    pub was_active: bool,
    /// A socket unit of the unit stopped with it: start it again.
    #[arg(long = "socket", value_name = "SOCKET")]
    pub sockets: Vec<String>,
    /// Kill and remove the trial cgroups (`capdisc-PID-*`) of this capdisc.
    #[arg(long, value_name = "PID")]
    pub cgroups_of: Option<u32>,
    /// And the trial containers of this runtime too (`podman@UID`: a rootless user's podman,
    /// whose containers root's podman does not see).
    #[arg(long, value_name = "RUNTIME", requires = "cgroups_of")]
    pub trial_runtime: Option<String>,
    /// Then start this container again (`RUNTIME:ID`): the one a proof's trials stood in for, or
    /// one stopped to be recorded from its start.
    #[arg(long, value_name = "RUNTIME:ID")]
    pub start_container: Option<String>,
}

fn emit(text: &str, output: Option<&std::path::Path>) -> Result<i32, Error> {
    match output {
        Some(path) => files::write_atomic(path, text.as_bytes())?,
        None => console::out!("{text}"),
    }
    Ok(0)
}
