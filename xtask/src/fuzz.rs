//! `cargo xtask fuzz [--seconds N]`: runs every cargo-fuzz target in `fuzz/` (unit files and
//! drop-ins, profiles, capability names and masks, /proc/PID/status text) for N seconds each,
//! with the pinned nightly and AddressSanitizer. Each run starts from the committed inputs in
//! `fuzz/regressions/TARGET/` (seeds and every crash ever found, all replayed first); new coverage
//! goes to `fuzz/corpus/` (not committed). A crash fails the run and names the input to commit
//! under `fuzz/regressions/TARGET/` once fixed. `cargo xtask test` runs a short smoke pass.
use std::{fs, path::Path, process::Command};

use anyhow::{bail, Context, Result};

use crate::{
    run::{run, workspace},
    setup,
};

pub const TARGETS: [&str; 6] = ["unit_file", "unit_dir", "profile", "capability_text", "proc_status", "command_line"];

pub fn fuzz(seconds: u64) -> Result<()> {
    let nightly = setup::nightly()?;
    setup::ensure_cargo_fuzz()?;
    let root = workspace().join("fuzz");
    for target in TARGETS {
        let corpus = root.join("corpus").join(target);
        let artifacts = root.join("artifacts").join(target);
        let regressions = root.join("regressions").join(target);
        for dir in [&corpus, &artifacts] {
            fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        eprintln!("xtask: fuzz: {target} for {seconds} s (replaying {} committed inputs first)", count(&regressions));
        let mut command = Command::new("cargo");
        command
            .current_dir(&root)
            .arg(format!("+{nightly}"))
            .args(["fuzz", "run", target])
            .arg(&corpus)
            .arg(&regressions)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-rss_limit_mb=2048")
            .arg("-max_len=65536");
        // libFuzzer reports every new input; its log goes to a file, shown when it fails.
        let log = root.join("artifacts").join(format!("{target}.log"));
        command.stderr(fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?);
        if let Err(err) = run(&mut command) {
            let text = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(40).collect();
            eprintln!("{}", tail.into_iter().rev().collect::<Vec<_>>().join("\n"));
            bail!(
                "{err}\nfuzz target {target} found a crash (log {}): the input is in {}; fix it, then commit the input under fuzz/regressions/{target}/",
                log.display(),
                artifacts.display()
            );
        }
    }
    eprintln!("xtask: fuzz: no crash in {} targets", TARGETS.len());
    Ok(())
}

fn count(dir: &Path) -> usize {
    fs::read_dir(dir).map(|entries| entries.count()).unwrap_or(0)
}
