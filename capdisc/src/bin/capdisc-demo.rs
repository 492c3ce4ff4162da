//! capdisc-demo: the bundled demo service. An HTTPS-style listener (plain HTTP, on port 443 by
//! default) that, started as root, drops to a non-root user keeping only the capabilities it is
//! given (as `User=` + `AmbientCapabilities=` would), then binds and serves. Started as non-root
//! (e.g. by systemd with `User=`), it uses whatever capabilities it was given.
//!
//! On SIGHUP it binds its port again (as services do on reload), which makes the kernel check
//! CAP_NET_BIND_SERVICE again: activity a recording attached to the running service can see.
//!
//! `capdisc-demo [--user NAME] [--keep CAP,...] [--port N] [--requests N] [--self-client]`
use std::{
    ffi::CString,
    io::{ErrorKind, Read, Write},
    net::{TcpListener, TcpStream},
    process::exit,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sighup(_: libc::c_int) {
    RELOAD.store(true, Ordering::Relaxed);
}

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
    unsafe { libc::signal(libc::SIGHUP, on_sighup as *const () as libc::sighandler_t) };
    let mut listener = listen(options.port);
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
    loop {
        if RELOAD.swap(false, Ordering::Relaxed) {
            drop(listener);
            listener = listen(options.port);
            eprintln!("capdisc-demo: reloaded: bound :{} again", options.port);
        }
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(err) if err.kind() == ErrorKind::WouldBlock || err.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            Err(_) => continue,
        };
        let _ = stream.set_nonblocking(false);
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

/// Binds the port (non-blocking, so SIGHUP is noticed), or exits like the story's Go service.
fn listen(port: u16) -> TcpListener {
    match TcpListener::bind(("0.0.0.0", port)) {
        Ok(listener) => {
            let _ = listener.set_nonblocking(true);
            listener
        }
        Err(err) => {
            let reason = if err.kind() == ErrorKind::PermissionDenied { "permission denied".to_owned() } else { err.to_string() };
            eprintln!("listen tcp :{port}: bind: {reason}");
            exit(1);
        }
    }
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
