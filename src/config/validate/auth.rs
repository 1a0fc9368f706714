//! `[auth.NAME]` providers and each route's `auth` and `require`, checked.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use toml::Spanned;

use http::{HeaderName, HeaderValue};

use super::Checker;
use crate::auth::jwks::{JwksSettings, JwksSource};
use crate::auth::jwt::{JwtProvider, KeySet, Rules};
use crate::auth::remote::{RemoteAuth, RemoteProvider, RemoteSettings};
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
    // Remote providers first: a jwt provider may name one as its fallback.
    let remote_first = raw.iter().filter(|(_, t)| t.kind.get_ref() == "remote");
    let others = raw.iter().filter(|(_, t)| t.kind.get_ref() != "remote");
    for (name, table) in remote_first.chain(others) {
        if name == "none" {
            let message = "`none` means a public route and cannot name a provider".to_owned();
            checker.report(format!("auth.{name}"), Some(table.kind.span()), message);
            continue;
        }
        if let Some(provider) = check_provider(checker, name, table, base_dir, &providers) {
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
    checked: &Providers,
) -> Option<Provider> {
    let key = |field: &str| format!("auth.{name}.{field}");
    match raw.kind.get_ref().as_str() {
        "token" => {
            refuse_foreign(checker, name, "token", raw);
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
        "jwt" => check_jwt(checker, name, raw, base_dir, checked).map(Provider::Jwt),
        "remote" => check_remote(checker, name, raw, base_dir).map(Provider::Remote),
        other => {
            let message = format!("`{other}` is not one of \"jwt\", \"remote\" or \"token\"");
            checker.report(key("kind"), Some(raw.kind.span()), message);
            None
        }
    }
}

fn check_jwt(
    checker: &mut Checker<'_>,
    name: &str,
    raw: &RawProvider,
    base_dir: &Path,
    checked: &Providers,
) -> Option<JwtProvider> {
    let key = |field: &str| format!("auth.{name}.{field}");
    refuse_foreign(checker, name, "jwt", raw);
    let errors_before = checker.problems.len();
    let fetched = match &raw.jwks_url {
        Some(url) => checker.check(&key("jwks_url"), url, |u| {
            JwksSource::new(name, u, JwksSettings::default())
        }),
        None => None,
    };
    let fallback = match &raw.fallback {
        Some(fallback) => checker.check(&key("fallback"), fallback, |f| {
            match checked.get(f).map(|p| &**p) {
                Some(Provider::Remote(remote)) => Ok(Arc::clone(remote.provider())),
                Some(_) => Err(format!(
                    "`{f}` is not a remote provider; a fallback asks the auth server"
                )),
                None => Err(format!("there is no remote provider [auth.{f}]")),
            }
        }),
        None => None,
    };

    let algorithm = match &raw.algorithm {
        Some(text) => checker.check(&key("algorithm"), text, |a| {
            a.parse::<jsonwebtoken::Algorithm>()
                .map(Some)
                .map_err(|_| format!("`{a}` is not a JWS algorithm such as \"ES256\" or \"RS256\""))
        })?,
        None => None,
    };
    let mut keys: Option<KeySet> = None;
    let sources = [
        ("secret", &raw.secret),
        ("public_key", &raw.public_key),
        ("jwks_file", &raw.jwks_file),
    ];
    for (field, value) in sources {
        let Some(value) = value else { continue };
        let set = match field {
            "secret" => secret::resolve(value.get_ref(), base_dir).and_then(|secret| {
                KeySet::from_secret(secret.expose(), algorithm).map_err(|e| e.to_string())
            }),
            "public_key" => read_file(value.get_ref(), base_dir).and_then(|pem| {
                KeySet::from_public_pem(&pem, algorithm).map_err(|e| e.to_string())
            }),
            _ => read_file(value.get_ref(), base_dir)
                .and_then(|json| KeySet::from_jwks(&json).map_err(|e| e.to_string())),
        };
        let merged = set.and_then(|set| match keys.take() {
            Some(existing) => existing.merge(set).map_err(|e| e.to_string()),
            None => Ok(set),
        });
        match merged {
            Ok(merged) => keys = Some(merged),
            Err(message) => checker.report(key(field), Some(value.span()), message),
        }
    }
    let no_source = sources.iter().all(|(_, value)| value.is_none());
    if no_source && raw.jwks_url.is_none() {
        let message = "a jwt provider needs a key source: `jwks_url`, `jwks_file`, \
                       `public_key` or `secret`"
            .to_owned();
        checker.report(key("kind"), Some(raw.kind.span()), message);
    }

    let mut rules = Rules {
        issuer: raw.issuer.as_ref().map(|issuer| issuer.get_ref().clone()),
        ..Rules::default()
    };
    if let Some(audience) = &raw.audience {
        rules.audience = checker.check(&key("audience"), audience, |value| match value {
            toml::Value::String(one) => Ok(vec![one.clone()]),
            toml::Value::Array(items) if !items.is_empty() => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| "must be a string or a list of strings".to_owned()),
            _ => Err("must be a string or a non-empty list of strings".to_owned()),
        });
    }
    if let Some(leeway) = &raw.leeway {
        let max = crate::auth::jwt::MAX_LEEWAY;
        let parsed = checker.check(&key("leeway"), leeway, |text| {
            crate::config::parse_duration(text, std::time::Duration::ZERO, max)
        });
        if let Some(value) = parsed {
            rules.leeway = value;
        }
    }
    if let Some(claims) = &raw.required_claims {
        rules.required_claims = claims.get_ref().clone();
    }
    let cookie = check_cookie(checker, name, raw);

    if checker.problems.len() > errors_before || (keys.is_none() && fetched.is_none()) {
        return None;
    }
    Some(JwtProvider::new(
        name, fetched, keys, rules, cookie, fallback,
    ))
}

fn check_remote(
    checker: &mut Checker<'_>,
    name: &str,
    raw: &RawProvider,
    base_dir: &Path,
) -> Option<RemoteAuth> {
    let key = |field: &str| format!("auth.{name}.{field}");
    refuse_foreign(checker, name, "remote", raw);
    let errors_before = checker.problems.len();

    let Some(url) = &raw.url else {
        let message = "a remote provider needs `url`, such as \
                       \"https://PROJECT.supabase.co/auth/v1/user\""
            .to_owned();
        checker.report(key("kind"), Some(raw.kind.span()), message);
        return None;
    };
    let mut settings = RemoteSettings::new(url.get_ref().clone());
    if let Some(headers) = &raw.headers {
        for (header, reference) in headers.get_ref() {
            let field = format!("auth.{name}.headers.{header}");
            let Ok(header_name) = HeaderName::from_bytes(header.as_bytes()) else {
                let message = format!("`{header}` is not a header name");
                checker.report(field, Some(headers.span()), message);
                continue;
            };
            let value = secret::resolve(reference, base_dir).and_then(|secret| {
                HeaderValue::from_bytes(secret.expose())
                    .map_err(|_| "the value cannot be sent in a header".to_owned())
            });
            match value {
                Ok(value) => settings.headers.push((header_name, value)),
                Err(message) => checker.report(field, Some(headers.span()), message),
            }
        }
    }
    let minute = Duration::from_secs(60);
    if let Some(cache) = &raw.cache {
        let parsed = checker.check(&key("cache"), cache, |c| {
            crate::config::parse_duration(c, Duration::ZERO, 60 * minute)
        });
        if let Some(ttl) = parsed {
            settings.cache_ttl = ttl;
        }
    }
    if let Some(timeout) = &raw.timeout {
        let parsed = checker.check(&key("timeout"), timeout, |t| {
            crate::config::parse_duration(t, Duration::from_millis(10), minute)
        });
        if let Some(timeout) = parsed {
            settings.timeout = timeout;
        }
    }
    let cookie = check_cookie(checker, name, raw);
    if checker.problems.len() > errors_before {
        return None;
    }
    match RemoteProvider::new(name, settings) {
        Ok(provider) => Some(RemoteAuth::new(Arc::new(provider), cookie)),
        Err(message) => {
            checker.report(key("url"), Some(url.span()), message);
            None
        }
    }
}

fn check_cookie(checker: &mut Checker<'_>, name: &str, raw: &RawProvider) -> Option<String> {
    let cookie = raw.cookie.as_ref()?;
    checker.check(&format!("auth.{name}.cookie"), cookie, |n| {
        let valid = !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if valid {
            Ok(n.clone())
        } else {
            Err(format!("`{n}` is not a cookie name"))
        }
    })
}

/// Reads a key file named by a plain path or a `file:` reference, relative to the config.
fn read_file(path: &str, base_dir: &Path) -> Result<Vec<u8>, String> {
    let path = path.strip_prefix("file:").unwrap_or(path);
    let full = base_dir.join(path);
    let metadata =
        std::fs::metadata(&full).map_err(|e| format!("cannot read `{}`: {e}", full.display()))?;
    if !metadata.is_file() || metadata.len() > 1 << 20 {
        return Err(format!(
            "`{}` is not a regular file under 1 MiB",
            full.display()
        ));
    }
    std::fs::read(&full).map_err(|e| format!("cannot read `{}`: {e}", full.display()))
}

/// A provider setting: its name, where it is set (if it is), and the kinds it belongs to.
type Setting = (&'static str, Option<Range<usize>>, &'static [&'static str]);

/// Every provider setting, with the kinds it belongs to.
fn settings(raw: &RawProvider) -> [Setting; 17] {
    fn span<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
        value.as_ref().map(Spanned::span)
    }
    const JWT: &[&str] = &["jwt"];
    const USER: &[&str] = &["jwt", "remote"];
    const REMOTE: &[&str] = &["remote"];
    const TOKEN: &[&str] = &["token"];
    [
        ("jwks_url", span(&raw.jwks_url), JWT),
        ("jwks_file", span(&raw.jwks_file), JWT),
        ("public_key", span(&raw.public_key), JWT),
        ("secret", span(&raw.secret), JWT),
        ("algorithm", span(&raw.algorithm), JWT),
        ("issuer", span(&raw.issuer), JWT),
        ("audience", span(&raw.audience), JWT),
        ("leeway", span(&raw.leeway), JWT),
        ("required_claims", span(&raw.required_claims), JWT),
        ("fallback", span(&raw.fallback), JWT),
        ("cookie", span(&raw.cookie), USER),
        ("url", span(&raw.url), REMOTE),
        ("headers", span(&raw.headers), REMOTE),
        ("cache", span(&raw.cache), REMOTE),
        ("timeout", span(&raw.timeout), REMOTE),
        ("header", span(&raw.header), TOKEN),
        ("keys", span(&raw.keys), TOKEN),
    ]
}

/// Reports every setting that belongs to another kind of provider.
fn refuse_foreign(checker: &mut Checker<'_>, name: &str, kind: &str, raw: &RawProvider) {
    for (field, span, kinds) in settings(raw) {
        if let Some(span) = span.filter(|_| !kinds.contains(&kind)) {
            let message = format!("`{field}` is not a setting of a {kind} provider");
            checker.report(format!("auth.{name}.{field}"), Some(span), message);
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
