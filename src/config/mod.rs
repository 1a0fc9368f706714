//! Configuration: `palisade.toml` parsed, checked and turned into the types the gateway runs on.
//!
//! Loading never half-succeeds: every problem found is reported with the file, line, key and
//! what is wrong, and a config that asks for a protection this build lacks is refused.

pub(crate) mod raw;
mod units;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::route::{Pattern, Router};
use crate::sanitize::forwarded::TrustedProxies;
use crate::secret::Secret;

pub use units::{parse_duration, parse_size};

/// A checked configuration, ready to serve.
#[derive(Debug)]
pub struct Config {
    /// The `[server]` table.
    pub server: Server,
    /// The `[admin]` table, when the admin listener is enabled.
    pub admin: Option<Admin>,
    /// `[auth.NAME]` providers by name.
    pub providers: std::collections::BTreeMap<String, Arc<crate::auth::Provider>>,
    /// Routes in the order the file lists them.
    pub routes: Vec<Arc<Route>>,
    /// The same routes, indexed for matching.
    pub router: Router<Arc<Route>>,
    /// Things that load but that an operator should look at.
    pub warnings: Vec<String>,
}

/// The `[server]` table, checked.
#[derive(Debug)]
pub struct Server {
    /// Where the gateway listens.
    pub listen: SocketAddr,
    /// Where allowed requests go.
    pub upstream: Upstream,
    /// The app's own origin, as `scheme://host[:port]`.
    pub public_origin: Option<String>,
    /// Peers whose `X-Forwarded-*` headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// The largest request body, in bytes.
    pub max_body: u64,
    /// What to do with a path no route matches.
    pub unmatched: Unmatched,
    /// Host names the app answers to; `None` forwards any `Host`.
    pub hosts: Option<Vec<HostName>>,
    /// Certificate and key for a TLS listener.
    pub tls: Option<Tls>,
    /// Time-outs on each side of the proxy.
    pub timeouts: Timeouts,
    /// The most client connections served at once.
    pub max_connections: usize,
}

/// The upstream application server.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port` of the upstream, as written.
    pub authority: http::uri::Authority,
}

/// What happens to a request whose path no route matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// Refuse with 404.
    Deny,
    /// Forward it with no protection but the canonical-path and header checks.
    Pass,
}

/// One accepted `Host` value: a lower-case name and, when given, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// The host name or IP literal, lower case (IPv6 in brackets).
    pub name: String,
    /// The port, when the entry names one; otherwise any port matches.
    pub port: Option<u16>,
}

/// The TLS listener's certificate chain and private key.
pub struct Tls {
    /// PEM certificate chain.
    pub cert: Secret,
    /// PEM private key.
    pub key: Secret,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

/// Time-outs, each cutting off one way a peer can hold the gateway.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send a request's headers, also the most a keep-alive connection may sit idle and
    /// the time allowed for a TLS handshake.
    pub header: Duration,
    /// How long an HTTP/2 connection may have no request in flight before it is closed.
    pub idle: Duration,
    /// How long a response may wait for the client to read more of it before the connection
    /// is closed.
    pub send: Duration,
    /// To receive a whole request body once the headers are in (then 408).
    pub body: Duration,
    /// For the upstream to answer with its response headers (then 504).
    pub upstream: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown: Duration,
}

/// The `[admin]` table, checked.
#[derive(Debug)]
pub struct Admin {
    /// Where `/metrics`, `/healthz` and `/readyz` are served.
    pub listen: SocketAddr,
}

/// One `[[route]]`, checked.
#[derive(Debug)]
pub struct Route {
    /// Position in the file, from 0, for messages.
    pub index: usize,
    /// The route's pattern, as matched.
    pub pattern: Pattern,
    /// The pattern's text, used as the route's name in logs and metrics.
    pub name: Arc<str>,
    /// Methods the route answers; `None` means all.
    pub methods: Option<Vec<Method>>,
    /// Who may call the route, and what they must hold.
    pub auth: crate::auth::RouteAuth,
    /// What the route's input must look like.
    pub validation: crate::validate::RouteValidation,
    /// The largest body for this route, in bytes.
    pub max_body: u64,
}

/// Every problem found while loading a config.
#[derive(Debug)]
pub struct LoadError {
    /// The problems, in file order where known.
    pub problems: Vec<Problem>,
}

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// The dotted key, such as `server.listen` or `route[2].path`.
    pub key: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl Config {
    /// Reads and checks the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|e| LoadError {
            problems: vec![Problem {
                file: path.to_owned(),
                position: None,
                key: String::new(),
                message: format!("cannot read the config file: {e}"),
            }],
        })?;
        // `palisade.toml` has the empty path as its parent: that is the working directory.
        let base_dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        Config::parse(&text, path, base_dir)
    }

    /// Checks config `text`; `file` names it in messages and `base_dir` anchors relative paths.
    pub fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Config, LoadError> {
        validate::parse(text, file, base_dir)
    }
}
