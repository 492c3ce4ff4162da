//! Command-line interface: argument definitions and dispatch to the library. Exit codes are
//! decided by `Error::exit_code`, the recorded command's status, and the documented 0/1 of
//! `lint` and `diff`.
use crate::support::console;
mod docs;
mod harden;
mod prove;
mod record;
mod target;
mod trace;
pub mod values;
mod watch;

use clap::{Parser, Subcommand};

use crate::error::Error;

/// The exit codes of every subcommand: `--help`, `capdisc(1)` and README.md ("Exit status",
/// verbatim: tests/pure/docs.rs keeps them in step).
pub const EXIT_CODES: &str = "\
Exit status:
  0      it works, or it is proven: recorded, generated, applied and read back, verify passed,
         minimize proved a set, try's drop-in passed (or, --with-fixes, was installed with the
         fixes its trials proved), lint and diff found nothing to report
  1      the set fails, or nothing is proven: verify failed, minimize's recorded set fails or
         --grow stopped, try's drop-in breaks the unit, apply refused to widen, its read-back
         failed or systemd scored the unit above --max-exposure (the previous drop-in is put
         back), lint found a warning or worse, diff found creep
  2      a usage or operational error: bad arguments, a missing command, target or unit, a
         profile that is malformed, lost checks (--allow-lossy) or carries an edited proof,
         a capdisc leftover in the way, no privileges to load eBPF programs
  128+N  interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP) during verify,
         minimize or try: the trial in flight was discarded, the target put back, nothing written
  record -- CMD and trace -- CMD exit with the command's own status (127 not found, 126 not
  runnable, 128+N killed by signal N, a forwarded Ctrl-C included; 0 when capdisc stopped it at
  --duration). Without a command, record, trace and watch exit 0 when stopped.";

#[derive(Parser, Debug)]
#[command(
    name = "capdisc",
    version,
    about = "Discover which Linux capabilities a service really uses, and write the hardening that follows",
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record the capability checks of a command, process tree, cgroup, unit or the whole host.
    Record(record::RecordArgs),
    /// Watch capability checks as they happen (a better bcc `capable`).
    Trace(trace::TraceArgs),
    /// Watch units for months: exact counts as Prometheus metrics, creep against a baseline.
    Watch(watch::WatchArgs),
    /// The host's table from `watch`'s state: declared, used, held but never used, creep.
    Report(watch::ReportArgs),
    /// Run a target under exactly a profile's set and say whether it still works (exit 0/1).
    Verify(prove::VerifyArgs),
    /// Prove the smallest set a target works with, by trials; optionally install it.
    Minimize(prove::MinimizeArgs),
    /// Try a hardening drop-in through a unit's whole life before it lands: what breaks, the fix.
    Try(prove::TryArgs),
    /// Turn a profile into a systemd drop-in, container flags, setcap commands or JSON.
    Generate(harden::GenerateArgs),
    /// Write the drop-in for a unit, compare with what it grants now, check systemd's reading.
    Apply(harden::ApplyArgs),
    /// Check a unit's capability configuration (and, with --profile, against a recording).
    Lint(harden::LintArgs),
    /// Show a process's five capability sets by name, and what they mean.
    Status(harden::StatusArgs),
    /// Decode capability masks (0x400, or pasted `CapEff:` lines).
    Decode(harden::DecodeArgs),
    /// Privilege creep between two profiles; exit 1 when a capability is newly required.
    Diff(harden::DiffArgs),
    /// Unite several profiles of the same service.
    Merge(harden::MergeArgs),
    /// Remove capdisc's leftover runtime drop-ins from a unit and put it back under its own settings.
    Restore(harden::RestoreArgs),
    /// Print shell completions (bash, zsh, fish...) generated from these very arguments.
    Completions(docs::CompletionsArgs),
    /// Print the man page, or write every page (one per subcommand) into a directory.
    Man(docs::ManArgs),
    /// (internal) The guardian that undoes capdisc's temporary unit changes if capdisc dies.
    #[command(name = "__guard", hide = true)]
    Guard(harden::GuardArgs),
    /// (internal, `cargo xtask bench`) An empty program on the hook, until SIGINT.
    #[command(name = "__floor", hide = true)]
    Floor {
        #[arg(long)]
        hook: String,
    },
}

impl Cli {
    pub async fn run(self) -> Result<i32, Error> {
        match self.command {
            Command::Record(args) => crate::record::record(args.into_options()?).await,
            Command::Trace(args) => crate::trace::trace(args.into_options()?).await,
            Command::Watch(args) => crate::watch::watch(args.into_options()?).await,
            Command::Report(args) => args.run(),
            Command::Verify(args) => args.run().await,
            Command::Minimize(args) => args.run().await,
            Command::Try(args) => args.run().await,
            Command::Generate(args) => args.run(),
            Command::Apply(args) => args.run(),
            Command::Lint(args) => args.run(),
            Command::Status(args) => args.run(),
            Command::Decode(args) => args.run(),
            Command::Diff(args) => args.run(),
            Command::Merge(args) => args.run(),
            Command::Restore(args) => args.run(),
            Command::Completions(args) => args.run(),
            Command::Man(args) => args.run(),
            Command::Guard(args) => {
                // A proof's trials and a stopped container first, then the unit put back.
                let mut undo: Vec<crate::guardian::Undo<'_>> = vec![Box::new(|| {
                    crate::prove::undo_trials(args.cgroups_of, args.trial_runtime.as_deref(), args.start_container.as_deref())
                })];
                if let Some(unit) = args.unit.as_deref() {
                    undo.push(Box::new(move || crate::systemd::undo_after_death(unit, args.was_active, &args.sockets)));
                }
                Ok(crate::guardian::guard_main(undo))
            }
            Command::Floor { hook } => {
                let _attached = crate::probe::attach_floor(&hook)?;
                console::say!("floor attached on {hook}");
                let _ = tokio::signal::ctrl_c().await;
                Ok(0)
            }
        }
    }
}
