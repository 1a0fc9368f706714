//! Stage 6, validate: what the caller sends, checked at the boundary.
//!
//! A route with a `body` schema takes only JSON (415 otherwise); the body is read whole up to
//! the route's limit, must be strict UTF-8 JSON with no duplicate or prototype-polluting keys
//! and bounded nesting, and is then forwarded byte for byte as received.

pub mod body_json;
pub mod media_type;
