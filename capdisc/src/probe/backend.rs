//! The five ways to see `cap_capable`, and `auto`: the cheapest first, by measurement (see
//! `COST`), keeping the reason each one was skipped (in the spirit of kunai's per-program
//! compatibility).
use std::{fmt, path::Path, str::FromStr};

use aya::{
    programs::{BtfTracePoint, FExit, KProbe, RawTracePoint, TracePoint},
    Btf, Ebpf,
};

use crate::{kernel::btf::KernelLayout, kernel::tracefs};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Fexit,
    Kprobe,
    Tracepoint,
    RawTp,
    TpBtf,
}

/// What each backend adds to a capability check, measured with `cargo xtask bench` (an empty
/// program on the hook, CAP_KILL storm, 6.18 on this project's CI machine kind; fexit and
/// kprobe on the 6.12 QEMU guest, relative to its own untraced run): the order `auto` tries them
/// in. raw_tp and tp_btf skip the perf record the classic tracepoint builds for every check.
pub const COST: &[(Backend, &str)] = &[
    (Backend::RawTp, "+30-70 ns per check (raw tracepoint, no perf record)"),
    (Backend::TpBtf, "about the raw tracepoint's cost (typed raw tracepoint)"),
    (Backend::Fexit, "a BPF trampoline on the function"),
    (Backend::Kprobe, "a breakpoint trap, twice (kprobe + kretprobe)"),
    (Backend::Tracepoint, "+200-550 ns per check (the perf record is built before BPF runs)"),
];

impl Backend {
    /// In `auto`'s order: the cheapest first.
    pub const ALL: [Backend; 5] = [Backend::RawTp, Backend::TpBtf, Backend::Fexit, Backend::Kprobe, Backend::Tracepoint];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Fexit => "fexit",
            Backend::Kprobe => "kprobe",
            Backend::Tracepoint => "tracepoint",
            Backend::RawTp => "raw_tp",
            Backend::TpBtf => "tp_btf",
        }
    }

    /// Why `auto` prefers it (its measured cost).
    pub fn cost(self) -> &'static str {
        COST.iter().find(|(backend, _)| *backend == self).map(|(_, cost)| *cost).unwrap_or("")
    }

    /// Whether this backend sees `opts` (so the no-audit class comes from the kernel itself).
    pub fn sees_opts(self) -> bool {
        matches!(self, Backend::Fexit | Backend::Kprobe)
    }

    /// Detaches and unloads this backend's programs (the maps stay readable): nothing counts
    /// after it, so a final reading is exact.
    pub(super) fn detach(self, ebpf: &mut Ebpf) {
        fn unload<T>(ebpf: &mut Ebpf, name: &'static str, unload: impl FnOnce(&mut T) -> Result<(), aya::programs::ProgramError>)
        where
            for<'a> &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
        {
            if let Ok(program) = program::<T>(ebpf, name) {
                let _ = unload(program);
            }
        }
        match self {
            Backend::Fexit => unload::<FExit>(ebpf, "capdisc_fexit", FExit::unload),
            Backend::Kprobe => {
                unload::<KProbe>(ebpf, "capdisc_kprobe", KProbe::unload);
                unload::<KProbe>(ebpf, "capdisc_kretprobe", KProbe::unload);
            }
            Backend::RawTp => unload::<RawTracePoint>(ebpf, "capdisc_raw_tp", RawTracePoint::unload),
            Backend::TpBtf => unload::<BtfTracePoint>(ebpf, "capdisc_tp_btf", BtfTracePoint::unload),
            Backend::Tracepoint => unload::<TracePoint>(ebpf, "capdisc_tracepoint", TracePoint::unload),
        }
    }

    /// Loads and attaches this backend's programs, or says why it cannot be used here.
    pub(super) fn attach(self, ebpf: &mut Ebpf, tracefs: &Path, layout: &KernelLayout) -> Result<(), AttachError> {
        match self {
            Backend::Fexit => {
                if !Path::new("/sys/kernel/btf/vmlinux").exists() {
                    return Err(AttachError::Unavailable("the kernel has no BTF (/sys/kernel/btf/vmlinux)"));
                }
                if layout.cap_capable_arity != Some(4) {
                    return Err(AttachError::Unavailable(
                        "cap_capable does not take the 4 arguments the fexit program expects (kernel BTF)",
                    ));
                }
                let btf = Btf::from_sys_fs().map_err(AttachError::Btf)?;
                let program: &mut FExit = program(ebpf, "capdisc_fexit")?;
                program.load("cap_capable", &btf).map_err(|source| AttachError::Load { program: "capdisc_fexit", source })?;
                program.attach().map_err(|source| AttachError::Attach { program: "capdisc_fexit", source })?;
            }
            Backend::Kprobe => {
                if !Path::new("/sys/bus/event_source/devices/kprobe/type").exists() {
                    return Err(AttachError::Unavailable("the kernel has no kprobes (CONFIG_KPROBES is not set)"));
                }
                for name in ["capdisc_kprobe", "capdisc_kretprobe"] {
                    let program: &mut KProbe = program(ebpf, name)?;
                    program.load().map_err(|source| AttachError::Load { program: name, source })?;
                    program.attach("cap_capable", 0).map_err(|source| AttachError::Attach { program: name, source })?;
                }
            }
            Backend::RawTp => {
                if !tracefs::has_event(tracefs, "capability", "cap_capable") {
                    return Err(AttachError::Unavailable(
                        "the tracepoint capability:cap_capable does not exist (it needs Linux 6.13 or later)",
                    ));
                }
                let program: &mut RawTracePoint = program(ebpf, "capdisc_raw_tp")?;
                program.load().map_err(|source| AttachError::Load { program: "capdisc_raw_tp", source })?;
                program.attach("cap_capable").map_err(|source| AttachError::Attach { program: "capdisc_raw_tp", source })?;
            }
            Backend::TpBtf => {
                if !tracefs::has_event(tracefs, "capability", "cap_capable") {
                    return Err(AttachError::Unavailable(
                        "the tracepoint capability:cap_capable does not exist (it needs Linux 6.13 or later)",
                    ));
                }
                let btf = Btf::from_sys_fs().map_err(AttachError::Btf)?;
                let program: &mut BtfTracePoint = program(ebpf, "capdisc_tp_btf")?;
                program.load("cap_capable", &btf).map_err(|source| AttachError::Load { program: "capdisc_tp_btf", source })?;
                program.attach().map_err(|source| AttachError::Attach { program: "capdisc_tp_btf", source })?;
            }
            Backend::Tracepoint => {
                if !tracefs::has_event(tracefs, "capability", "cap_capable") {
                    return Err(AttachError::Unavailable(
                        "the tracepoint capability:cap_capable does not exist (it needs Linux 6.13 or later)",
                    ));
                }
                let program: &mut TracePoint = program(ebpf, "capdisc_tracepoint")?;
                program.load().map_err(|source| AttachError::Load { program: "capdisc_tracepoint", source })?;
                program
                    .attach("capability", "cap_capable")
                    .map_err(|source| AttachError::Attach { program: "capdisc_tracepoint", source })?;
            }
        }
        Ok(())
    }
}

/// Why a program could not be loaded or attached; `reason` is the one line the backend
/// selection prints.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    /// The kernel lacks what the backend needs (checked before trying).
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("program {0} missing from the eBPF object")]
    MissingProgram(&'static str),
    #[error("cannot read kernel BTF")]
    Btf(#[source] aya::BtfError),
    #[error("cannot load {program}")]
    Load {
        program: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot attach {program}")]
    Attach {
        program: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
}

impl AttachError {
    /// One line: the error and its sources, without the verifier log.
    pub fn reason(&self) -> String {
        let text = first_line(&chain(self));
        match self {
            AttachError::Load { .. } if text.contains("Operation not permitted") || text.contains("EPERM") => {
                format!("the kernel refused to load a BPF tracing program (EPERM; BPF tracing programs unavailable): {text}")
            }
            _ => text,
        }
    }
}

pub(super) fn program<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, AttachError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let program = ebpf.program_mut(name).ok_or_else(|| AttachError::MissingProgram(name))?;
    program.try_into().map_err(|source| AttachError::Load { program: name, source })
}

/// An error and its sources on one line.
pub(super) fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.trim_end().trim_end_matches("Verifier output:").trim_end().trim_end_matches('.').to_owned()
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    Auto,
    Only(Backend),
}

impl BackendChoice {
    /// The backends to try, in order.
    pub fn candidates(self) -> Vec<Backend> {
        match self {
            BackendChoice::Auto => Backend::ALL.to_vec(),
            BackendChoice::Only(backend) => vec![backend],
        }
    }
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "auto" => Ok(BackendChoice::Auto),
            "fexit" => Ok(BackendChoice::Only(Backend::Fexit)),
            "kprobe" => Ok(BackendChoice::Only(Backend::Kprobe)),
            "tracepoint" => Ok(BackendChoice::Only(Backend::Tracepoint)),
            "raw_tp" => Ok(BackendChoice::Only(Backend::RawTp)),
            "tp_btf" => Ok(BackendChoice::Only(Backend::TpBtf)),
            other => Err(format!("unknown backend `{other}`; use auto, raw_tp, tp_btf, fexit, kprobe or tracepoint")),
        }
    }
}
