//! Translation of draft-06/07 schemas into 2020-12, so one set of semantics (and
//! `unevaluatedProperties`, which strict mode needs) applies to every schema palisade loads.
//!
//! Only the keywords whose meaning changed are rewritten: `$ref` siblings (ignored before
//! 2019-09) are dropped, `items` arrays become `prefixItems`, `additionalItems` becomes `items`,
//! `dependencies` splits into `dependentRequired`/`dependentSchemas`, and `$id: "#name"` becomes
//! `$anchor`. `definitions` stays where it is: JSON-pointer refs reach it under any draft.

use serde_json::{Map, Value};

/// The meta-schema every loaded document is rewritten to.
pub(super) const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// What a document's `$schema` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// Draft-06 or draft-07: translated.
    Legacy,
    /// 2019-09: kept, it already knows `unevaluatedProperties`.
    Draft2019,
    /// 2020-12, or no `$schema` at all.
    Draft2020,
}

/// Rewrites `doc` in place to 2020-12 (or leaves a 2019-09 document as it is).
///
/// A document without `$schema` is taken as 2020-12, except that the draft-07-only forms
/// (`items` as an array, `additionalItems`, `dependencies`) are still translated: they are
/// unambiguous, and 2020-12 would otherwise reject or silently ignore them.
pub(super) fn normalize(doc: &mut Value) -> Result<(), String> {
    let dialect = match doc.get("$schema") {
        None => Dialect::Draft2020,
        Some(Value::String(uri)) => dialect_of(uri)?,
        Some(_) => return Err("`$schema` must be a string".to_owned()),
    };
    if dialect == Dialect::Draft2019 {
        return Ok(());
    }

    let root = doc.get("$schema").cloned();
    let mut translation = Translation {
        legacy: dialect == Dialect::Legacy,
        root,
    };
    translation.node(doc, "")?;
    if let Value::Object(map) = doc {
        map.insert(
            "$schema".to_owned(),
            Value::String(DRAFT_2020_12.to_owned()),
        );
    }
    Ok(())
}

fn dialect_of(uri: &str) -> Result<Dialect, String> {
    let bare = uri.trim_end_matches('#');
    let bare = bare
        .strip_prefix("https://")
        .or_else(|| bare.strip_prefix("http://"))
        .unwrap_or(bare);
    match bare {
        "json-schema.org/draft-07/schema" | "json-schema.org/draft-06/schema" => {
            Ok(Dialect::Legacy)
        }
        "json-schema.org/draft/2019-09/schema" => Ok(Dialect::Draft2019),
        "json-schema.org/draft/2020-12/schema" => Ok(Dialect::Draft2020),
        _ => Err(format!(
            "unsupported `$schema` {}: use draft-07 or 2020-12",
            super::quote_short(uri)
        )),
    }
}

/// One document's translation. `legacy` is false for a 2020-12 document, where only the
/// unambiguous draft-07 forms are rewritten.
struct Translation {
    legacy: bool,
    root: Option<Value>,
}

impl Translation {
    /// Translates one schema node and, recursively, its subschemas.
    fn node(&mut self, node: &mut Value, at: &str) -> Result<(), String> {
        let legacy = self.legacy;
        let Value::Object(map) = node else {
            return Ok(());
        };

        // Before 2019-09 a `$ref` replaces its whole schema object; keep only what pointers reach.
        if legacy && map.contains_key("$ref") {
            map.retain(|key, _| {
                matches!(key.as_str(), "$ref" | "definitions" | "$defs" | "$schema")
            });
        }
        if legacy
            && let Some(Value::String(id)) = map.get("$id")
            && let Some(anchor) = id.strip_prefix('#')
        {
            let anchor = Value::String(anchor.to_owned());
            map.remove("$id");
            map.insert("$anchor".to_owned(), anchor);
        }
        translate_items(map);
        translate_dependencies(map);
        if !at.is_empty()
            && let Some(nested) = map.get("$schema")
        {
            // An embedded resource in another dialect would escape the translation.
            if Some(nested) != self.root.as_ref() {
                return Err(format!("embedded `$schema` at {at} is not supported"));
            }
            map.remove("$schema");
        }

        for (key, child) in map.iter_mut() {
            match key.as_str() {
                "properties" | "patternProperties" | "definitions" | "$defs"
                | "dependentSchemas" => {
                    if let Value::Object(children) = child {
                        for (name, sub) in children.iter_mut() {
                            self.node(sub, &format!("{at}/{key}/{name}"))?;
                        }
                    }
                }
                "allOf" | "anyOf" | "oneOf" | "prefixItems" => {
                    if let Value::Array(children) = child {
                        for (i, sub) in children.iter_mut().enumerate() {
                            self.node(sub, &format!("{at}/{key}/{i}"))?;
                        }
                    }
                }
                "additionalProperties"
                | "unevaluatedProperties"
                | "items"
                | "unevaluatedItems"
                | "contains"
                | "propertyNames"
                | "if"
                | "then"
                | "else"
                | "not" => {
                    self.node(child, &format!("{at}/{key}"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `items: [..]` becomes `prefixItems`, and `additionalItems` takes the place of `items`.
fn translate_items(map: &mut Map<String, Value>) {
    if matches!(map.get("items"), Some(Value::Array(_))) {
        if let Some(tuple) = map.remove("items") {
            map.insert("prefixItems".to_owned(), tuple);
        }
        if let Some(rest) = map.remove("additionalItems") {
            map.insert("items".to_owned(), rest);
        }
    } else {
        // Without a tuple `items`, `additionalItems` never applied.
        map.remove("additionalItems");
    }
}

/// `dependencies` splits into `dependentRequired` (arrays) and `dependentSchemas` (schemas).
fn translate_dependencies(map: &mut Map<String, Value>) {
    let Some(Value::Object(deps)) = map.remove("dependencies") else {
        return;
    };
    let mut required = Map::new();
    let mut schemas = Map::new();
    for (name, dep) in deps {
        if dep.is_array() {
            required.insert(name, dep);
        } else {
            schemas.insert(name, dep);
        }
    }
    if !required.is_empty() {
        map.insert("dependentRequired".to_owned(), Value::Object(required));
    }
    if !schemas.is_empty() {
        map.insert("dependentSchemas".to_owned(), Value::Object(schemas));
    }
}
