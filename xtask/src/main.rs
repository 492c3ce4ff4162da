//! capdisc's automation: `cargo xtask setup | build | test | demo | bench | vm | fuzz | man`.
//! Each task is a function a reader can follow top to bottom; they run as root on a fresh
//! Debian machine and install what they need first.
mod bench;
mod bench_watch;
mod build;
mod deb;
mod demo;
mod fuzz;
mod run;
mod setup;
mod tally;
mod test;
mod vm;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install everything the build, the tests and the VMs need (idempotent).
    Setup,
    /// Build capdisc (release) and its workloads.
    Build,
    /// The whole test suite: unit and integration tests on this kernel, then the VM kernels.
    Test {
        /// Skip the QEMU guests (for quick local runs; CI runs them).
        #[arg(long)]
        no_vm: bool,
    },
    /// Record the bundled demo service under capdisc and print the result.
    Demo,
    /// Cost per capability check: untraced, under capdisc, and under a bpftrace count.
    Bench {
        /// kill(pid, 0) calls per run.
        #[arg(long, default_value_t = 2_000_000)]
        checks: u64,
        /// Rounds of (untraced, capdisc, bpftrace), alternating.
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        /// Only the `watch` rows (durable state over 100 busy units, a churn of 10,000 cgroups).
        #[arg(long)]
        watch: bool,
    },
    /// Boot Debian kernels under QEMU and check every backend against the host's results.
    Vm {
        /// Only the systemd guest's story.
        #[arg(long)]
        story_only: bool,
        /// Only the container steps: the systemd guest's (podman 4.3) and the container outputs'
        /// guest (podman 5, Quadlet, podman-compose, kube play).
        #[arg(long, conflicts_with = "story_only")]
        containers_only: bool,
        /// Only the container outputs' guest.
        #[arg(long, conflicts_with_all = ["story_only", "containers_only"])]
        outputs_only: bool,
        /// Only the guest tests whose names contain one of these (`-- reload`), as `cargo test
        /// NAME` selects; with --story-only, --containers-only or --outputs-only.
        #[arg(last = true)]
        tests: Vec<String>,
    },
    /// Man pages from the CLI definitions, one per subcommand, into target/man.
    Man,
    /// The Debian package (cargo-deb), into target/debian.
    Deb,
    /// Fuzz every parser untrusted bytes reach (cargo-fuzz, AddressSanitizer).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Setup => setup::setup(),
        Task::Build => build::release().map(drop),
        Task::Test { no_vm } => test::test(!no_vm),
        Task::Demo => demo::demo(),
        Task::Bench { checks, rounds, watch } => bench::bench(checks, rounds, watch),
        Task::Fuzz { seconds } => fuzz::fuzz(seconds),
        Task::Man => build::man(),
        Task::Deb => deb::deb().map(drop),
        Task::Vm { story_only, containers_only, outputs_only, tests } => {
            let only = match (story_only, containers_only, outputs_only) {
                (true, _, _) => vm::Only::Story,
                (_, true, _) => vm::Only::Containers,
                (_, _, true) => vm::Only::Outputs,
                _ => vm::Only::Everything,
            };
            let tally = vm::vm(only, &tests)?;
            println!("vm: {} passed, {} failed", tally.passed, tally.failed);
            if tally.failed > 0 {
                anyhow::bail!("{} backend comparison(s) failed", tally.failed);
            }
            Ok(())
        }
    }
}
