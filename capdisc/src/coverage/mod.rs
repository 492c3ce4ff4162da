//! What a recording did not cover, said out loud: the capabilities the executables the service
//! ran may check (their imports, mapped through `table`) that no check of the recording showed.
//! They are hints, listed in the profile (`coverage.unexercised`), in `record`'s table and in the
//! drop-in header as "possible on paths not exercised"; never added to a set. A hint is closed by
//! driving the path (`--exercise`, a phase) and proving again.
mod imports;
mod table;

use std::collections::BTreeMap;

pub use imports::{functions_in, functions_of};
pub use table::{capabilities_of, ImportRule, IMPORT_RULES};

use crate::profile::{Coverage, Hint, Profile};

/// The hints for `profile`: per executable it ran and capability its functions may check that
/// the recording never saw (granted, denied or advisory), the functions that may check it.
pub fn of(profile: &Profile) -> Coverage {
    let mut coverage = Coverage::default();
    for executable in &profile.executables {
        let functions = match functions_of(executable) {
            Ok(functions) => functions,
            Err(why) => {
                coverage.unreadable.push(why);
                continue;
            }
        };
        let mut by_capability: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for function in &functions {
            for capability in capabilities_of(function) {
                by_capability.entry(capability).or_default().push(function.clone());
            }
        }
        for (capability, symbols) in by_capability {
            if profile.capability(capability).is_none() {
                coverage.unexercised.push(Hint { capability: capability.to_owned(), symbols, executable: executable.clone() });
            }
        }
    }
    coverage.unexercised.sort_by_key(|hint| (crate::caps::number(&hint.capability).unwrap_or(u32::MAX), hint.executable.clone()));
    coverage
}
