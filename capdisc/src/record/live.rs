//! The live status line on stderr while recording on a terminal: elapsed time, checks seen,
//! distinct capabilities. Redrawn in place; cleared before the final table.
use std::{
    collections::BTreeSet,
    io::{IsTerminal, Write},
    time::Instant,
};

use aya::Ebpf;

use crate::{probe::checks, session::Observer};

pub struct LiveLine {
    enabled: bool,
    started: Instant,
}

impl LiveLine {
    pub fn new(quiet: bool) -> Self {
        Self { enabled: !quiet && std::io::stderr().is_terminal(), started: Instant::now() }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn draw(&self, ebpf: &Ebpf) {
        if !self.enabled {
            return;
        }
        let checks = checks(ebpf).unwrap_or_default();
        let total: u64 = checks.iter().map(|(_, stats)| stats.count).sum();
        let caps: BTreeSet<u32> = checks.iter().map(|(key, _)| key.cap).collect();
        let elapsed = self.started.elapsed().as_secs();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\r\x1b[2Kcapdisc: recording {:02}:{:02}  {total} checks  {} capabilities",
            elapsed / 60,
            elapsed % 60,
            caps.len()
        );
        let _ = stderr.flush();
    }

    pub fn clear(&self) {
        if self.enabled {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Observer for LiveLine {
    fn tick(&mut self, ebpf: &Ebpf) {
        self.draw(ebpf);
    }
}
