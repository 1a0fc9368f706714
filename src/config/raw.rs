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
    /// `[auth.NAME]` provider tables.
    #[serde(default)]
    pub auth: BTreeMap<String, RawProvider>,
    pub cors: Option<Spanned<toml::Value>>,
    pub rate_limit: Option<Spanned<toml::Value>>,
    pub secrets: Option<Spanned<toml::Value>>,
    pub validation: Option<RawValidation>,
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
    pub send_timeout: Option<Spanned<String>>,
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

/// `[validation]`: defaults for every route's input checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawValidation {
    pub expose_errors: Option<Spanned<bool>>,
    pub max_depth: Option<Spanned<i64>>,
}

/// One `[auth.NAME]` provider. Which keys apply depends on `kind`; the checker refuses keys
/// of another kind by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: Spanned<String>,
    // kind = "jwt"
    pub jwks_url: Option<Spanned<String>>,
    pub jwks_file: Option<Spanned<String>>,
    pub public_key: Option<Spanned<String>>,
    pub secret: Option<Spanned<String>>,
    pub algorithm: Option<Spanned<String>>,
    pub issuer: Option<Spanned<String>>,
    pub audience: Option<Spanned<toml::Value>>,
    pub leeway: Option<Spanned<String>>,
    pub required_claims: Option<Spanned<Vec<String>>>,
    pub cookie: Option<Spanned<String>>,
    pub fallback: Option<Spanned<String>>,
    // kind = "remote"
    pub url: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, String>>>,
    pub cache: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    // kind = "token"
    pub header: Option<Spanned<String>>,
    pub keys: Option<Spanned<Vec<RawTokenKey>>>,
}

/// One key of a `token` provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenKey {
    pub id: String,
    pub value: String,
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
