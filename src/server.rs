//! Listeners: the public one (plain or TLS, HTTP/1.1 and HTTP/2), the admin one, and graceful
//! shutdown that drains requests in flight within a bound.
//!
//! Every connection is bounded: a limited number at once, a time to send headers (and to
//! finish a TLS handshake), a header count and size, and for HTTP/2 a stream count and a cap on
//! reset streams (rapid reset).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::admin::{self, Readiness};
use crate::config::{Config, Tls};
use crate::connection::{Connection, Limits, Protocols};
use crate::metrics::CONNECTIONS_REFUSED;
use crate::pipeline::Gateway;
use crate::sanitize::Peer;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A listener could not bind its address.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key is unusable.
    #[error("tls: {0}")]
    Tls(String),
    /// The metrics recorder could not be installed.
    #[error("{0}")]
    Metrics(String),
}

/// Builds the rustls server config for a certificate chain and key, with ALPN for h2 and
/// HTTP/1.1.
pub fn tls_config(tls: &Tls) -> Result<Arc<ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(tls.cert.expose())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read the certificate chain: {e}"))?;
    if certs.is_empty() {
        return Err("the certificate file holds no certificate".to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(tls.key.expose())
        .map_err(|_| "cannot read the private key (PEM expected)".to_owned())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not form a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Listeners bound and ready to serve.
pub struct Bound {
    listener: TcpListener,
    admin: Option<TcpListener>,
    gateway: Arc<Gateway>,
    tls: Option<TlsAcceptor>,
    readiness: Arc<Readiness>,
}

impl Bound {
    /// Binds the public and admin listeners for `config`.
    pub async fn bind(config: Config) -> Result<Bound, Error> {
        let listen = config.server.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Error::Bind {
                addr: listen,
                source,
            })?;
        let admin = match &config.admin {
            Some(admin) => {
                Some(
                    TcpListener::bind(admin.listen)
                        .await
                        .map_err(|source| Error::Bind {
                            addr: admin.listen,
                            source,
                        })?,
                )
            }
            None => None,
        };
        let tls = match &config.server.tls {
            Some(tls) => Some(TlsAcceptor::from(tls_config(tls).map_err(Error::Tls)?)),
            None => None,
        };
        Ok(Bound {
            listener,
            admin,
            gateway: Arc::new(Gateway::new(config)),
            tls,
            readiness: Arc::new(Readiness::default()),
        })
    }

    /// The public listener's address (useful when the config asked for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// The admin listener's address, when there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` completes, then drains requests in flight.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let metrics = crate::metrics::install().map_err(Error::Metrics)?;
        let upkeep = tokio::spawn(crate::metrics::upkeep(metrics));
        let admin_task = self.admin.map(|listener| {
            tokio::spawn(serve_admin(listener, Arc::clone(&self.readiness), metrics))
        });

        // Key sets published by auth servers: fetched now, then kept fresh.
        let key_sets: Vec<_> = self
            .gateway
            .config
            .providers
            .values()
            .filter_map(|provider| match &**provider {
                crate::auth::Provider::Jwt(jwt) => jwt.key_source().map(|source| source.spawn()),
                _ => None,
            })
            .collect();

        let server = &self.gateway.config.server;
        let limits = Limits {
            header_timeout: server.timeouts.header,
            idle_timeout: server.timeouts.idle,
            send_timeout: server.timeouts.send,
        };
        let protocols = Arc::new(Protocols::new(limits));
        let (stop, stopping) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(server.max_connections));
        let drain_timeout = server.timeouts.shutdown;
        tracing::info!(
            listen = %self.listener.local_addr().map_or(server.listen, |a| a),
            upstream.addr = %self.gateway.upstream.authority(),
            tls = self.tls.is_some(),
            routes = self.gateway.config.routes.len(),
            "palisade is listening"
        );
        self.readiness.set(true);

        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                metrics::counter!(CONNECTIONS_REFUSED).increment(1);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let peer = Peer {
                ip: crate::sanitize::forwarded::canonical(peer.ip()),
                tls: self.tls.is_some(),
                trust: server.trusted_proxies.trust(peer.ip()),
            };
            let connection = Connection {
                gateway: Arc::clone(&self.gateway),
                protocols: Arc::clone(&protocols),
                tls: self.tls.clone(),
                limits,
                peer,
            };
            let stopping = stopping.clone();
            tokio::spawn(async move {
                connection.serve(stream, stopping).await;
                drop(permit);
            });
        }

        // Stop taking traffic, then let requests in flight finish within the bound.
        self.readiness.set(false);
        drop(self.listener);
        tracing::info!("shutting down: draining requests in flight");
        let _ = stop.send(true);
        // Every connection holds a slot until it closes: all slots back means all drained.
        let all = u32::try_from(server.max_connections).unwrap_or(u32::MAX);
        tokio::select! {
            _ = slots.acquire_many(all) => tracing::info!("all connections drained"),
            () = tokio::time::sleep(drain_timeout) => {
                tracing::warn!(timeout = ?drain_timeout, "drain timed out; closing what remains");
            }
        }
        if let Some(task) = admin_task {
            task.abort();
        }
        upkeep.abort();
        for task in key_sets {
            task.abort();
        }
        Ok(())
    }
}

async fn serve_admin(
    listener: TcpListener,
    readiness: Arc<Readiness>,
    metrics: &'static metrics_exporter_prometheus::PrometheusHandle,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let readiness = Arc::clone(&readiness);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                admin::handle(Arc::clone(&readiness), Some(metrics), request)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
