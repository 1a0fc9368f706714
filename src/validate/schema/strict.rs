//! Strict mode: objects reject the properties their schema does not declare.
//!
//! `unevaluatedProperties: false` is injected into every schema node that describes an object
//! and does not already say `additionalProperties` or `unevaluatedProperties`. It is *not*
//! injected into direct members of `allOf`/`anyOf`/`oneOf`, `if`/`then`/`else`,
//! `dependentSchemas`, `$defs`/`definitions` entries, or the roots of referenced files: those
//! are reached through a composition or a `$ref` of a parent that gets the keyword, and that
//! parent sees every property its successful branches evaluated. (An injected
//! `additionalProperties: false` would only see its own `properties` and break `allOf`.)
//! Subschemas under `not`, `if`, `contains` and `propertyNames` are predicates, not shapes, and
//! are left alone: making them stricter would loosen or change the outer schema.

use serde_json::{Map, Value};

use super::docs::{Documents, child_base, resolve_ref};

/// How deep `$ref` chains are followed when deciding whether a target is an object schema.
const MAX_REF_DEPTH: usize = 32;

/// Keywords that make a schema describe objects by themselves.
const OBJECT_KEYWORDS: [&str; 10] = [
    "properties",
    "patternProperties",
    "required",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "dependentRequired",
    "dependentSchemas",
];

/// Injects strictness into every document of `docs`.
pub(super) fn inject_strictness(docs: &mut Documents) {
    let index = docs.clone();
    let root = docs.root.clone();
    let strict = Strict { index: &index };
    for (uri, doc) in &mut docs.docs {
        // A referenced file's root is reached through its referrer, which gets the keyword.
        let injectable = *uri == root;
        strict.visit(doc, uri, injectable);
    }
}

struct Strict<'a> {
    index: &'a Documents,
}

impl Strict<'_> {
    /// Visits a schema node; `injectable` is false for composition members and definitions.
    fn visit(&self, node: &mut Value, base: &str, injectable: bool) {
        let Value::Object(map) = node else { return };
        let base = child_base(base, map).unwrap_or_else(|_| base.to_owned());
        let inject = injectable
            && !map.contains_key("additionalProperties")
            && !map.contains_key("unevaluatedProperties")
            && self.describes_object(map, &base, 0);

        for (key, child) in map.iter_mut() {
            match key.as_str() {
                // Shapes of the instance's own parts: each is strict by itself.
                "properties" | "patternProperties" => self.visit_values(child, &base, true),
                "prefixItems" => self.visit_items(child, &base, true),
                "additionalProperties" | "unevaluatedProperties" | "items" | "unevaluatedItems" => {
                    self.visit(child, &base, true)
                }
                // Evaluated together with this node: the parent's keyword covers them.
                "allOf" | "anyOf" | "oneOf" => self.visit_items(child, &base, false),
                "dependentSchemas" | "$defs" | "definitions" => {
                    self.visit_values(child, &base, false);
                }
                "then" | "else" => self.visit(child, &base, false),
                // `not`, `if`, `contains`, `propertyNames` and data keywords stay as written.
                _ => {}
            }
        }
        if inject {
            map.insert("unevaluatedProperties".to_owned(), Value::Bool(false));
        }
    }

    fn visit_values(&self, node: &mut Value, base: &str, injectable: bool) {
        if let Value::Object(children) = node {
            for child in children.values_mut() {
                self.visit(child, base, injectable);
            }
        }
    }

    fn visit_items(&self, node: &mut Value, base: &str, injectable: bool) {
        if let Value::Array(children) = node {
            for child in children {
                self.visit(child, base, injectable);
            }
        }
    }

    /// Whether a schema describes objects, by its own keywords, its compositions or its refs.
    fn describes_object(&self, map: &Map<String, Value>, base: &str, depth: usize) -> bool {
        if depth > MAX_REF_DEPTH {
            return true; // A cycle of refs: err on the strict side.
        }
        let base = child_base(base, map).unwrap_or_else(|_| base.to_owned());
        if OBJECT_KEYWORDS.iter().any(|k| map.contains_key(*k)) || has_object_type(map) {
            return true;
        }

        let member = |v: &Value| match v {
            Value::Object(m) => self.describes_object(m, &base, depth + 1),
            _ => false,
        };
        let composed = ["allOf", "anyOf", "oneOf"]
            .iter()
            .filter_map(|k| map.get(*k).and_then(Value::as_array))
            .flatten()
            .any(member);
        let branched = ["then", "else"]
            .iter()
            .filter_map(|k| map.get(*k))
            .any(member);
        if composed || branched {
            return true;
        }

        ["$ref", "$dynamicRef"]
            .iter()
            .filter_map(|k| map.get(*k).and_then(Value::as_str))
            .any(|reference| match resolve_ref(&base, reference) {
                Ok(target) => match self.index.resolve(&target) {
                    Some(Value::Object(m)) => self.describes_object(m, &target, depth + 1),
                    Some(_) => false,
                    None => true, // Unresolvable here: the compiler will refuse it anyway.
                },
                Err(_) => true,
            })
    }
}

fn has_object_type(map: &Map<String, Value>) -> bool {
    match map.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        _ => false,
    }
}
