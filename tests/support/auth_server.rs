//! A stand-in for Supabase's auth server on loopback: a JWK set at `/jwks` and `getUser` at
//! `/auth/v1/user`, both changeable mid-test and counting their requests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// What the server answers, and what it saw.
#[derive(Debug, Default)]
pub struct AuthState {
    /// The JWK set served at `/jwks`; `None` answers 503.
    pub jwks: Option<String>,
    /// Tokens `/auth/v1/user` accepts, with the user id it answers for each.
    pub users: Vec<(String, String)>,
    /// Whether `/auth/v1/user` answers 503 to everything.
    pub user_down: bool,
    /// Requests to `/jwks`.
    pub jwks_fetches: usize,
    /// Requests to `/auth/v1/user`, with their `apikey` header.
    pub user_calls: Vec<Option<String>>,
}

/// The running server.
pub struct AuthServer {
    /// Its address.
    pub addr: SocketAddr,
    /// Its state, shared with the handler.
    pub state: Arc<Mutex<AuthState>>,
}

impl AuthServer {
    /// Starts the server on a free loopback port.
    pub async fn start() -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(AuthState::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&state), request));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        AuthServer { addr, state }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn answer(
    state: Arc<Mutex<AuthState>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut state = state.lock().unwrap();
    let (status, body) = match request.uri().path() {
        "/jwks" => {
            state.jwks_fetches += 1;
            match &state.jwks {
                Some(jwks) => (StatusCode::OK, jwks.clone()),
                None => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
            }
        }
        "/auth/v1/user" => {
            let apikey = request
                .headers()
                .get("apikey")
                .map(|v| v.to_str().unwrap().to_owned());
            state.user_calls.push(apikey);
            let token = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default()
                .to_owned();
            let user = state
                .users
                .iter()
                .find(|(t, _)| *t == token)
                .map(|(_, id)| id.clone());
            match (state.user_down, user) {
                (true, _) => (StatusCode::SERVICE_UNAVAILABLE, String::new()),
                (false, Some(id)) => {
                    let body = serde_json::json!({ "id": id, "role": "authenticated" });
                    (StatusCode::OK, body.to_string())
                }
                (false, None) => (StatusCode::UNAUTHORIZED, "{\"msg\":\"invalid\"}".to_owned()),
            }
        }
        _ => (StatusCode::NOT_FOUND, String::new()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "cache-control",
        http::HeaderValue::from_static("max-age=600"),
    );
    Ok(response)
}
