//! The configuration file exactly as written: serde types that mirror `palisade.toml`.
//!
//! Every table denies unknown keys, so a typo in a security setting is an error rather than a
//! protection silently switched off. Values stay strings here; `config::validate` turns them
//! into checked types and names the key when one is wrong.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: RawServer,
    pub admin: Option<RawAdmin>,
    /// `[auth.NAME]` provider tables; recognised, validated once authentication exists.
    #[serde(default)]
    pub auth: BTreeMap<String, Spanned<toml::Value>>,
    pub cors: Option<Spanned<toml::Value>>,
    pub rate_limit: Option<Spanned<toml::Value>>,
    pub secrets: Option<Spanned<toml::Value>>,
    #[serde(default, rename = "route")]
    pub routes: Vec<RawRoute>,
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Spanned<String>,
    pub upstream: Spanned<String>,
    pub public_origin: Option<Spanned<String>>,
    #[serde(default)]
    pub trusted_proxies: Vec<Spanned<String>>,
    pub max_body: Option<Spanned<String>>,
    pub unmatched: Option<Spanned<String>>,
    pub hosts: Option<Vec<Spanned<String>>>,
    pub tls: Option<RawTls>,
    pub header_timeout: Option<Spanned<String>>,
    pub body_timeout: Option<Spanned<String>>,
    pub idle_timeout: Option<Spanned<String>>,
    pub upstream_timeout: Option<Spanned<String>>,
    pub shutdown_timeout: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<u32>>,
}

/// `[server] tls = { cert = "file:…", key = "file:…" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: Spanned<String>,
    pub key: Spanned<String>,
}

/// `[admin]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Spanned<String>,
}

/// One `[[route]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub path: Spanned<String>,
    pub methods: Option<Spanned<Vec<String>>>,
    /// Required: a provider name, `"none"`, or a list of provider names.
    pub auth: Option<Spanned<toml::Value>>,
    pub max_body: Option<Spanned<String>>,
    // Protections that later stages implement; recognised now so that asking for one fails
    // loudly instead of being ignored.
    pub rate_limit: Option<Spanned<toml::Value>>,
    pub body: Option<Spanned<toml::Value>>,
    pub query: Option<Spanned<toml::Value>>,
    pub params: Option<Spanned<toml::Value>>,
    pub require: Option<Spanned<toml::Value>>,
    pub cors: Option<Spanned<toml::Value>>,
    pub strict: Option<Spanned<bool>>,
    pub expose_errors: Option<Spanned<bool>>,
    pub allow_prototype_keys: Option<Spanned<bool>>,
}
