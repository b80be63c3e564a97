//! Benchmark hosts: how a `[[host]]`'s podman connection is written in the
//! pins, the podman global flags and environment that address it, and the
//! pool `bench` schedules comparison groups on.

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

    /// The same as [`Connection::podman_args`] as podman's environment
    /// (either variable makes podman a remote client), so that a shell or
    /// command set up for a host sends every podman call there.
    pub fn podman_env(&self) -> Option<(&'static str, String)> {
        match self {
            Connection::Local => None,
            Connection::Named(n) => Some((CONNECTION_VAR, n.clone())),
            Connection::Url(u) => Some((URL_VAR, u.clone())),
        }
    }

    /// Whether the host's containers run on this machine's kernel, so that
    /// this machine's `/proc` and cgroup files describe them (a unix socket
    /// is always local). A named connection may point anywhere: no.
    pub fn same_machine(&self) -> bool {
        match self {
            Connection::Local => true,
            Connection::Named(_) => false,
            Connection::Url(u) => u.starts_with("unix://"),
        }
    }

    /// The connection a podman environment addresses (see `podman_env`).
    pub fn from_env(url: Option<&str>, name: Option<&str>) -> Connection {
        match (url, name) {
            (Some(u), _) => Connection::Url(u.to_string()),
            (None, Some(n)) => Connection::Named(n.to_string()),
            (None, None) => Connection::Local,
        }
    }
}

/// podman's environment variables for `--url` and `--connection`.
pub const URL_VAR: &str = "CONTAINER_HOST";
pub const CONNECTION_VAR: &str = "CONTAINER_CONNECTION";

/// One host of the pool: its entry's name, connection and labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolHost {
    /// `None` for the implicit local host of pins without `[[host]]`.
    pub name: Option<String>,
    pub connection: Connection,
    pub labels: BTreeMap<String, String>,
}

impl PoolHost {
    /// Whether this host has every label a benchmark requires, with its value.
    pub fn satisfies(&self, requires: &BTreeMap<String, String>) -> bool {
        requires.iter().all(|(k, v)| self.labels.get(k) == Some(v))
    }

    /// How messages name it.
    pub fn display(&self) -> String {
        self.name.clone().unwrap_or_else(|| "local".to_string())
    }
}

/// The hosts `bench` runs on: the `[[host]]` entries, or this machine's
/// podman alone when there are none.
pub fn pool(entries: &[HostEntry]) -> Vec<PoolHost> {
    if entries.is_empty() {
        return vec![PoolHost { name: None, connection: Connection::Local, labels: BTreeMap::new() }];
    }
    entries
        .iter()
        .map(|e| PoolHost { name: Some(e.name.get_ref().clone()), connection: e.connection(), labels: e.labels.clone() })
        .collect()
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

    #[test]
    fn a_connection_round_trips_through_podmans_environment() {
        for text in ["local", "bench-2", "unix:///run/b.sock", "ssh://core@b3:22/run/podman/podman.sock"] {
            let c = Connection::parse(text).unwrap();
            let env = c.podman_env();
            let var = |name: &str| env.as_ref().filter(|(k, _)| *k == name).map(|(_, v)| v.as_str());
            assert_eq!(Connection::from_env(var(URL_VAR), var(CONNECTION_VAR)), c, "{text}");
        }
        let same: Vec<bool> =
            ["local", "bench-2", "unix:///run/b.sock", "ssh://b3"].iter().map(|t| Connection::parse(t).unwrap().same_machine()).collect();
        assert_eq!(same, [true, false, true, false]);
    }

    #[test]
    fn a_host_satisfies_a_benchmark_with_all_its_labels_equal() {
        let labels = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let host = PoolHost { name: Some("b".into()), connection: Connection::Local, labels: labels(&[("cpu", "EPYC"), ("disk", "nvme")]) };
        assert!(host.satisfies(&labels(&[])));
        assert!(host.satisfies(&labels(&[("cpu", "EPYC")])));
        assert!(host.satisfies(&labels(&[("cpu", "EPYC"), ("disk", "nvme")])));
        assert!(!host.satisfies(&labels(&[("cpu", "Xeon")])));
        assert!(!host.satisfies(&labels(&[("cpu", "EPYC"), ("gpu", "none")])));
        assert_eq!(pool(&[]), vec![PoolHost { name: None, connection: Connection::Local, labels: BTreeMap::new() }]);
    }
}
