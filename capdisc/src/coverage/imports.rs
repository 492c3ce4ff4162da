//! The functions an executable may call, read from its ELF file: a dynamic executable's imports
//! (undefined symbols in `.dynsym`: `chown`, `kill`, `setuid`...), or for a static one with a
//! symbol table, the system-call wrappers it links (C's own names; Go's `syscall.Kill` and
//! `golang.org/x/sys/unix.Chown` by their last part, lower-cased). Shared libraries' own imports
//! are not followed (a PAM module's `setuid` stays unseen).
use std::collections::BTreeSet;

use object::{Object, ObjectSymbol, SymbolKind};

/// Executables larger than this are not read (a hint is a hint; a 2 GiB file is not one).
const MAX_EXECUTABLE_BYTES: u64 = 512 << 20;

/// The function names `path` imports or links, or why they could not be read.
pub fn functions_of(path: &str) -> Result<BTreeSet<String>, String> {
    let size = std::fs::metadata(path).map_err(|err| format!("{path}: {err}"))?.len();
    if size > MAX_EXECUTABLE_BYTES {
        return Err(format!("{path}: larger than {} MiB, not read", MAX_EXECUTABLE_BYTES >> 20));
    }
    let bytes = std::fs::read(path).map_err(|err| format!("{path}: {err}"))?;
    functions_in(&bytes).map_err(|why| format!("{path}: {why}"))
}

/// [`functions_of`] for the bytes of an ELF file.
pub fn functions_in(bytes: &[u8]) -> Result<BTreeSet<String>, String> {
    let file = object::File::parse(bytes).map_err(|err| format!("not an executable capdisc can read ({err})"))?;
    let imports: BTreeSet<String> =
        file.dynamic_symbols().filter(|symbol| symbol.is_undefined()).filter_map(|symbol| symbol.name().ok().map(unversioned)).collect();
    if !imports.is_empty() {
        return Ok(imports);
    }
    // Static: the wrappers it links, from its symbol table (stripped binaries have none).
    let linked: BTreeSet<String> = file
        .symbols()
        .filter(|symbol| symbol.is_definition() && symbol.kind() == SymbolKind::Text)
        .filter_map(|symbol| symbol.name().ok().map(wrapper_name))
        .collect();
    if linked.is_empty() {
        return Err("no imports and no symbol table (a stripped static executable)".into());
    }
    Ok(linked)
}

/// `chown@GLIBC_2.2.5` -> `chown`.
fn unversioned(name: &str) -> String {
    name.split('@').next().unwrap_or(name).to_owned()
}

/// `syscall.Kill` / `golang.org/x/sys/unix.Setresuid` -> `kill` / `setresuid`; C names as they are.
fn wrapper_name(name: &str) -> String {
    for prefix in ["syscall.", "golang.org/x/sys/unix."] {
        if let Some(rest) = name.strip_prefix(prefix) {
            return rest.to_ascii_lowercase();
        }
    }
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_wrappers_and_versioned_imports_are_named_as_the_table_names_them() {
        assert_eq!(unversioned("setresuid@GLIBC_2.2.5"), "setresuid");
        assert_eq!(wrapper_name("syscall.Kill"), "kill");
        assert_eq!(wrapper_name("golang.org/x/sys/unix.Chown"), "chown");
        assert_eq!(wrapper_name("chroot"), "chroot");
        assert!(functions_in(b"#!/bin/sh\n").expect_err("a script").contains("not an executable"));
    }

    #[test]
    fn the_test_binary_imports_what_it_calls() {
        // This test binary is a dynamic executable that calls libc's kill.
        assert_eq!(unsafe { libc::kill(std::process::id() as i32, 0) }, 0);
        let me = std::env::current_exe().expect("own path");
        let functions = functions_of(&me.display().to_string()).expect("readable");
        assert!(functions.contains("kill"), "{functions:?}");
        assert!(!functions.iter().any(|name| name.contains('@')));
    }
}
