//! Waiting for a state with a deadline, polling every 200 ms: never a guessed sleep.
use std::time::{Duration, Instant};

/// Polls `ready` until it holds or `seconds` pass; whether it held.
pub fn until(seconds: u64, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Polls `ready` until it holds; panics naming `what` (and `came()`) after `seconds`.
pub fn must(seconds: u64, what: &str, ready: impl FnMut() -> bool, came: impl FnOnce() -> String) {
    if !until(seconds, ready) {
        panic!("expected within {seconds} s: {what}\ncame: {}", came());
    }
}

/// Polls `value` until `done` holds for it (or `seconds` pass); the last value seen.
pub fn for_value<T>(seconds: u64, mut value: impl FnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let seen = value();
        if done(&seen) || Instant::now() >= deadline {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Seconds since `since`, whole.
pub fn seconds_since(since: Instant) -> u64 {
    since.elapsed().as_secs()
}
