//! Listeners: the public one (plain or TLS, HTTP/1.1 and HTTP/2), the admin one, and graceful
//! shutdown that drains requests in flight within a bound.
//!
//! Every connection is bounded: a limited number at once, a time to send headers (and to
//! finish a TLS handshake), a header count and size, and for HTTP/2 a stream count and a cap on
//! reset streams (rapid reset).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::admin::{self, Readiness};
use crate::config::{Config, Tls};
use crate::header_timeout::{WatchedStream, answer_timeout, first_byte};
use crate::metrics::CONNECTIONS_REFUSED;
use crate::pipeline::{self, Gateway};
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

        let server = &self.gateway.config.server;
        let builder = connection_builder(server.timeouts.header);
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(Semaphore::new(server.max_connections));
        let header_timeout = server.timeouts.header;
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
                trusted: server.trusted_proxies.contains(peer.ip()),
            };
            let connection = Connection {
                gateway: Arc::clone(&self.gateway),
                builder: builder.clone(),
                tls: self.tls.clone(),
                header_timeout,
                peer,
            };
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                connection.serve(stream, watcher).await;
                drop(permit);
            });
        }

        // Stop taking traffic, then let requests in flight finish within the bound.
        self.readiness.set(false);
        drop(self.listener);
        tracing::info!("shutting down: draining requests in flight");
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("all connections drained"),
            () = tokio::time::sleep(drain_timeout) => {
                tracing::warn!(timeout = ?drain_timeout, "drain timed out; closing what remains");
            }
        }
        if let Some(task) = admin_task {
            task.abort();
        }
        upkeep.abort();
        Ok(())
    }
}

/// One accepted client connection.
struct Connection {
    gateway: Arc<Gateway>,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<TlsAcceptor>,
    header_timeout: Duration,
    peer: Peer,
}

impl Connection {
    async fn serve(self, stream: TcpStream, watcher: hyper_util::server::graceful::Watcher) {
        let Connection {
            gateway,
            builder,
            tls,
            header_timeout,
            peer,
        } = self;
        let (stream, dispatched) = WatchedStream::new(stream);
        let service = service_fn(move |request| {
            dispatched.mark();
            let gateway = Arc::clone(&gateway);
            async move { Ok::<_, Infallible>(pipeline::handle(gateway, peer, request).await) }
        });

        let result = match tls {
            None => {
                if !first_byte(&stream, header_timeout).await {
                    tracing::debug!(client.ip = %peer.ip, "no request within header_timeout");
                    return;
                }
                let connection = builder.serve_connection(TokioIo::new(stream.clone()), service);
                watcher.watch(connection.into_owned()).await
            }
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(header_timeout, acceptor.accept(stream.clone()));
                let tls_stream = match handshake.await {
                    Ok(Ok(tls_stream)) => tls_stream,
                    Ok(Err(error)) => {
                        tracing::debug!(%error, client.ip = %peer.ip, "tls handshake failed");
                        return;
                    }
                    Err(_) => {
                        tracing::debug!(client.ip = %peer.ip, "tls handshake timed out");
                        return;
                    }
                };
                // ALPN already chose the protocol; saying so starts hyper's header timer at
                // once instead of waiting for a first byte that may never come.
                let builder = match tls_stream.get_ref().1.alpn_protocol() {
                    Some(b"h2") => builder.http2_only(),
                    _ => builder.http1_only(),
                };
                let connection = builder.serve_connection(TokioIo::new(tls_stream), service);
                // Over TLS a plaintext 408 would be garbage: a header time-out just closes.
                return log_end(watcher.watch(connection.into_owned()).await, &peer);
            }
        };

        let timed_out = result
            .as_ref()
            .err()
            .and_then(|e| e.downcast_ref::<hyper::Error>());
        if timed_out.is_some_and(hyper::Error::is_timeout) {
            answer_timeout(&stream, peer.ip).await;
        }
        log_end(result, &peer);
    }
}

fn log_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>, peer: &Peer) {
    if let Err(error) = result {
        tracing::debug!(%error, client.ip = %peer.ip, "connection ended with an error");
    }
}

/// The HTTP/1.1 and HTTP/2 settings every client connection gets.
fn connection_builder(header_timeout: Duration) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_headers(100)
        .max_buf_size(64 * 1024);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_pending_accept_reset_streams(32)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(Duration::from_secs(30));
    builder
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
