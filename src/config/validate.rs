//! Raw config to checked config: each value is parsed and bounded, and every problem is
//! collected with its key and position so one run of `palisade check` shows them all.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::Method;
use toml::Spanned;

use super::raw::{RawConfig, RawRoute};
use super::units::parse_size;
use super::{Admin, Config, LoadError, Problem, Route};
use crate::route::{KNOWN_METHODS, Pattern, Router};
use server::{check_server, listeners_clash, parse_listen};

const SECOND: Duration = Duration::from_secs(1);
const MILLI: Duration = Duration::from_millis(1);
const HOUR: Duration = Duration::from_secs(3600);

/// The largest `max_body` accepted: a gateway that buffers bodies must bound them.
const MAX_BODY_CEILING: u64 = 1 << 30;

/// Says why a protection that the file asks for cannot run in this build.
fn not_built(what: &str) -> String {
    format!(
        "{what} is recognised but not implemented in this build of palisade yet; \
         palisade refuses to run without a protection the config asks for, \
         so remove this setting or use a build that has it"
    )
}

/// Collects problems against one file.
struct Checker<'a> {
    text: &'a str,
    file: &'a Path,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn position(&self, span: Range<usize>) -> (usize, usize) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (line, column)
    }

    fn report(&mut self, key: impl Into<String>, span: Option<Range<usize>>, message: String) {
        let position = span.map(|s| self.position(s));
        self.problems.push(Problem {
            file: self.file.to_owned(),
            position,
            key: key.into(),
            message,
        });
    }

    /// Runs `parse` on a spanned value, reporting its error against `key`.
    fn check<T, U>(
        &mut self,
        key: &str,
        value: &Spanned<T>,
        parse: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<U> {
        match parse(value.get_ref()) {
            Ok(v) => Some(v),
            Err(message) => {
                self.report(key, Some(value.span()), message);
                None
            }
        }
    }
}

/// Parses and checks a whole file.
pub(super) fn parse(text: &str, file: &Path, base_dir: &Path) -> Result<Config, LoadError> {
    let mut checker = Checker {
        text,
        file,
        problems: Vec::new(),
    };
    let raw = match deserialize(text) {
        Ok(raw) => raw,
        Err((key, span, message)) => {
            checker.report(key, span, message);
            return Err(LoadError {
                problems: checker.problems,
            });
        }
    };

    let mut warnings = Vec::new();
    refuse_unbuilt_sections(&mut checker, &raw);
    let server = check_server(&mut checker, &raw.server, base_dir, &mut warnings);
    let admin = raw.admin.as_ref().and_then(|admin| {
        let listen = checker.check("admin.listen", &admin.listen, |s| parse_listen(s))?;
        // From the text, so a clash is reported even when another server key is wrong.
        if let Ok(server_listen) = parse_listen(raw.server.listen.get_ref())
            && let Some(clash) = listeners_clash(listen, server_listen)
        {
            checker.report("admin.listen", Some(admin.listen.span()), clash);
            return None;
        }
        if !listen.ip().is_loopback() {
            warnings.push(format!(
                "admin.listen {listen} is not a loopback address; /metrics must never be public"
            ));
        }
        Some(Admin { listen })
    });
    let providers = auth::check_providers(&mut checker, &raw.auth, base_dir);
    let broken: Vec<String> = raw
        .auth
        .keys()
        .filter(|name| !providers.contains_key(*name))
        .cloned()
        .collect();
    let max_body = server.as_ref().map_or(1 << 20, |s| s.max_body);
    let validation = validation::check_defaults(&mut checker, raw.validation.as_ref());
    let context = RouteContext {
        providers: &providers,
        broken: &broken,
        max_body,
        base_dir,
        validation,
    };
    let routes = check_routes(&mut checker, &raw.routes, &context, &mut warnings);
    if let Some((routes, _)) = &routes {
        for name in providers.keys() {
            let used = routes
                .iter()
                .any(|r| r.auth.providers.iter().any(|p| p.name() == name));
            if !used {
                warnings.push(format!("auth.{name} is not used by any route"));
            }
        }
    }

    match (server, routes) {
        (Some(server), Some((routes, router))) if checker.problems.is_empty() => Ok(Config {
            server,
            admin,
            providers,
            routes,
            router,
            warnings,
        }),
        _ => Err(LoadError {
            problems: checker.problems,
        }),
    }
}

/// Deserializes the raw file, turning a serde error into a key, a span and a message.
fn deserialize(text: &str) -> Result<RawConfig, (String, Option<Range<usize>>, String)> {
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| (String::new(), e.span(), e.message().trim().to_owned()))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = key_of(e.path());
        let inner = e.into_inner();
        let mut message = inner.message().trim().to_owned();
        if key == "route" && message.contains("expected a sequence") {
            message.push_str("; each route is a [[route]] table (two brackets)");
        }
        if message.contains("expected a string") && is_unit_key(&key) {
            message.push_str("; write it with a unit, such as \"30s\" or \"1MiB\"");
        }
        (key, inner.span(), message)
    })
}

/// Whether `key` takes a duration or size string, which people often write as a bare number.
fn is_unit_key(key: &str) -> bool {
    key.ends_with("_timeout") || key.ends_with("max_body")
}

/// The dotted key of a deserializer path, such as `route[2].path`, without the private fields
/// through which `toml::Spanned` deserializes (`$__serde_spanned_private_value` and the like).
fn key_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if name.starts_with("$__serde_spanned_private_") {
                    continue;
                }
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    key
}

fn refuse_unbuilt_sections(checker: &mut Checker<'_>, raw: &RawConfig) {
    if let Some(cors) = &raw.cors {
        checker.report("cors", Some(cors.span()), not_built("CORS"));
    }
    if let Some(limits) = &raw.rate_limit {
        checker.report(
            "rate_limit",
            Some(limits.span()),
            not_built("rate limiting"),
        );
    }
    if let Some(secrets) = &raw.secrets {
        checker.report(
            "secrets",
            Some(secrets.span()),
            not_built("the [secrets] table"),
        );
    }
}

/// Checked routes in file order, and the same routes indexed for matching.
type CheckedRoutes = (Vec<Arc<Route>>, Router<Arc<Route>>);

/// What every route is checked against.
struct RouteContext<'a> {
    providers: &'a auth::Providers,
    /// Providers whose own tables have errors, so routes naming them need not say so again.
    broken: &'a [String],
    /// `server.max_body`, the default for routes.
    max_body: u64,
    /// The config's folder, for schema files.
    base_dir: &'a Path,
    /// `[validation]`.
    validation: validation::Defaults,
}

fn check_routes(
    checker: &mut Checker<'_>,
    raw: &[RawRoute],
    context: &RouteContext<'_>,
    warnings: &mut Vec<String>,
) -> Option<CheckedRoutes> {
    if raw.is_empty() {
        warnings.push("no [[route]] is configured".to_owned());
    }
    let mut routes = Vec::with_capacity(raw.len());
    let mut router = Router::new();
    let mut ok = true;
    for (index, raw_route) in raw.iter().enumerate() {
        let Some(route) = check_route(checker, index, raw_route, context) else {
            ok = false;
            continue;
        };
        let route = Arc::new(route);
        if let Err(conflict) = router.insert(
            route.pattern.clone(),
            route.methods.clone(),
            Arc::clone(&route),
        ) {
            let key = format!("route[{index}].path");
            checker.report(key, Some(raw_route.path.span()), conflict.to_string());
            ok = false;
        }
        routes.push(route);
    }
    ok.then_some((routes, router))
}

fn check_route(
    checker: &mut Checker<'_>,
    index: usize,
    raw: &RawRoute,
    context: &RouteContext<'_>,
) -> Option<Route> {
    let key = |name: &str| format!("route[{index}].{name}");
    let unbuilt: [(&str, Option<Range<usize>>, &str); 2] = [
        (
            "rate_limit",
            raw.rate_limit.as_ref().map(|v| v.span()),
            "rate limiting",
        ),
        (
            "cors",
            raw.cors.as_ref().map(|v| v.span()),
            "per-route CORS",
        ),
    ];
    for (name, span, what) in unbuilt {
        if let Some(span) = span {
            checker.report(key(name), Some(span), not_built(what));
        }
    }
    let validation = validation::check_route_validation(
        checker,
        index,
        raw,
        context.base_dir,
        context.validation,
    );

    let pattern = checker.check(&key("path"), &raw.path, |p| {
        p.parse::<Pattern>()
            .map_err(|e| format!("`{p}` is not a route pattern: {e}"))
    });
    let methods = match &raw.methods {
        Some(list) => checker
            .check(&key("methods"), list, |m| parse_methods(m))
            .map(Some),
        None => Some(None),
    };
    let auth = auth::check_route_auth(checker, index, raw, context.providers, context.broken);
    let max_body = match &raw.max_body {
        Some(size) => checker.check(&key("max_body"), size, |s| {
            parse_size(s, 1, MAX_BODY_CEILING)
        }),
        None => Some(context.max_body),
    };

    let pattern = pattern?;
    Some(Route {
        index,
        name: Arc::from(pattern.to_string()),
        pattern,
        methods: methods?,
        auth: auth?,
        validation: validation?,
        max_body: max_body?,
    })
}

fn parse_methods(list: &[String]) -> Result<Vec<Method>, String> {
    if list.is_empty() {
        return Err("is empty, so the route would answer nothing; omit it for all methods".into());
    }
    let mut methods = Vec::with_capacity(list.len());
    for name in list {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "`{name}` is not an upper-case method name such as \"GET\""
            ));
        }
        let method = Method::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a method name"))?;
        // A typo would make a route that never matches; these are what Next.js route
        // handlers export.
        if !KNOWN_METHODS.contains(&name.as_str()) {
            return Err(format!(
                "`{name}` is not one of {}",
                KNOWN_METHODS.join(", ")
            ));
        }
        if methods.contains(&method) {
            return Err(format!("`{name}` is listed twice"));
        }
        methods.push(method);
    }
    Ok(methods)
}

mod auth;
mod server;
mod validation;

#[cfg(test)]
mod tests;
