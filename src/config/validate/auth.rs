//! `[auth.NAME]` providers and each route's `auth` and `require`, checked.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use super::{Checker, not_built};
use crate::auth::require::Requirements;
use crate::auth::token::TokenProvider;
use crate::auth::{Provider, RouteAuth};
use crate::config::raw::{RawProvider, RawRoute};
use crate::secret;

/// Checked providers by name.
pub(super) type Providers = BTreeMap<String, Arc<Provider>>;

/// Checks every `[auth.NAME]` table.
pub(super) fn check_providers(
    checker: &mut Checker<'_>,
    raw: &BTreeMap<String, RawProvider>,
    base_dir: &Path,
) -> Providers {
    let mut providers = Providers::new();
    for (name, table) in raw {
        if name == "none" {
            let message = "`none` means a public route and cannot name a provider".to_owned();
            checker.report(format!("auth.{name}"), Some(table.kind.span()), message);
            continue;
        }
        if let Some(provider) = check_provider(checker, name, table, base_dir) {
            providers.insert(name.clone(), Arc::new(provider));
        }
    }
    providers
}

fn check_provider(
    checker: &mut Checker<'_>,
    name: &str,
    raw: &RawProvider,
    base_dir: &Path,
) -> Option<Provider> {
    let key = |field: &str| format!("auth.{name}.{field}");
    match raw.kind.get_ref().as_str() {
        "token" => {
            refuse_foreign(checker, name, "token", &token_foreign(raw));
            let header = raw.header.as_ref().map_or("authorization", |h| h.get_ref());
            let Some(keys) = &raw.keys else {
                let message = "a token provider needs `keys`".to_owned();
                checker.report(key("kind"), Some(raw.kind.span()), message);
                return None;
            };
            let mut resolved = Vec::with_capacity(keys.get_ref().len());
            for (i, entry) in keys.get_ref().iter().enumerate() {
                let key = format!("auth.{name}.keys[{i}].value");
                match secret::resolve(&entry.value, base_dir) {
                    Ok(value) => resolved.push((entry.id.clone(), value)),
                    Err(message) => checker.report(key, Some(keys.span()), message),
                }
            }
            if resolved.len() != keys.get_ref().len() {
                return None;
            }
            match TokenProvider::new(name, header, resolved) {
                Ok(provider) => Some(Provider::Token(provider)),
                Err(message) => {
                    checker.report(key("keys"), Some(keys.span()), message);
                    None
                }
            }
        }
        "jwt" => {
            checker.report(
                key("kind"),
                Some(raw.kind.span()),
                not_built("`jwt` authentication"),
            );
            None
        }
        "remote" => {
            let message = not_built("`remote` authentication");
            checker.report(key("kind"), Some(raw.kind.span()), message);
            None
        }
        other => {
            let message = format!("`{other}` is not one of \"jwt\", \"remote\" or \"token\"");
            checker.report(key("kind"), Some(raw.kind.span()), message);
            None
        }
    }
}

/// The keys set on a token provider that belong to other kinds.
fn token_foreign(raw: &RawProvider) -> Vec<(&'static str, Option<std::ops::Range<usize>>)> {
    fn span<T>(value: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
        value.as_ref().map(Spanned::span)
    }
    vec![
        ("jwks_url", span(&raw.jwks_url)),
        ("jwks_file", span(&raw.jwks_file)),
        ("public_key", span(&raw.public_key)),
        ("secret", span(&raw.secret)),
        ("algorithm", span(&raw.algorithm)),
        ("issuer", span(&raw.issuer)),
        ("audience", span(&raw.audience)),
        ("leeway", span(&raw.leeway)),
        ("required_claims", span(&raw.required_claims)),
        ("cookie", span(&raw.cookie)),
        ("fallback", span(&raw.fallback)),
        ("url", span(&raw.url)),
        ("headers", span(&raw.headers)),
        ("cache", span(&raw.cache)),
        ("timeout", span(&raw.timeout)),
    ]
}

fn refuse_foreign(
    checker: &mut Checker<'_>,
    name: &str,
    kind: &str,
    fields: &[(&'static str, Option<std::ops::Range<usize>>)],
) {
    for (field, span) in fields {
        if let Some(span) = span {
            let message = format!("`{field}` is not a setting of a {kind} provider");
            checker.report(format!("auth.{name}.{field}"), Some(span.clone()), message);
        }
    }
}

/// Checks a route's `auth` and `require` against the providers.
pub(super) fn check_route_auth(
    checker: &mut Checker<'_>,
    index: usize,
    raw: &RawRoute,
    providers: &Providers,
    known_bad: &[String],
) -> Option<RouteAuth> {
    let key = |field: &str| format!("route[{index}].{field}");
    let Some(value) = &raw.auth else {
        let message = "the route has no `auth`: say auth = \"none\" for a public route, \
                       so that no route is left open by omission"
            .to_owned();
        checker.report(key("path"), Some(raw.path.span()), message);
        return None;
    };
    let names: Vec<&str> = match value.get_ref() {
        toml::Value::String(name) => vec![name.as_str()],
        toml::Value::Array(items) => {
            let names: Option<Vec<&str>> = items.iter().map(toml::Value::as_str).collect();
            let Some(names) = names.filter(|n| !n.is_empty()) else {
                let message = "must list provider names, such as [\"supabase\", \"cron\"]";
                checker.report(key("auth"), Some(value.span()), message.to_owned());
                return None;
            };
            names
        }
        other => {
            let message = format!(
                "must be a provider name, \"none\" or a list of provider names, not a {}",
                other.type_str()
            );
            checker.report(key("auth"), Some(value.span()), message);
            return None;
        }
    };

    let require = match &raw.require {
        Some(table) => match Requirements::from_toml(table.get_ref()) {
            Ok(require) => Some(require),
            Err(message) => {
                checker.report(key("require"), Some(table.span()), message);
                return None;
            }
        },
        None => None,
    };

    if names == ["none"] {
        if let Some(table) = &raw.require {
            let message = "a public route (auth = \"none\") has no caller to require claims of";
            checker.report(key("require"), Some(table.span()), message.to_owned());
            return None;
        }
        return Some(RouteAuth {
            providers: Vec::new(),
            require: Requirements::default(),
        });
    }
    let mut chosen = Vec::with_capacity(names.len());
    for name in names {
        if name == "none" {
            let message = "mixes \"none\" with providers: a route is either public or not";
            checker.report(key("auth"), Some(value.span()), message.to_owned());
            return None;
        }
        match providers.get(name) {
            Some(provider) if !chosen.iter().any(|p: &Arc<Provider>| p.name() == name) => {
                chosen.push(Arc::clone(provider));
            }
            Some(_) => {
                let message = format!("lists `{name}` twice");
                checker.report(key("auth"), Some(value.span()), message);
                return None;
            }
            // Its own table already has an error; don't report the same provider twice.
            None if known_bad.iter().any(|bad| bad == name) => return None,
            None => {
                let message = format!("`{name}` is not a provider: there is no [auth.{name}]");
                checker.report(key("auth"), Some(value.span()), message);
                return None;
            }
        }
    }
    Some(RouteAuth {
        providers: chosen,
        require: require.unwrap_or_default(),
    })
}
