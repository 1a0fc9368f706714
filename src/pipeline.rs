//! The request pipeline: every request passes the stages below, in this order, and the first
//! stage that refuses it answers. A refused request never reaches the upstream.
//!
//! The stages: sanitize, route, CORS, auth, rate limit, validate, upstream. CORS and rate
//! limiting are refused at config load until they are built, so no route can ask for one and
//! silently run without it.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Request, Response};
use hyper::body::Incoming;

use crate::access_log::{self, Entry};
use crate::auth;
use crate::config::{Config, Unmatched};
use crate::error::{Rejection, ResponseBody};
use crate::route::{self, Match};
use crate::sanitize::{self, Peer, X_REQUEST_ID};
use crate::upstream::{ClientBody, Upstream};
use crate::validate;

/// Everything a request needs from the running gateway; shared by all connections.
#[derive(Debug)]
pub struct Gateway {
    /// The checked config.
    pub config: Config,
    /// The upstream client.
    pub upstream: Upstream,
}

impl Gateway {
    /// Builds the gateway for a checked config.
    pub fn new(config: Config) -> Gateway {
        let server = &config.server;
        let upstream = Upstream::new(&server.upstream, &server.timeouts, server.max_connections);
        Gateway { config, upstream }
    }
}

/// How a request ended, for the access log.
struct Outcome {
    /// The matched route's pattern, also when only the method was wrong.
    route_name: Option<Arc<str>>,
    /// The authenticated user id or service-token key id.
    caller: Option<String>,
    client_ip: std::net::IpAddr,
    rejection: Option<Rejection>,
}

/// Serves one request through every stage, then logs it.
pub async fn handle(
    gateway: Arc<Gateway>,
    peer: Peer,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    let request_id = sanitize::request_id(&parts, &peer);
    // The upstream gets the id the client gets back, never one an untrusted client chose.
    parts
        .headers
        .insert(X_REQUEST_ID.clone(), request_id.clone());
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();

    let mut outcome = Outcome {
        route_name: None,
        caller: None,
        client_ip: peer.ip,
        rejection: None,
    };
    let mut response = match run_stages(&gateway, &peer, parts, body, &mut outcome).await {
        Ok(response) => response,
        Err(rejection) => {
            let response = rejection.clone().into_response();
            outcome.rejection = Some(rejection);
            response
        }
    };
    response
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), request_id.clone());

    let entry = Entry {
        request_id: request_id.to_str().unwrap_or("-"),
        method: &method,
        path: &path,
        route: outcome.route_name.as_ref(),
        client_ip: outcome.client_ip,
        caller: outcome.caller.as_deref(),
        decision: outcome
            .rejection
            .as_ref()
            .map_or("allow", Rejection::decision),
        reason: outcome.rejection.as_ref().map_or("-", Rejection::reason),
    };
    access_log::record(&entry, response.status(), started.elapsed());
    response
}

async fn run_stages(
    gateway: &Gateway,
    peer: &Peer,
    mut parts: http::request::Parts,
    body: Incoming,
    outcome: &mut Outcome,
) -> Result<Response<ResponseBody>, Rejection> {
    let server = &gateway.config.server;

    // 1. sanitize: strip spoofable headers, check the host, refuse non-canonical paths.
    let uri = parts.uri.clone();
    let sanitized = sanitize::sanitize(&uri, &mut parts.headers, peer, server)?;
    outcome.client_ip = sanitized.client_ip;

    // 2. route: match the decoded path, then the method.
    if !route::is_known_method(&parts.method) {
        let allow = HeaderValue::from_static(route::ALL_KNOWN_METHODS);
        return Err(Rejection::MethodNotAllowed { allow });
    }
    let segments = sanitized.path.segments();
    let (route, params) = match gateway.config.router.find(segments, &parts.method) {
        Match::Found { value, params } => (Some(Arc::clone(value)), Some(params)),
        Match::MethodNotAllowed { allow, pattern } => {
            outcome.route_name = Some(Arc::from(pattern.to_string()));
            let allow = http::HeaderValue::from_str(allow)
                .map_err(|_| Rejection::InvalidHeader("allow"))?;
            return Err(Rejection::MethodNotAllowed { allow });
        }
        Match::NotFound if server.unmatched == Unmatched::Pass => (None, None),
        Match::NotFound => return Err(Rejection::RouteNotFound),
    };
    outcome.route_name = route.as_ref().map(|r| Arc::clone(&r.name));

    // 3. cors: refused at config load until built.

    // 4. auth: refuse a leaked service key on any route; verify the caller of a protected
    // route, then tell the upstream who it is.
    auth::guard::refuse_leaked_service_key(&parts.headers)?;
    if let Some(route) = route.as_ref().filter(|r| !r.auth.is_public()) {
        let identity = auth::authenticate(&route.auth, &parts.headers).await?;
        auth::add_identity_headers(&mut parts.headers, &identity)?;
        outcome.caller = identity
            .subject
            .or_else(|| identity.client.map(|c| c.to_string()));
    }

    // 5. rate limit: refused at config load until built.

    // 6. validate: path parameters, query and body against the route's schemas; a checked
    // body is read whole and forwarded byte for byte.
    let max_body = route.as_ref().map_or(server.max_body, |r| r.max_body);
    let body = match (route.as_ref().filter(|r| !r.validation.is_empty()), params) {
        (Some(route), Some(params)) => {
            let request = validate::Request {
                route: &route.name,
                segments,
                params,
                max_body,
                body_timeout: server.timeouts.body,
            };
            validate::validate(&route.validation, request, &parts, body).await?
        }
        _ => ClientBody::Streamed { body, max_body },
    };

    // 7. upstream: forward.
    gateway.upstream.forward(parts, body).await
}
