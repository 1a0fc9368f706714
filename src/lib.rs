//! palisade: a security gateway for web APIs.
//!
//! It runs as a reverse proxy in front of an application server and applies, route by route,
//! the protections an API needs. The request pipeline's stages are modules, in order:
//! [`sanitize`], [`route`], then (as they are built) CORS, auth, rate limiting and validation,
//! and finally [`upstream`]. [`pipeline`] runs them; [`server`] owns the listeners.

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod body;
pub mod check;
pub mod config;
pub mod connection;
pub mod demo;
pub mod error;
pub mod metrics;
pub mod pipeline;
pub mod secret;
pub mod server;

// The request pipeline's stages, in the order a request meets them.
pub mod route;
pub mod sanitize;
pub mod upstream;
pub mod validate;
