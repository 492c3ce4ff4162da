//! capdisc-demo: the bundled demo service. An HTTPS-style listener (plain HTTP, on port 443 by
//! default) that, started as root, drops to a non-root user keeping only the capabilities it is
//! given (as `User=` + `AmbientCapabilities=` would), then binds and serves. Started as non-root
//! (e.g. by systemd with `User=`), it uses whatever capabilities it was given.
//!
//! `capdisc-demo [--user NAME] [--keep CAP,...] [--port N] [--requests N] [--self-client]`
use std::{
    ffi::CString,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    process::exit,
};

use capdisc::caps;

struct Options {
    user: Option<String>,
    keep: Vec<u32>,
    port: u16,
    requests: Option<u32>,
    self_client: bool,
}

fn main() {
    let options = parse().unwrap_or_else(|message| {
        eprintln!("capdisc-demo: {message}");
        eprintln!("usage: capdisc-demo [--user NAME] [--keep CAP,...] [--port N] [--requests N] [--self-client]");
        exit(2)
    });
    if let Some(user) = &options.user {
        if unsafe { libc::geteuid() } == 0 {
            if let Err(message) = drop_to(user, &options.keep) {
                eprintln!("capdisc-demo: {message}");
                exit(1);
            }
        }
    }
    let listener = match TcpListener::bind(("0.0.0.0", options.port)) {
        Ok(listener) => listener,
        Err(err) => {
            // The message a Go service prints, as in the story.
            let reason = if err.kind() == std::io::ErrorKind::PermissionDenied { "permission denied".to_owned() } else { err.to_string() };
            eprintln!("listen tcp :{}: bind: {reason}", options.port);
            exit(1);
        }
    };
    eprintln!("capdisc-demo: listening on :{} as uid {}", options.port, unsafe { libc::getuid() });
    if options.self_client {
        let (port, count) = (options.port, options.requests.unwrap_or(1));
        std::thread::spawn(move || {
            for _ in 0..count {
                if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
                    let _ = stream.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n");
                    let mut reply = String::new();
                    let _ = stream.read_to_string(&mut reply);
                }
            }
        });
    }
    let mut served = 0;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\ncapdisc demo\n");
        served += 1;
        if options.requests.is_some_and(|limit| served >= limit) {
            break;
        }
    }
    eprintln!("capdisc-demo: served {served} request(s)");
}

fn parse() -> Result<Options, String> {
    let mut options = Options { user: None, keep: Vec::new(), port: 443, requests: None, self_client: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--user" => options.user = Some(value()?),
            "--keep" => {
                for name in value()?.split(',').filter(|name| !name.is_empty()) {
                    options.keep.push(caps::number(name).ok_or_else(|| format!("unknown capability {name}"))?);
                }
            }
            "--port" => options.port = value()?.parse().map_err(|_| "--port takes a number".to_owned())?,
            "--requests" => options.requests = Some(value()?.parse().map_err(|_| "--requests takes a number".to_owned())?),
            "--self-client" => options.self_client = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

/// setuid to `user` keeping `keep` in the permitted, effective, inheritable and ambient sets.
fn drop_to(user: &str, keep: &[u32]) -> Result<(), String> {
    let name = CString::new(user).map_err(|_| "bad user name".to_owned())?;
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    if entry.is_null() {
        return Err(format!("no user {user}"));
    }
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    let mask: u64 = keep.iter().fold(0, |mask, cap| mask | (1u64 << cap));
    unsafe {
        if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0
            || libc::setgroups(0, std::ptr::null()) != 0
            || libc::setgid(gid) != 0
            || libc::setuid(uid) != 0
        {
            return Err(format!("cannot switch to {user}: {}", std::io::Error::last_os_error()));
        }
        let header = CapHeader { version: 0x2008_0522, pid: 0 };
        let low = CapData { effective: mask as u32, permitted: mask as u32, inheritable: mask as u32 };
        let high = CapData { effective: (mask >> 32) as u32, permitted: (mask >> 32) as u32, inheritable: (mask >> 32) as u32 };
        let data = [low, high];
        if libc::syscall(libc::SYS_capset, &header, data.as_ptr()) != 0 {
            return Err(format!("capset failed: {}", std::io::Error::last_os_error()));
        }
        for cap in keep {
            if libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, *cap as libc::c_ulong, 0, 0) != 0 {
                return Err(format!("cannot raise {} into the ambient set: {}", caps::name(*cap), std::io::Error::last_os_error()));
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}
