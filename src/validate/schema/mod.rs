//! Stage 6, input validation: route JSON Schemas for `body`, `query` and `params`.
//!
//! Schemas (2020-12, 2019-09, draft-07 or draft-06) are loaded from a file or an inline TOML
//! table, made strict (undeclared object properties are rejected everywhere unless a schema
//! says otherwise) and compiled once. Validation returns at most a bounded number of issues,
//! each a JSON pointer and a short message that never carries the offending value.
//!
//! Security choices: `pattern` runs on the linear-time `regex` engine (no ReDoS from request
//! data), `format` is asserted (`uuid`, `email`, `date-time`, ...), and `$ref` reaches only
//! local files under the base directory; nothing is fetched over the network.

mod docs;
mod draft;
mod query;
mod strict;
#[cfg(test)]
mod tests;

use std::path::Path;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{PatternOptions, Retrieve, Uri, ValidationError, Validator};
use serde_json::Value;

use docs::Documents;
use query::PropertyIndex;
pub use query::{JsonKind, PropertyTypes, query_to_json};

/// The message of an issue for a property the schema does not declare.
const UNKNOWN_PROPERTY: &str = "unknown property";

/// The longest message (and pointer) an [`Issue`] carries, in characters.
const MAX_MESSAGE_CHARS: usize = 200;

/// Where a schema came from, for messages: a file path or "inline".
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A JSON file, relative to the base directory (usually the config file's).
    File(&'a Path),
    /// An inline TOML table from the config file.
    Inline(&'a toml::Value),
}

/// How a schema is compiled and how many issues validation reports.
#[derive(Debug, Clone)]
pub struct SchemaOptions {
    /// Reject undeclared object properties everywhere in the document (default `true`).
    pub strict: bool,
    /// The most issues one failed validation returns (default 10, at least 1).
    pub max_issues: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        Self {
            strict: true,
            max_issues: 10,
        }
    }
}

/// One reason a value failed its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// JSON pointer into the instance, e.g. `/amount`. For a missing or unknown property it
    /// points at that property. Capped at 200 characters (then ending in `…`).
    pub pointer: String,
    /// What is wrong, at most 200 characters, without the offending value.
    pub message: String,
}

/// A compiled schema, ready to validate many values.
pub struct CompiledSchema {
    validator: Validator,
    properties: PropertyIndex,
    max_issues: usize,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("max_issues", &self.max_issues)
            .finish()
    }
}

impl CompiledSchema {
    /// Loads, makes strict and compiles a schema.
    ///
    /// File paths are relative to `base_dir`; a `$ref` to another local file is relative to
    /// the referring file and must stay under `base_dir`. Remote (`http(s)://`) references are
    /// refused. The error names the schema's location and what is wrong.
    pub fn load(
        source: Source<'_>,
        base_dir: &Path,
        options: &SchemaOptions,
    ) -> Result<CompiledSchema, String> {
        let location = match source {
            Source::File(path) => path.display().to_string(),
            Source::Inline(_) => "inline".to_owned(),
        };
        let fail = |e: String| format!("schema {location}: {e}");

        let mut docs = Documents::load(&source, base_dir).map_err(fail)?;
        if options.strict {
            strict::inject_strictness(&mut docs);
        }
        let properties = PropertyIndex::build(&docs);

        let root = docs.docs.get(&docs.root).cloned().unwrap_or(Value::Null);
        let validator = jsonschema::options()
            .with_base_uri(docs.root.clone())
            .with_retriever(Prepared(docs))
            .with_pattern_options(PatternOptions::regex())
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| fail(compile_error(&e)))?;

        Ok(CompiledSchema {
            validator,
            properties,
            max_issues: options.max_issues.max(1),
        })
    }

    /// Validates `value`; the error holds at most `max_issues` issues.
    pub fn validate(&self, value: &Value) -> Result<(), Vec<Issue>> {
        if self.validator.is_valid(value) {
            return Ok(());
        }
        // A property that fails its own schema also counts as "unevaluated" for the strict
        // parent (failed branches yield no annotations); gather a few extra issues so those
        // echoes can be dropped in favour of the real reason.
        // Bounded before the echo filter below, which compares issues pairwise: a body with
        // 70,000 unknown keys must cost no more than one with forty.
        let bound = self.max_issues.saturating_mul(4);
        let mut issues = Vec::new();
        for error in self.validator.iter_errors(value) {
            push_issues(&mut issues, &error, bound);
            if issues.len() >= bound {
                break;
            }
        }
        let echoes: Vec<bool> = issues.iter().map(|i| is_echo(i, &issues)).collect();
        let mut echo = echoes.into_iter();
        issues.retain(|_| !echo.next().unwrap_or(false));
        issues.dedup();
        issues.truncate(self.max_issues);
        Err(issues)
    }

    /// The JSON type(s) the schema expects at top-level property `name`, if it says.
    ///
    /// Looks through `$ref`, `allOf`/`anyOf`/`oneOf` and `additionalProperties` (for names not
    /// declared). Used to coerce query values; `None` means "any", so the value stays a string.
    pub fn property_types(&self, name: &str) -> Option<&PropertyTypes> {
        self.properties.get(name)
    }
}

/// Serves the documents loaded (and checked) at load time; anything else is refused.
struct Prepared(Documents);

impl Retrieve for Prepared {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let text = uri.as_str();
        let resource = text.split_once('#').map_or(text, |(r, _)| r);
        match self.0.docs.get(resource) {
            Some(doc) => Ok(doc.clone()),
            None => Err(format!("{} is not a local schema file", quote_short(resource)).into()),
        }
    }
}

/// Turns one validation error into issues (one per unknown or missing property), keeping
/// `issues` at most `bound` long.
fn push_issues(issues: &mut Vec<Issue>, error: &ValidationError<'_>, bound: usize) {
    let at = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::UnevaluatedProperties { unexpected }
        | ValidationErrorKind::AdditionalProperties { unexpected } => {
            let room = bound.saturating_sub(issues.len());
            for name in unexpected.iter().take(room) {
                issues.push(issue(&child_pointer(at, name), UNKNOWN_PROPERTY));
            }
        }
        ValidationErrorKind::Required {
            property: Value::String(name),
        } => {
            issues.push(issue(
                &child_pointer(at, name),
                "required property is missing",
            ));
        }
        _ => issues.push(issue(at, &error.masked_with("value").to_string())),
    }
}

/// Whether `issue` only echoes another: an unknown-property report for a property that has a
/// real issue of its own (at it, or under it).
fn is_echo(issue: &Issue, all: &[Issue]) -> bool {
    issue.message == UNKNOWN_PROPERTY
        && all.iter().any(|other| {
            within(&other.pointer, &issue.pointer)
                && (other.pointer != issue.pointer || other.message != UNKNOWN_PROPERTY)
        })
}

/// Whether `pointer` is `parent` or lies under it.
fn within(pointer: &str, parent: &str) -> bool {
    pointer
        .strip_prefix(parent)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn issue(pointer: &str, message: &str) -> Issue {
    Issue {
        pointer: cap(pointer),
        message: cap(message),
    }
}

fn child_pointer(parent: &str, name: &str) -> String {
    format!("{parent}/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// Cuts `text` to [`MAX_MESSAGE_CHARS`] characters, marking the cut with `…`.
pub(super) fn cap(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS - 1) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Quotes a schema-supplied string for a message, shortened if long.
pub(super) fn quote_short(text: &str) -> String {
    let shown: String = text.chars().take(80).collect();
    if shown.len() < text.len() {
        format!("\"{shown}…\"")
    } else {
        format!("\"{shown}\"")
    }
}

/// Describes a compile error: where in the schema, and what.
fn compile_error(error: &ValidationError<'_>) -> String {
    let at = error.instance_path().as_str();
    let what = match error.kind() {
        ValidationErrorKind::Format { format } if format == "regex" => format!(
            "{} is not a valid regex for the linear-time engine (it has no look-around or backreferences)",
            quote_short(error.instance().as_str().unwrap_or_default())
        ),
        _ => cap(&error.to_string()),
    };
    if at.is_empty() {
        what
    } else {
        format!("at {at}: {what}")
    }
}
