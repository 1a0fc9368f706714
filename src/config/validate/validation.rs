//! A route's `body`, `query` and `params` schemas and the `[validation]` table, checked and
//! compiled once at load.

use std::path::Path;
use std::sync::Arc;

use toml::Spanned;

use super::Checker;
use crate::config::raw::{RawRoute, RawValidation};
use crate::validate::RouteValidation;
use crate::validate::body_json::{Limits, MAX_DEPTH_CEILING};
use crate::validate::schema::{CompiledSchema, SchemaOptions, Source};

/// The `[validation]` table, checked.
#[derive(Debug, Clone, Copy)]
pub(super) struct Defaults {
    expose_errors: bool,
    max_depth: usize,
}

/// Checks `[validation]`.
pub(super) fn check_defaults(checker: &mut Checker<'_>, raw: Option<&RawValidation>) -> Defaults {
    let mut defaults = Defaults {
        expose_errors: false,
        max_depth: Limits::default().max_depth,
    };
    let Some(raw) = raw else {
        return defaults;
    };
    if let Some(expose) = &raw.expose_errors {
        defaults.expose_errors = *expose.get_ref();
    }
    if let Some(depth) = &raw.max_depth {
        let checked = checker.check("validation.max_depth", depth, |d| match *d {
            d if (1..=MAX_DEPTH_CEILING as i64).contains(&d) => Ok(d as usize),
            _ => Err(format!("must be between 1 and {MAX_DEPTH_CEILING}")),
        });
        if let Some(depth) = checked {
            defaults.max_depth = depth;
        }
    }
    defaults
}

/// Compiles a route's schemas; errors name the route key and the schema's location.
pub(super) fn check_route_validation(
    checker: &mut Checker<'_>,
    index: usize,
    raw: &RawRoute,
    base_dir: &Path,
    defaults: Defaults,
) -> Option<RouteValidation> {
    let key = |field: &str| format!("route[{index}].{field}");
    let strict = raw.strict.as_ref().is_none_or(|s| *s.get_ref());
    let options = SchemaOptions {
        strict,
        ..SchemaOptions::default()
    };
    let errors_before = checker.problems.len();

    let mut compile = |field: &str, value: &Option<Spanned<toml::Value>>| {
        let value = value.as_ref()?;
        let source = match value.get_ref() {
            toml::Value::String(path) => Source::File(Path::new(path)),
            table @ toml::Value::Table(_) => Source::Inline(table),
            other => {
                let message = format!(
                    "must be a schema file path or an inline table, not a {}",
                    other.type_str()
                );
                checker.report(key(field), Some(value.span()), message);
                return None;
            }
        };
        match CompiledSchema::load(source, base_dir, &options) {
            Ok(schema) => Some(Arc::new(schema)),
            Err(message) => {
                checker.report(key(field), Some(value.span()), message);
                None
            }
        }
    };
    let body = compile("body", &raw.body);
    let query = compile("query", &raw.query);
    let params = compile("params", &raw.params);

    let has_schema = raw.body.is_some() || raw.query.is_some() || raw.params.is_some();
    for (field, set) in [
        ("strict", raw.strict.as_ref().map(Spanned::span)),
        (
            "allow_prototype_keys",
            raw.allow_prototype_keys.as_ref().map(Spanned::span),
        ),
        (
            "expose_errors",
            raw.expose_errors.as_ref().map(Spanned::span),
        ),
    ] {
        if let Some(span) = set.filter(|_| !has_schema) {
            let message = "applies only to a route with a `body`, `query` or `params` schema";
            checker.report(key(field), Some(span), message.to_owned());
        }
    }
    if raw.allow_prototype_keys.is_some() && raw.body.is_none() && has_schema {
        let span = raw.allow_prototype_keys.as_ref().map(Spanned::span);
        checker.report(
            key("allow_prototype_keys"),
            span,
            "applies only to a `body`".to_owned(),
        );
    }
    if checker.problems.len() > errors_before {
        return None;
    }

    let limits = Limits {
        max_depth: defaults.max_depth,
        allow_prototype_keys: raw
            .allow_prototype_keys
            .as_ref()
            .is_some_and(|a| *a.get_ref()),
    };
    let expose_errors = raw
        .expose_errors
        .as_ref()
        .map_or(defaults.expose_errors, |e| *e.get_ref());
    Some(RouteValidation {
        body,
        query,
        params,
        limits,
        expose_errors,
    })
}
