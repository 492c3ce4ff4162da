//! Writing structured entries to the systemd journal over its native protocol (a datagram of
//! `FIELD=value` lines to /run/systemd/journal/socket; systemd.journal-fields(7)). Values with
//! a newline use the protocol's binary form.
use std::{io, os::unix::net::UnixDatagram, path::Path};

const SOCKET: &str = "/run/systemd/journal/socket";

/// Whether capdisc runs under systemd with a journal to write to.
pub fn available() -> bool {
    std::env::var_os("INVOCATION_ID").is_some() && Path::new(SOCKET).exists()
}

/// Sends one entry.
pub fn send(fields: &[(&str, &str)]) -> io::Result<()> {
    let mut datagram = Vec::new();
    for (name, value) in fields {
        datagram.extend_from_slice(name.as_bytes());
        if value.contains('\n') {
            datagram.push(b'\n');
            datagram.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            datagram.push(b'=');
        }
        datagram.extend_from_slice(value.as_bytes());
        datagram.push(b'\n');
    }
    UnixDatagram::unbound()?.send_to(&datagram, SOCKET).map(|_| ())
}
