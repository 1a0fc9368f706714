//! Query strings as JSON objects, typed the way the route's `query` schema asks.
//!
//! Values follow OpenAPI's form style with `explode`: a repeated key becomes an array, and a
//! value becomes a number, integer or boolean only where the schema's property asks for one and
//! does not also accept a string. A value that does not parse stays a string, so the schema
//! reports it rather than the coercion hiding it.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use super::CompiledSchema;
use super::docs::{Documents, child_base, resolve_ref};

/// How far `$ref`s and compositions are followed when looking for a property's type.
const MAX_DEPTH: usize = 16;

/// A JSON Schema `type` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A number without a fractional part.
    Integer,
    /// Any number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "null" => Self::Null,
            "boolean" => Self::Boolean,
            "integer" => Self::Integer,
            "number" => Self::Number,
            "string" => Self::String,
            "array" => Self::Array,
            "object" => Self::Object,
            _ => return None,
        })
    }

    fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Self::Integer,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

/// The types a schema expects for one property, as far as the schema says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PropertyTypes {
    /// The property's own types (`type`, or gathered from `anyOf`/`oneOf`/`enum`/`const`).
    pub types: Vec<JsonKind>,
    /// When `types` holds `Array`: the types of its items, if the schema says.
    pub item_types: Vec<JsonKind>,
}

impl PropertyTypes {
    fn accepts(&self, kind: JsonKind) -> bool {
        self.types.contains(&kind)
    }
}

/// Turns a raw query string into a JSON object for validation against `schema`.
///
/// Repeated keys become arrays, keys and values are percent-decoded with `+` as a space, and a
/// value is coerced to a number, integer or boolean where the schema's property type asks for
/// one (and does not also accept a string). A property typed `array` is always an array, even
/// with one value. Invalid coercions stay strings so the schema reports them. A leading `?` is
/// ignored, as are empty pairs (`a=1&&b=2`).
pub fn query_to_json(query: &str, schema: &CompiledSchema) -> Value {
    let query = query.strip_prefix('?').unwrap_or(query);
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (decode(key, true), decode(value, true));
        match grouped.iter_mut().find(|(k, _)| *k == key) {
            Some((_, values)) => values.push(value),
            None => grouped.push((key, vec![value])),
        }
    }

    let mut object = Map::new();
    for (key, values) in grouped {
        let types = schema.property_types(&key);
        let value = match types {
            Some(t) if t.accepts(JsonKind::Array) => {
                let items = PropertyTypes {
                    types: t.item_types.clone(),
                    item_types: Vec::new(),
                };
                Value::Array(
                    values
                        .into_iter()
                        .map(|v| coerce(v, Some(&items)))
                        .collect(),
                )
            }
            _ if values.len() > 1 => {
                Value::Array(values.into_iter().map(|v| coerce(v, types)).collect())
            }
            _ => values
                .into_iter()
                .next()
                .map_or(Value::Null, |v| coerce(v, types)),
        };
        object.insert(key, value);
    }
    Value::Object(object)
}

/// Coerces one query value to the type the schema asks for, else keeps it a string.
fn coerce(raw: String, types: Option<&PropertyTypes>) -> Value {
    let Some(types) = types.filter(|t| !t.accepts(JsonKind::String)) else {
        return Value::String(raw);
    };
    if types.accepts(JsonKind::Boolean) && (raw == "true" || raw == "false") {
        return Value::Bool(raw == "true");
    }
    if (types.accepts(JsonKind::Integer) || types.accepts(JsonKind::Number))
        && let Some(number) = parse_number(&raw)
    {
        let integral = number.is_i64() || number.is_u64();
        if types.accepts(JsonKind::Number) || integral {
            return Value::Number(number);
        }
    }
    Value::String(raw)
}

/// Parses a JSON number with nothing around it (no spaces, no `+`, no `0x`, finite).
fn parse_number(raw: &str) -> Option<Number> {
    let starts = raw.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    let ends = raw.ends_with(|c: char| c.is_ascii_digit());
    if !starts || !ends {
        return None;
    }
    serde_json::from_str::<Number>(raw).ok()
}

/// Percent-decodes `text`; with `plus`, `+` is a space (form encoding). Invalid escapes are
/// kept as written and invalid UTF-8 is replaced, as WHATWG's URLSearchParams does.
pub(super) fn decode(text: &str, plus: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) if hex.is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())) => {
                        out.push(byte);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The types of the root's top-level properties, gathered once at load.
#[derive(Debug, Clone, Default)]
pub(super) struct PropertyIndex {
    named: HashMap<String, PropertyTypes>,
    /// From `additionalProperties` (when a schema), for names not declared.
    other: Option<PropertyTypes>,
}

impl PropertyIndex {
    pub fn build(docs: &Documents) -> Self {
        let mut index = Self::default();
        if let Some(Value::Object(root)) = docs.docs.get(&docs.root) {
            index.gather(docs, root, &docs.root, 0);
        }
        index
    }

    pub fn get(&self, name: &str) -> Option<&PropertyTypes> {
        self.named.get(name).or(self.other.as_ref())
    }

    /// Collects property types from `map` and what it composes or references.
    fn gather(&mut self, docs: &Documents, map: &Map<String, Value>, base: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let base = child_base(base, map).unwrap_or_else(|_| base.to_owned());
        if let Some(Value::Object(props)) = map.get("properties") {
            for (name, schema) in props {
                if let Some(found) = property_types(docs, schema, &base) {
                    merge(self.named.entry(name.clone()).or_default(), found);
                }
            }
        }
        if let Some(schema @ Value::Object(_)) = map.get("additionalProperties")
            && let Some(found) = property_types(docs, schema, &base)
        {
            merge(self.other.get_or_insert_with(PropertyTypes::default), found);
        }
        for member in members(map) {
            if let Value::Object(m) = member {
                self.gather(docs, m, &base, depth + 1);
            }
        }
        if let Some((target, Value::Object(m))) = follow_ref(docs, map, &base) {
            self.gather(docs, m, &target, depth + 1);
        }
    }
}

fn merge(into: &mut PropertyTypes, from: PropertyTypes) {
    for kind in from.types {
        if !into.types.contains(&kind) {
            into.types.push(kind);
        }
    }
    for kind in from.item_types {
        if !into.item_types.contains(&kind) {
            into.item_types.push(kind);
        }
    }
}

/// A property schema's types and item types, or `None` where it does not say.
fn property_types(docs: &Documents, schema: &Value, base: &str) -> Option<PropertyTypes> {
    let types = kinds(docs, schema, base, 0)?;
    let mut found = PropertyTypes {
        types,
        item_types: Vec::new(),
    };
    if found.accepts(JsonKind::Array) {
        found.item_types = items_schema(docs, schema, base, 0)
            .and_then(|(items, items_base)| kinds(docs, items, &items_base, 0))
            .unwrap_or_default();
    }
    Some(found)
}

/// The types a schema allows, from `type`, `const`, `enum`, compositions and refs.
fn kinds(docs: &Documents, schema: &Value, base: &str, depth: usize) -> Option<Vec<JsonKind>> {
    let Value::Object(map) = schema else {
        return None;
    };
    if depth > MAX_DEPTH {
        return None;
    }
    let base = child_base(base, map).unwrap_or_else(|_| base.to_owned());
    match map.get("type") {
        Some(Value::String(t)) => return JsonKind::parse(t).map(|k| vec![k]),
        Some(Value::Array(ts)) => {
            return Some(
                ts.iter()
                    .filter_map(Value::as_str)
                    .filter_map(JsonKind::parse)
                    .collect(),
            );
        }
        _ => {}
    }
    if let Some(value) = map.get("const") {
        return Some(vec![JsonKind::of(value)]);
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        return Some(values.iter().map(JsonKind::of).collect());
    }

    let mut found: Option<Vec<JsonKind>> = None;
    let mut add = |more: Vec<JsonKind>| {
        let all = found.get_or_insert_with(Vec::new);
        for kind in more {
            if !all.contains(&kind) {
                all.push(kind);
            }
        }
    };
    for member in members(map) {
        if let Some(more) = kinds(docs, member, &base, depth + 1) {
            add(more);
        }
    }
    if let Some((target, node)) = follow_ref(docs, map, &base)
        && let Some(more) = kinds(docs, node, &target, depth + 1)
    {
        add(more);
    }
    found
}

/// The `items` schema of an array schema, looking through compositions and refs.
fn items_schema<'a>(
    docs: &'a Documents,
    schema: &'a Value,
    base: &str,
    depth: usize,
) -> Option<(&'a Value, String)> {
    let Value::Object(map) = schema else {
        return None;
    };
    if depth > MAX_DEPTH {
        return None;
    }
    let base = child_base(base, map).unwrap_or_else(|_| base.to_owned());
    if let Some(items) = map.get("items") {
        return Some((items, base));
    }
    members(map)
        .find_map(|m| items_schema(docs, m, &base, depth + 1))
        .or_else(|| {
            let (target, node) = follow_ref(docs, map, &base)?;
            items_schema(docs, node, &target, depth + 1)
        })
}

/// The direct members of `allOf`, `anyOf` and `oneOf`.
fn members(map: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    ["allOf", "anyOf", "oneOf"]
        .into_iter()
        .filter_map(|k| map.get(k).and_then(Value::as_array))
        .flatten()
}

/// The schema a `$ref` in `map` points to, with its URI as the new base.
fn follow_ref<'a>(
    docs: &'a Documents,
    map: &Map<String, Value>,
    base: &str,
) -> Option<(String, &'a Value)> {
    let reference = map.get("$ref").and_then(Value::as_str)?;
    let target = resolve_ref(base, reference).ok()?;
    let node = docs.resolve(&target)?;
    Some((target, node))
}
