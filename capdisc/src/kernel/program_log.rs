//! Messages the kernel programs log through aya-log (rare by design: only when a map fills),
//! printed on stderr as `capdisc: kernel: ...`.
use aya::Ebpf;
use aya_log::EbpfLogger;

struct Stderr;

impl log::Log for Stderr {
    fn enabled(&self, _metadata: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        crate::support::console::raw!("\ncapdisc: kernel: {}\n", record.args());
    }

    fn flush(&self) {}
}

pub struct KernelLog {
    logger: Option<EbpfLogger<Stderr>>,
}

impl KernelLog {
    /// Starts reading the kernel programs' log; without one (no log statement compiled in),
    /// there is simply nothing to print.
    pub fn start(ebpf: &mut Ebpf) -> Self {
        Self { logger: EbpfLogger::init_with_logger(ebpf, Stderr).ok() }
    }

    pub fn flush(&mut self) {
        if let Some(logger) = self.logger.as_mut() {
            logger.flush();
        }
    }
}
