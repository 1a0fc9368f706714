//! Loading a schema and every local file it references, before anything is compiled.
//!
//! All I/O happens here, at load time: each `$ref` is resolved the way the validator will
//! resolve it, remote references are refused, and files must stay under the base directory
//! (after `..` and symlinks are resolved). The compiler is then handed only these documents.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jsonschema::uri;
use serde_json::{Map, Value};

use super::{Source, draft, quote_short};

/// Keywords whose values are data, not schemas: a `$ref` inside them is not a reference.
const DATA_KEYWORDS: [&str; 4] = ["enum", "const", "examples", "default"];

/// The documents of one schema, each translated to 2020-12, keyed by URI.
#[derive(Debug, Clone)]
pub(super) struct Documents {
    /// URI of the root document.
    pub root: String,
    /// Each document by its retrieval URI (no fragment).
    pub docs: HashMap<String, Value>,
    /// Each resource (a document, or a subschema with `$id`) by URI: its document and pointer.
    resources: HashMap<String, (String, String)>,
}

impl Documents {
    /// Loads the root schema and, transitively, every local file its `$ref`s name.
    pub fn load(source: &Source<'_>, base_dir: &Path) -> Result<Self, String> {
        let base = base_dir
            .canonicalize()
            .map_err(|e| format!("base directory {}: {e}", base_dir.display()))?;
        let (root, value) = match source {
            Source::File(path) => {
                let path = confine(&base, &base.join(path))?;
                (file_uri(&path)?, read_json(&path)?)
            }
            Source::Inline(table) => (file_uri(&base.join("inline"))?, toml_to_json(table)?),
        };

        let mut docs = Self {
            root: root.clone(),
            docs: HashMap::new(),
            resources: HashMap::new(),
        };
        let mut queue = vec![(root, value)];
        let mut all_refs = Vec::new();
        while let Some((doc_uri, mut doc)) = queue.pop() {
            let label = docs.label(&doc_uri, &base);
            draft::normalize(&mut doc).map_err(|e| format!("{label}{e}"))?;
            jsonschema::meta::validate(&doc).map_err(|e| {
                let at = e.instance_path().as_str().to_owned();
                format!(
                    "{label}invalid schema at {at}: {}",
                    super::cap(&e.to_string())
                )
            })?;

            let mut refs = Vec::new();
            docs.resources
                .insert(doc_uri.clone(), (doc_uri.clone(), String::new()));
            docs.scan(&doc, &doc_uri, &doc_uri, String::new(), &mut refs)
                .map_err(|e| format!("{label}{e}"))?;
            docs.docs.insert(doc_uri, doc);

            for reference in refs {
                let target = strip_fragment(reference.target.clone());
                let known = docs.resources.contains_key(&target)
                    || queue.iter().any(|(queued, _)| *queued == target);
                if !known {
                    let what = reference.describe();
                    let path = local_path(&target)
                        .ok_or_else(|| format!("{label}{what} is remote; only local files"))?;
                    let path = confine(&base, &path).map_err(|e| format!("{label}{what}: {e}"))?;
                    queue.push((target, read_json(&path)?));
                }
                all_refs.push((label.clone(), reference));
            }
        }

        // Every reference must land on a schema, so the compiler's errors never need decoding.
        for (label, reference) in all_refs {
            if docs.resolve(&reference.target).is_none() {
                return Err(format!("{label}{} does not resolve", reference.describe()));
            }
        }
        Ok(docs)
    }

    /// Finds the schema a (resolved, absolute) reference points to.
    pub fn resolve(&self, reference: &str) -> Option<&Value> {
        let (resource, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let (doc, pointer) = self.resources.get(resource)?;
        let node = self.docs.get(doc)?.pointer(pointer)?;
        if fragment.is_empty() {
            return Some(node);
        }
        let fragment = percent_decode(fragment);
        if fragment.starts_with('/') {
            node.pointer(&fragment)
        } else {
            find_anchor(node, &fragment)
        }
    }

    /// How messages prefix a document's errors: nothing for the root (the caller names it),
    /// else `in PATH: ` with its path under the base directory.
    fn label(&self, doc_uri: &str, base: &Path) -> String {
        if doc_uri == self.root {
            return String::new();
        }
        match local_path(doc_uri) {
            Some(path) => format!(
                "in {}: ",
                path.strip_prefix(base).unwrap_or(&path).display()
            ),
            None => format!("in {doc_uri}: "),
        }
    }

    /// Records `$id` resources and collects each reference.
    fn scan(
        &mut self,
        node: &Value,
        doc: &str,
        base: &str,
        at: String,
        refs: &mut Vec<Reference>,
    ) -> Result<(), String> {
        match node {
            Value::Object(map) => {
                let base = child_base(base, map)?;
                if map.get("$id").is_some_and(Value::is_string) {
                    self.resources
                        .insert(base.clone(), (doc.to_owned(), at.clone()));
                }
                for keyword in ["$ref", "$dynamicRef"] {
                    if let Some(Value::String(raw)) = map.get(keyword) {
                        let target = check_ref(&base, raw, &at)?;
                        refs.push(Reference {
                            target,
                            at: at.clone(),
                            raw: raw.clone(),
                        });
                    }
                }
                for (key, child) in map {
                    if !DATA_KEYWORDS.contains(&key.as_str()) {
                        let key = key.replace('~', "~0").replace('/', "~1");
                        self.scan(child, doc, &base, format!("{at}/{key}"), refs)?;
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    self.scan(child, doc, base, format!("{at}/{i}"), refs)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// One `$ref` found in a document.
#[derive(Debug)]
struct Reference {
    /// The resolved, absolute target, with its fragment.
    target: String,
    /// Where the `$ref` is, as a JSON pointer into its document.
    at: String,
    /// The reference as written.
    raw: String,
}

impl Reference {
    fn describe(&self) -> String {
        format!("$ref {} at {}", quote_short(&self.raw), self.at)
    }
}

/// The base URI inside `map`: its `$id` resolved against the enclosing base, if it has one.
pub(super) fn child_base(base: &str, map: &Map<String, Value>) -> Result<String, String> {
    match map.get("$id") {
        Some(Value::String(id)) => Ok(strip_fragment(resolve_ref(base, id)?)),
        _ => Ok(base.to_owned()),
    }
}

/// Resolves `reference` against `base` exactly as the validator does (dot segments removed).
pub(super) fn resolve_ref(base: &str, reference: &str) -> Result<String, String> {
    let base = uri::from_str(base).map_err(|e| e.to_string())?;
    let resolved = uri::resolve_against(&base.borrow(), reference).map_err(|e| e.to_string())?;
    Ok(resolved.as_str().to_owned())
}

/// Resolves a `$ref`, refusing remote schemes outright; returns the absolute target.
fn check_ref(base: &str, raw: &str, at: &str) -> Result<String, String> {
    let scheme = raw.split_once(':').map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if let Some(scheme) = scheme
        && !scheme.eq_ignore_ascii_case("file")
    {
        return Err(format!(
            "$ref {} at {at} is remote; only local files",
            quote_short(raw)
        ));
    }
    resolve_ref(base, raw).map_err(|e| format!("$ref {} at {at}: {e}", quote_short(raw)))
}

fn strip_fragment(mut uri: String) -> String {
    if let Some(hash) = uri.find('#') {
        uri.truncate(hash);
    }
    uri
}

/// Canonicalises `path` and checks it lies under `base` (already canonical).
fn confine(base: &Path, path: &Path) -> Result<PathBuf, String> {
    let shown = path
        .strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string();
    let real = path.canonicalize().map_err(|e| format!("{shown}: {e}"))?;
    if !real.starts_with(base) {
        return Err(format!("{shown} is outside the schema directory"));
    }
    Ok(real)
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}

/// Converts an inline TOML table to JSON; datetimes become strings, non-finite floats fail.
fn toml_to_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("inline: {f} is not a JSON number"))?,
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => {
            Value::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// `file://` URI for an absolute path, percent-encoding what a URI path cannot hold.
fn file_uri(path: &Path) -> Result<String, String> {
    let text = path
        .to_str()
        .ok_or_else(|| format!("{}: path is not UTF-8", path.display()))?;
    let mut out = String::from("file://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    Ok(out)
}

/// The local path a `file:` URI names, if it is one.
fn local_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    let rest = rest.split(['#', '?']).next().unwrap_or(rest);
    rest.starts_with('/')
        .then(|| PathBuf::from(percent_decode(rest)))
}

/// Percent-decodes `text` (invalid escapes are kept as they are; bytes decoded lossily).
pub(super) fn percent_decode(text: &str) -> String {
    super::query::decode(text, false)
}

/// Finds the subschema of `node` carrying `$anchor: name`.
fn find_anchor<'a>(node: &'a Value, name: &str) -> Option<&'a Value> {
    match node {
        Value::Object(map) => {
            let anchored = |k: &str| map.get(k).and_then(Value::as_str) == Some(name);
            if anchored("$anchor") || anchored("$dynamicAnchor") {
                return Some(node);
            }
            map.iter()
                .filter(|(k, _)| !DATA_KEYWORDS.contains(&k.as_str()))
                .find_map(|(_, v)| find_anchor(v, name))
        }
        Value::Array(items) => items.iter().find_map(|v| find_anchor(v, name)),
        _ => None,
    }
}
