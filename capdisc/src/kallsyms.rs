//! Kernel addresses to function names, from /proc/kallsyms (readable by root when
//! kptr_restrict allows; addresses read as zero otherwise, and frames then print as hex).
use std::{fs, io};

pub struct Kallsyms {
    /// (address, name), sorted by address.
    symbols: Vec<(u64, String)>,
}

impl Kallsyms {
    pub fn load() -> io::Result<Self> {
        Ok(Self::parse(&fs::read_to_string("/proc/kallsyms")?))
    }

    pub fn parse(text: &str) -> Self {
        let mut symbols: Vec<(u64, String)> = text
            .lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let address = u64::from_str_radix(fields.next()?, 16).ok()?;
                let kind = fields.next()?;
                let name = fields.next()?;
                (address != 0 && matches!(kind, "t" | "T" | "w" | "W")).then(|| (address, name.to_owned()))
            })
            .collect();
        symbols.sort_unstable();
        Self { symbols }
    }

    /// The function containing `address`.
    pub fn function(&self, address: u64) -> Option<&str> {
        let index = self.symbols.partition_point(|(start, _)| *start <= address);
        index.checked_sub(1).map(|index| self.symbols[index].1.as_str())
    }

    /// The address of a data or text symbol (e.g. `init_user_ns`), read from /proc/kallsyms.
    pub fn address_of(symbol: &str) -> Option<u64> {
        let text = fs::read_to_string("/proc/kallsyms").ok()?;
        text.lines().find_map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields.next()?;
            let _kind = fields.next()?;
            (fields.next()? == symbol).then(|| u64::from_str_radix(address, 16).ok()).flatten()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_enclosing_function() {
        let symbols = Kallsyms::parse(
            "ffffffff81000000 T _stext\nffffffff81001000 t cap_capable\nffffffff81002000 D init_user_ns\nffffffff81003000 T ns_capable\n",
        );
        assert_eq!(symbols.function(0xffffffff81001010), Some("cap_capable"));
        assert_eq!(symbols.function(0xffffffff81003000), Some("ns_capable"));
        assert_eq!(symbols.function(0x10), None);
    }
}
