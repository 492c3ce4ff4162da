//! How option values are read, one parser per kind of value, shared by every subcommand: a
//! duration (`2`, `2.5`, `2s`, `500ms`, `15m`, `7d`), a backend, a listen address.
use std::{
    net::{SocketAddr, ToSocketAddrs},
    time::Duration,
};

use clap::builder::{PossibleValuesParser, TypedValueParser};

use crate::probe::BackendChoice;

/// A positive duration: a number of seconds (`2`, `0.5`) or a number with a unit (`500ms`,
/// `2s`, `15m`, `1h`, `7d`; humantime's units). Every flag that takes a time takes this.
pub fn duration(text: &str) -> Result<Duration, String> {
    let parsed = match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e12 => Ok(Duration::from_secs_f64(secs)),
        Ok(_) => Err(String::new()),
        Err(_) => humantime::parse_duration(text.trim()).map_err(|_| String::new()).and_then(|duration| {
            if duration.is_zero() {
                Err(String::new())
            } else {
                Ok(duration)
            }
        }),
    };
    parsed.map_err(|_| format!("`{text}` is not a positive duration (write seconds, or e.g. 500ms, 2s, 15m, 1h, 7d)"))
}

/// The backends by name, as `--backend` takes them.
pub const BACKENDS: [&str; 6] = ["auto", "raw_tp", "tp_btf", "fexit", "kprobe", "tracepoint"];

/// `--backend NAME`: one of [`BACKENDS`] (listed in `--help` and completed by shells).
pub fn backend() -> impl TypedValueParser<Value = BackendChoice> {
    PossibleValuesParser::new(BACKENDS).try_map(|name| name.parse::<BackendChoice>())
}

/// `--listen HOST:PORT`: an address, or a host name this host resolves (`localhost:9180`).
pub fn listen_address(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let mut resolved = text.to_socket_addrs().map_err(|err| format!("`{text}` is not HOST:PORT ({err}); write e.g. 127.0.0.1:9180"))?;
    resolved.next().ok_or_else(|| format!("`{text}` resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_or_units_and_refuse_what_is_not_positive() {
        assert_eq!(duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["-1", "0", "0s", "soon", "", "NaN", "inf"] {
            let err = duration(bad).expect_err(bad);
            assert!(err.contains("is not a positive duration"), "{bad}: {err}");
        }
    }

    #[test]
    fn listen_addresses_resolve_host_names() {
        assert_eq!(listen_address("127.0.0.1:9180"), Ok("127.0.0.1:9180".parse().expect("address")));
        let local = listen_address("localhost:9180").expect("localhost resolves");
        assert!(local.ip().is_loopback() && local.port() == 9180, "{local}");
        assert!(listen_address("9180").is_err());
    }
}
