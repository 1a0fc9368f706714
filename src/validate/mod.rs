//! Stage 6, validate: what the caller sends, checked at the boundary.
//!
//! A route with a `body` schema takes only JSON (415 otherwise); the body is read whole up to
//! the route's limit, must be strict UTF-8 JSON with no duplicate or prototype-polluting keys
//! and bounded nesting, and is then forwarded byte for byte as received.

pub mod body_json;
pub mod media_type;
pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;
use hyper::body::Incoming;
use serde_json::{Map, Value};

use crate::body::{check_declared_length, read_whole};
use crate::error::{Issue, Rejection};
use crate::metrics::VALIDATION_FAILURES;
use crate::route::Params;
use crate::upstream::ClientBody;
use body_json::Limits;
use schema::CompiledSchema;

/// A route's validation: the schemas it names and how strictly bodies are read.
#[derive(Debug, Clone, Default)]
pub struct RouteValidation {
    /// The JSON Schema for the body.
    pub body: Option<Arc<CompiledSchema>>,
    /// The JSON Schema for the query string, as an object.
    pub query: Option<Arc<CompiledSchema>>,
    /// The JSON Schema for the path parameters, as an object.
    pub params: Option<Arc<CompiledSchema>>,
    /// Limits on the body's JSON before the schema runs.
    pub limits: Limits,
    /// Whether a 400 lists the failing locations (for development).
    pub expose_errors: bool,
}

impl RouteValidation {
    /// Whether the route validates anything.
    pub fn is_empty(&self) -> bool {
        self.body.is_none() && self.query.is_none() && self.params.is_none()
    }
}

/// What stage 6 needs to know about the request besides its head.
pub struct Request<'a> {
    /// The route's name, for metrics.
    pub route: &'a Arc<str>,
    /// The decoded path segments.
    pub segments: &'a [std::borrow::Cow<'a, str>],
    /// The route pattern's captured parameters.
    pub params: Params<'a>,
    /// The route's body limit.
    pub max_body: u64,
    /// How long the body may take.
    pub body_timeout: Duration,
}

/// Runs stage 6; returns the body to forward (read and checked when there is a body schema).
pub async fn validate(
    rules: &RouteValidation,
    request: Request<'_>,
    parts: &Parts,
    body: Incoming,
) -> Result<ClientBody, Rejection> {
    if let Some(schema) = &rules.params {
        let value = params_to_json(&request);
        check(rules, &request, "params", schema.validate(&value))?;
    }
    if let Some(schema) = &rules.query {
        let value = schema::query_to_json(parts.uri.query().unwrap_or(""), schema);
        check(rules, &request, "query", schema.validate(&value))?;
    }
    let Some(schema) = &rules.body else {
        return Ok(ClientBody::Streamed {
            body,
            max_body: request.max_body,
        });
    };

    if !media_type::is_json(&parts.headers) || !media_type::is_unencoded(&parts.headers) {
        count(&request, "content_type");
        return Err(Rejection::UnsupportedMediaType);
    }
    check_declared_length(&parts.headers, request.max_body)?;
    let bytes = read_whole(body, request.max_body, request.body_timeout).await?;
    let value = match body_json::check(&bytes, &rules.limits) {
        Ok(value) => value,
        Err(refused) => {
            count(&request, "body");
            let issues = rules.expose_errors.then(|| {
                vec![Issue {
                    pointer: refused.pointer().unwrap_or_default(),
                    message: refused.to_string(),
                }]
            });
            return Err(Rejection::InvalidBody {
                reason: refused.reason(),
                issues,
            });
        }
    };
    check(rules, &request, "body", schema.validate(&value))?;
    Ok(ClientBody::Buffered(bytes))
}

/// Turns a schema's verdict into a rejection, counted by route and part.
fn check(
    rules: &RouteValidation,
    request: &Request<'_>,
    part: &'static str,
    verdict: Result<(), Vec<schema::Issue>>,
) -> Result<(), Rejection> {
    let Err(issues) = verdict else {
        return Ok(());
    };
    count(request, part);
    let issues = rules.expose_errors.then(|| {
        issues
            .into_iter()
            .map(|issue| Issue {
                pointer: issue.pointer,
                message: issue.message,
            })
            .collect()
    });
    Err(Rejection::InvalidBody {
        reason: schema_reason(part),
        issues,
    })
}

fn schema_reason(part: &'static str) -> &'static str {
    match part {
        "params" => "params_schema",
        "query" => "query_schema",
        _ => "body_schema",
    }
}

fn count(request: &Request<'_>, part: &'static str) {
    let route: metrics::SharedString = Arc::clone(request.route).into();
    metrics::counter!(VALIDATION_FAILURES, "route" => route, "part" => part).increment(1);
}

/// The route's parameters as a JSON object: a catch-all's segments as an array.
fn params_to_json(request: &Request<'_>) -> Value {
    let mut object = Map::new();
    let pattern = request.params.pattern().to_string();
    for (name, range) in request.params.iter() {
        let segments = &request.segments[range.clone()];
        let catch_all = pattern.contains(&format!("...{name}]"));
        let value = if catch_all {
            Value::Array(
                segments
                    .iter()
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )
        } else {
            Value::String(segments.first().map(|s| s.to_string()).unwrap_or_default())
        };
        object.insert(name.to_owned(), value);
    }
    Value::Object(object)
}
