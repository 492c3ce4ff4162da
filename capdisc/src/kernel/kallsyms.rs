//! Kernel addresses to function names. The reading and parsing of /proc/kallsyms is aya's
//! (`aya::util::kernel_symbols`); capdisc keeps only its questions: which function holds an
//! address (for call sites), and where a named symbol is (`init_user_ns`). Readable by root when
//! kptr_restrict allows; addresses read as zero otherwise, and frames then print as hex.
use std::{collections::BTreeMap, io};

pub struct Kallsyms {
    /// address -> name.
    symbols: BTreeMap<u64, String>,
}

impl Kallsyms {
    pub fn load() -> io::Result<Self> {
        Ok(Self::from_symbols(aya::util::kernel_symbols()?))
    }

    fn from_symbols(mut symbols: BTreeMap<u64, String>) -> Self {
        // Zero addresses: kptr_restrict hid them; they name nothing.
        symbols.remove(&0);
        Self { symbols }
    }

    /// Whether no symbol has an address (kptr_restrict hid them all).
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// The function containing `address` (the nearest symbol at or below it).
    pub fn function(&self, address: u64) -> Option<&str> {
        self.symbols.range(..=address).next_back().map(|(_, name)| name.as_str())
    }

    /// The address of a data or text symbol (e.g. `init_user_ns`).
    pub fn address_of(symbol: &str) -> Option<u64> {
        let symbols = aya::util::kernel_symbols().ok()?;
        symbols.into_iter().find_map(|(address, name)| (name == symbol && address != 0).then_some(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_enclosing_function() {
        let symbols = Kallsyms::from_symbols(BTreeMap::from([
            (0xffffffff81000000, "_stext".to_owned()),
            (0xffffffff81001000, "cap_capable".to_owned()),
            (0xffffffff81003000, "ns_capable".to_owned()),
        ]));
        assert_eq!(symbols.function(0xffffffff81001010), Some("cap_capable"));
        assert_eq!(symbols.function(0xffffffff81003000), Some("ns_capable"));
        assert_eq!(symbols.function(0x10), None);
    }

    #[test]
    fn reads_the_running_kernel() {
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipping reads_the_running_kernel: /proc/kallsyms shows addresses to root only");
            return;
        }
        let symbols = Kallsyms::load().expect("kallsyms");
        let cap_capable = Kallsyms::address_of("cap_capable").expect("cap_capable is a kernel symbol");
        assert_eq!(symbols.function(cap_capable + 1), Some("cap_capable"));
    }
}
