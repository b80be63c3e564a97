//! Benchmark hosts: how a `[[host]]`'s podman connection is written in the
//! pins, and the podman global flags that address it.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::refname;

/// A `[[host]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostEntry {
    pub name: Spanned<String>,
    /// `local` (the default), a `podman system connection` name, an
    /// `ssh://` URL or a `unix://` socket.
    pub connection: Option<Spanned<String>>,
    /// Facts a benchmark can ask for, e.g. `cpu = "EPYC 7763"`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Where a host's podman answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// The podman on this machine.
    Local,
    /// A connection known to `podman system connection`.
    Named(String),
    /// `ssh://[user@]host[:port][/socket]` or `unix:///path/to/socket`.
    Url(String),
}

impl Connection {
    pub fn parse(s: &str) -> Result<Connection, String> {
        if s == "local" {
            return Ok(Connection::Local);
        }
        if let Some(path) = s.strip_prefix("unix://") {
            refname::check_path(path).map_err(|m| format!("connection {s:?}: the socket {m}"))?;
            return Ok(Connection::Url(s.to_string()));
        }
        if let Some(rest) = s.strip_prefix("ssh://") {
            let authority = rest.split('/').next().unwrap_or("");
            let host = authority.rsplit('@').next().unwrap_or("");
            let host = host.split(':').next().unwrap_or("");
            let ok = refname::check_url(s).is_ok() && !host.is_empty() && !rest.contains(char::is_whitespace);
            return ok
                .then(|| Connection::Url(s.to_string()))
                .ok_or_else(|| format!("connection {s:?} is not `ssh://[user@]host[:port][/socket]`"));
        }
        if s.contains("://") {
            return Err(format!("connection {s:?}: only `local`, a connection name, `ssh://` and `unix://` are supported"));
        }
        refname::check_name(s).map_err(|m| format!("connection {m}"))?;
        Ok(Connection::Named(s.to_string()))
    }

    /// The global flags of every podman call to this host.
    pub fn podman_args(&self) -> Vec<String> {
        match self {
            Connection::Local => Vec::new(),
            Connection::Named(n) => vec!["--connection".into(), n.clone()],
            Connection::Url(u) => vec!["--url".into(), u.clone()],
        }
    }
}

impl HostEntry {
    /// Its connection; validated with the config, so this cannot fail then.
    pub fn connection(&self) -> Connection {
        self.connection.as_ref().map_or(Connection::Local, |c| Connection::parse(c.get_ref()).expect("validated with the config"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_and_their_podman_flags() {
        let table: &[(&str, Result<&[&str], &str>)] = &[
            ("local", Ok(&[])),
            ("bench-2", Ok(&["--connection", "bench-2"])),
            ("unix:///run/podman/podman.sock", Ok(&["--url", "unix:///run/podman/podman.sock"])),
            (
                "ssh://core@bench-3.example.org:2222/run/podman/podman.sock",
                Ok(&["--url", "ssh://core@bench-3.example.org:2222/run/podman/podman.sock"]),
            ),
            ("ssh://bench-4", Ok(&["--url", "ssh://bench-4"])),
            ("unix://run/podman.sock", Err("must be absolute")),
            ("tcp://10.0.0.2:8888", Err("only `local`, a connection name")),
            ("ssh://", Err("is not `ssh://[user@]host")),
            ("ssh://user@", Err("is not `ssh://[user@]host")),
            ("bench 2", Err("connection name")),
            ("-x", Err("connection name")),
            ("ssh://h;rm -rf /", Err("ssh://")),
        ];
        for (text, want) in table {
            match (Connection::parse(text), want) {
                (Ok(c), Ok(args)) => assert_eq!(c.podman_args(), args.iter().map(|a| a.to_string()).collect::<Vec<_>>(), "{text}"),
                (Err(e), Err(part)) => assert!(e.contains(part), "{text}: {e}"),
                (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
            }
        }
    }
}
