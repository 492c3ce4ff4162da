//! Real workloads for capdisc's integration tests and benchmark: each action makes the kernel
//! check a known capability for real (a bind to port 443, a chown, a raw socket...).
//!
//! `workload [--as-user UID] ACTION [ARGS]`; `--as-user` drops to UID with no capabilities
//! first (setgroups, setgid, setuid), so the action is denied.
use std::{
    ffi::CString,
    net::{Ipv4Addr, SocketAddrV4},
    path::Path,
    process::exit,
    time::Duration,
};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--as-user") {
        let uid: u32 = args.get(1).and_then(|uid| uid.parse().ok()).unwrap_or_else(|| usage());
        drop_to(uid);
        args.drain(..2);
    }
    let action = args.first().cloned().unwrap_or_else(|| usage());
    let arg = |index: usize| args.get(index).cloned().unwrap_or_else(|| usage());
    match action.as_str() {
        "noop" => {}
        "bind" => bind(arg(1).parse().unwrap_or_else(|_| usage())),
        "chown" => chown(&arg(1), arg(2).parse().unwrap_or_else(|_| usage())),
        "raw-socket" => raw_socket(),
        "mmap" => map_memory(arg(1).parse().unwrap_or_else(|_| usage())),
        "storm" => storm(arg(1).parse().unwrap_or_else(|_| usage())),
        "syscalls" => syscalls(arg(1).parse().unwrap_or_else(|_| usage())),
        "children" => children(arg(1).parse().unwrap_or_else(|_| usage()), &arg(2)),
        "wait-for" => wait_for(&arg(1), &args[2..]),
        "peek-and-bind" => peek_and_bind(&arg(1), arg(2).parse().unwrap_or_else(|_| usage())),
        "serve" => {
            let on_usr1 =
                (args.get(2).map(String::as_str) == Some("--on-usr1-chown")).then(|| (arg(3), arg(4).parse().unwrap_or_else(|_| usage())));
            serve(arg(1).parse().unwrap_or_else(|_| usage()), on_usr1)
        }
        "serve-once" => serve_once(arg(1).parse().unwrap_or_else(|_| usage())),
        "connect" => connect(arg(1).parse().unwrap_or_else(|_| usage())),
        "greeted" => greeted(arg(1).parse().unwrap_or_else(|_| usage())),
        "chown-then-serve" => {
            chown(&arg(1), arg(2).parse().unwrap_or_else(|_| usage()));
            serve(arg(3).parse().unwrap_or_else(|_| usage()), None)
        }
        "filtered" => filtered(&arg(1), arg(2).parse().unwrap_or_else(|_| usage())),
        "call" => call(&arg(1)),
        "filtered-socket" => filtered_socket(arg(1).parse().unwrap_or_else(|_| usage())),
        "write-file" => write_file(&arg(1)),
        "exec-no-new-privs" => exec_no_new_privs(&args[1..]),
        "bind-and-chown" => {
            bind(arg(1).parse().unwrap_or_else(|_| usage()));
            chown(&arg(2), arg(3).parse().unwrap_or_else(|_| usage()));
        }
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: workload [--as-user UID] noop | bind PORT | chown PATH UID | raw-socket | mmap N | storm N | syscalls N | children N PATH | wait-for FILE ACTION... | peek-and-bind DIR PORT | bind-and-chown PORT PATH UID | chown-then-serve PATH UID PORT | serve PORT [--on-usr1-chown PATH UID] | serve-once PORT | connect PORT | greeted PORT | filtered SYSCALL ERRNO | call SYSCALL | filtered-socket FAMILY | write-file PATH | exec-no-new-privs PROGRAM [ARGS]");
    exit(2)
}

fn fail(what: &str) -> ! {
    let err = std::io::Error::last_os_error();
    println!("{what}: {} ({})", err, errno_name(err.raw_os_error().unwrap_or(0)));
    exit(1)
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        _ => "other",
    }
}

fn drop_to(uid: u32) {
    unsafe {
        if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(uid) != 0 || libc::setuid(uid) != 0 {
            fail("drop privileges");
        }
    }
}

fn bind(port: u16) {
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    let one: libc::c_int = 1;
    unsafe { libc::setsockopt(socket, libc::SOL_SOCKET, libc::SO_REUSEADDR, (&one as *const libc::c_int).cast(), 4) };
    let address = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    let sockaddr = libc::sockaddr_in {
        sin_family: libc::AF_INET as u16,
        sin_port: address.port().to_be(),
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    };
    let rc = unsafe { libc::bind(socket, (&sockaddr as *const libc::sockaddr_in).cast(), std::mem::size_of::<libc::sockaddr_in>() as u32) };
    if rc != 0 {
        fail("bind");
    }
    println!("bound port {port}");
}

/// A service on 127.0.0.1:PORT that never gives up: it retries a refused bind every 100 ms (as
/// a supervised daemon would be restarted), then accepts and closes connections until killed.
/// With `on_usr1` (PATH, UID), SIGUSR1 makes it chown PATH to UID, a rare path such as a log
/// rotation; a refused chown ends it (exit 1), as a strict daemon would.
fn serve(port: u16, on_usr1: Option<(String, u32)>) -> ! {
    static USR1: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    extern "C" fn on_signal(_: libc::c_int) {
        USR1.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    // SIGTERM ends it, as a daemon's does (as a container's PID 1 it would otherwise be ignored).
    extern "C" fn on_term(_: libc::c_int) {
        unsafe { libc::_exit(0) };
    }
    unsafe { libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t) };
    if on_usr1.is_some() {
        unsafe { libc::signal(libc::SIGUSR1, on_signal as *const () as libc::sighandler_t) };
    }
    // WORKLOAD_ADDR=0.0.0.0: reachable through a port forwarder (rootless podman's connects to
    // the container's address, not its loopback).
    let address: Ipv4Addr = std::env::var("WORKLOAD_ADDR").ok().and_then(|text| text.parse().ok()).unwrap_or(Ipv4Addr::LOCALHOST);
    let listener = loop {
        match std::net::TcpListener::bind((address, port)) {
            Ok(listener) => break listener,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    println!("serving on {address}:{port}");
    let _ = listener.set_nonblocking(true);
    loop {
        if USR1.swap(false, std::sync::atomic::Ordering::SeqCst) {
            if let Some((path, uid)) = &on_usr1 {
                chown(path, *uid);
            }
        }
        match listener.accept() {
            // A greeting: a check through a port forwarder (rootless podman's rootlessport
            // accepts before the service is up) can tell the service answered (`greeted`).
            Ok((mut stream, _)) => {
                let _ = std::io::Write::write_all(&mut stream, b"ok\n");
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// A one-shot server: binds PORT on 127.0.0.1, greets one client (`ok`), and exits 0 at once,
/// as an inetd-style or socket-activated service does.
fn serve_once(port: u16) {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap_or_else(|err| {
        eprintln!("bind {port}: {err}");
        exit(1)
    });
    if let Ok((mut stream, _)) = listener.accept() {
        let _ = std::io::Write::write_all(&mut stream, b"ok\n");
    }
}

/// A check: exits 0 when the service on 127.0.0.1:PORT greets (`ok`, what `serve` writes)
/// within 2 s, 1 otherwise: a forwarder that accepts for a service not up yet does not pass.
fn greeted(port: u16) {
    let Ok(mut stream) = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else { exit(1) };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut greeting = [0u8; 3];
    if std::io::Read::read_exact(&mut stream, &mut greeting).is_err() || &greeting != b"ok\n" {
        exit(1);
    }
}

/// A check: exits 0 when 127.0.0.1:PORT accepts a connection, 1 otherwise.
fn connect(port: u16) {
    if std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
        exit(1);
    }
}

/// Lists DIR, ignoring a refusal (as a service peeking at an optional directory does: for root
/// on a mode-000 directory the kernel's CAP_DAC_READ_SEARCH fallback decides), then binds PORT
/// (a real need). Exits 0 when the bind works, whatever the listing did.
fn peek_and_bind(dir: &str, port: u16) {
    match std::fs::read_dir(dir) {
        Ok(entries) => println!("listed {dir}: {} entries", entries.count()),
        Err(err) => println!("could not list {dir}: {err} (ignored)"),
    }
    bind(port);
}

fn chown(path: &str, uid: u32) {
    let path = CString::new(path).unwrap_or_else(|_| usage());
    if unsafe { libc::chown(path.as_ptr(), uid, uid) } != 0 {
        fail("chown");
    }
}

fn raw_socket() {
    if unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP) } < 0 {
        fail("raw socket");
    }
}

/// Private writable mappings are charged to overcommit accounting, which asks for
/// CAP_SYS_ADMIN without auditing (an advisory check, never a need).
fn map_memory(count: usize) {
    for _ in 0..count {
        let page = unsafe {
            libc::mmap(std::ptr::null_mut(), 1 << 16, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if page == libc::MAP_FAILED {
            fail("mmap");
        }
        unsafe { libc::munmap(page, 1 << 16) };
    }
}

/// `kill(pid, 0)` on a process of another uid: one CAP_KILL check per call, nothing else.
/// Prints the number of calls made and the time the loop took.
fn storm(count: u64) {
    let child = other_uid_child();
    let started = std::time::Instant::now();
    for _ in 0..count {
        unsafe { libc::kill(child.pid, 0) };
    }
    let elapsed = started.elapsed();
    child.finish();
    println!("{count} kill(pid, 0) calls in {} ns", elapsed.as_nanos());
}

/// N system calls that check no capability (getppid), timed: what every system call pays for
/// capdisc's system-call programs (sandbox evidence).
fn syscalls(count: u64) {
    let started = std::time::Instant::now();
    for _ in 0..count {
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
    println!("{count} getppid() calls in {} ns", started.elapsed().as_nanos());
}

/// A child that runs as uid 65534 until the parent closes its pipe (so ending it needs no kill).
struct OtherUidChild {
    pid: i32,
    pipe_write: i32,
}

fn other_uid_child() -> OtherUidChild {
    let mut fds = [0; 2];
    let mut ready = [0; 2];
    unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 || libc::pipe(ready.as_mut_ptr()) != 0 {
            fail("pipe");
        }
        let pid = libc::fork();
        if pid == 0 {
            libc::close(fds[1]);
            libc::close(ready[0]);
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                libc::_exit(1);
            }
            libc::close(ready[1]);
            let mut byte = 0u8;
            libc::read(fds[0], (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
        libc::close(fds[0]);
        libc::close(ready[1]);
        let mut byte = 0u8;
        libc::read(ready[0], (&mut byte as *mut u8).cast(), 1);
        OtherUidChild { pid, pipe_write: fds[1] }
    }
}

impl OtherUidChild {
    fn finish(self) {
        unsafe {
            libc::close(self.pipe_write);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// N grandchildren (fork, then fork again), each chowning PATH to its index.
fn children(count: u32, path: &str) {
    for index in 0..count {
        unsafe {
            let pid = libc::fork();
            if pid == 0 {
                let grandchild = libc::fork();
                if grandchild == 0 {
                    chown(path, 1000 + index);
                    libc::_exit(0);
                }
                libc::waitpid(grandchild, std::ptr::null_mut(), 0);
                libc::_exit(0);
            }
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
    }
}

/// Waits until FILE exists, then runs ACTION in a forked child (a descendant born after
/// capdisc attached).
fn wait_for(file: &str, action: &[String]) {
    println!("waiting");
    while !Path::new(file).exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    match action.first().map(String::as_str) {
        Some("chown") if action.len() == 3 => children(1, &action[1]),
        Some("noop") | None => {}
        _ => usage(),
    }
}

/// Refuses SYSCALL with ERRNO (a real seccomp filter, as systemd's `SystemCallFilter=` installs
/// one), then makes the call: what a sandboxed service meets.
fn filtered(name: &str, errno: u32) {
    let number = name.parse::<syscalls::Sysno>().unwrap_or_else(|_| usage()).id() as u32;
    install_filter(number, None, errno);
    let ret = unsafe { libc::syscall(number as libc::c_long, 0, 0, 0) };
    report(name, ret);
}

/// Makes the system call SYSCALL with zero arguments (`unshare(0)` changes nothing) and says
/// whether a filter refused it.
fn call(name: &str) {
    let number = name.parse::<syscalls::Sysno>().unwrap_or_else(|_| usage()).id();
    let ret = unsafe { libc::syscall(number as libc::c_long, 0, 0, 0) };
    report(name, ret);
}

/// Refuses socket(FAMILY, ...) with EAFNOSUPPORT, as `RestrictAddressFamilies=` does, then asks
/// for one.
fn filtered_socket(family: u32) {
    install_filter(libc::SYS_socket as u32, Some(family), libc::EAFNOSUPPORT as u32);
    let fd = unsafe { libc::socket(family as i32, libc::SOCK_RAW, 0) };
    report("socket", fd as i64);
}

/// Creates PATH and writes a line to it (a service keeping its state).
fn write_file(path: &str) {
    match std::fs::write(path, "1\n") {
        Ok(()) => println!("write-file: wrote {path}"),
        Err(err) => {
            println!("write-file: {path}: {err}");
            exit(1)
        }
    }
}

/// What the call returned; a refused call fails the workload (exit 1), as it fails a service.
fn report(call: &str, ret: i64) {
    if ret < 0 {
        let err = std::io::Error::last_os_error();
        println!("{call}: refused: {err}");
        exit(1);
    } else {
        println!("{call}: returned {ret}");
    }
}

/// A classic-BPF seccomp filter: this architecture's call NUMBER (with its first argument equal
/// to ARG0, when given) returns ERRNO; every other call is allowed.
fn install_filter(number: u32, arg0: Option<u32>, errno: u32) {
    const LOAD_WORD: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JUMP_EQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RETURN: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xc000_003e;
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xc000_00b7;
    let statement = |code: u16, k: u32| libc::sock_filter { code, jt: 0, jf: 0, k };
    let jump = |k: u32, jt: u8, jf: u8| libc::sock_filter { code: JUMP_EQ, jt, jf, k };
    // seccomp_data: nr at 0, arch at 4, args at 16 (the low word of args[0] on little endian).
    let mut program = vec![statement(LOAD_WORD, 4), jump(ARCH, 1, 0), statement(RETURN, libc::SECCOMP_RET_ALLOW), statement(LOAD_WORD, 0)];
    match arg0 {
        Some(arg0) => program.extend([jump(number, 0, 3), statement(LOAD_WORD, 16), jump(arg0, 0, 1)]),
        None => program.push(jump(number, 0, 1)),
    }
    program.push(statement(RETURN, libc::SECCOMP_RET_ERRNO | (errno & libc::SECCOMP_RET_DATA)));
    program.push(statement(RETURN, libc::SECCOMP_RET_ALLOW));
    let filter = libc::sock_fprog { len: program.len() as u16, filter: program.as_mut_ptr() };
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, &filter as *const libc::sock_fprog) != 0
        {
            fail("install the seccomp filter");
        }
    }
}

/// Sets no_new_privs (as `NoNewPrivileges=yes` does), then execs PROGRAM: a setuid PROGRAM runs
/// without the privileges its bit would give.
fn exec_no_new_privs(argv: &[String]) {
    if argv.is_empty() {
        usage();
    }
    let argv: Vec<CString> = argv.iter().map(|arg| CString::new(arg.as_str()).unwrap_or_else(|_| usage())).collect();
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|arg| arg.as_ptr()).collect();
    pointers.push(std::ptr::null());
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail("set no_new_privs");
        }
        libc::execv(pointers[0], pointers.as_ptr());
    }
    fail("exec");
}
