//! Strict JSON body checks, the part of validation (stage 6) that runs before JSON Schema.
//!
//! [`check`] decides whether a request body is one strict RFC 8259 JSON value that a Node back
//! end reads the same way the schema saw it. It refuses a byte-order mark, invalid UTF-8,
//! anything outside the grammar, trailing data, nesting deeper than a bound, duplicate keys
//! (compared after decoding escapes), the prototype keys `__proto__`, `constructor` and
//! `prototype`, and numbers no IEEE double can hold.
//!
//! # Security
//!
//! The scan is iterative with an explicit stack that never grows past the depth limit, so a body
//! of a million `[` is refused at level 65 without recursion. Work and memory are linear in the
//! body's size: keys of small objects are compared against a short list, larger objects switch
//! to a randomly seeded hash set. Only a body that passed is handed to `serde_json`, whose own
//! recursion limit (128) is therefore never reached: [`MAX_DEPTH_CEILING`] caps the bound.

use serde_json::Value;

/// The highest nesting depth [`check`] honours; larger [`Limits::max_depth`] values are clamped.
///
/// It stays below `serde_json`'s recursion limit of 128, so the final parse cannot fail on depth.
/// The config layer should refuse larger values rather than rely on the clamp.
pub const MAX_DEPTH_CEILING: usize = 120;

/// Keys a Node back end may treat as the object's prototype chain.
const PROTOTYPE_KEYS: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// Longest pointer shown in an error's `Display`, in characters; the field keeps it whole.
const SHOWN_POINTER_CHARS: usize = 128;

/// How strict the body checks are, for one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays and objects allowed; a scalar at top level is depth 0 and `[]`
    /// is depth 1. Default 64; values above [`MAX_DEPTH_CEILING`] are clamped to it.
    pub max_depth: usize,
    /// Accept the keys `__proto__`, `constructor` and `prototype`. Default `false`.
    pub allow_prototype_keys: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            allow_prototype_keys: false,
        }
    }
}

/// Why a body was refused.
///
/// Offsets count bytes from the start of the body. Pointers are RFC 6901 JSON pointers built from
/// decoded keys and array indices (`""` is the whole document); they may hold any text the client
/// sent, so escape them before logging. `Display` escapes and shortens them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyRejected {
    /// The body is empty or holds only whitespace.
    #[error("body is empty")]
    Empty,
    /// The body is not valid UTF-8.
    #[error("body is not valid utf-8")]
    NotUtf8,
    /// The body starts with a UTF-8 byte-order mark (EF BB BF), which RFC 8259 forbids.
    #[error("body starts with a byte-order mark")]
    ByteOrderMark,
    /// The body breaks the JSON grammar at `offset`: comments, trailing commas, `NaN`, single
    /// quotes, leading zeros, bad escapes, stray bytes, or an early end (`offset` = length).
    #[error("json syntax error at byte {offset}")]
    Syntax {
        /// Byte offset of the first byte that does not fit, or the body's length at its end.
        offset: usize,
    },
    /// A string holds a raw control character (U+0000 to U+001F) at `offset`.
    #[error("control character in string at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the control character.
        offset: usize,
    },
    /// A `\u` escape at `offset` is half of a UTF-16 surrogate pair without the other half.
    #[error("lone surrogate escape at byte {offset}")]
    LoneSurrogate {
        /// Byte offset of the backslash that starts the escape.
        offset: usize,
    },
    /// Something other than whitespace follows the one JSON value.
    #[error("data after the json value")]
    TrailingData,
    /// Arrays and objects nest deeper than [`Limits::max_depth`].
    #[error("json nested too deeply")]
    TooDeep,
    /// An object repeats a key; the pointer names the repeat.
    #[error("duplicate key at {}", shown(.pointer))]
    DuplicateKey {
        /// Where the repeated key is.
        pointer: String,
    },
    /// An object has the key `__proto__`, `constructor` or `prototype`.
    #[error("prototype key at {}", shown(.pointer))]
    PrototypeKey {
        /// Where the key is.
        pointer: String,
    },
    /// A number is too large for an IEEE double (its value would be infinite).
    #[error("number out of range at {}", shown(.pointer))]
    NumberOutOfRange {
        /// Where the number is.
        pointer: String,
    },
    /// The strict scan passed but `serde_json` refused the body; it is refused to fail closed.
    ///
    /// Not expected in practice (the fuzz target looks for it): it would mean the scanner and
    /// `serde_json` disagree, and the safe answer to a disagreement is a refusal.
    #[error("body refused by the json parser after the strict scan")]
    Inconsistent,
}

impl BodyRejected {
    /// A short snake_case name for logs and metrics, such as `duplicate_key`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::NotUtf8 => "not_utf8",
            Self::ByteOrderMark => "byte_order_mark",
            Self::Syntax { .. } => "syntax",
            Self::ControlCharacter { .. } => "control_character",
            Self::LoneSurrogate { .. } => "lone_surrogate",
            Self::TrailingData => "trailing_data",
            Self::TooDeep => "too_deep",
            Self::DuplicateKey { .. } => "duplicate_key",
            Self::PrototypeKey { .. } => "prototype_key",
            Self::NumberOutOfRange { .. } => "number_out_of_range",
            Self::Inconsistent => "inconsistent",
        }
    }

    /// The JSON pointer of the offending key or number, when the refusal has one.
    pub fn pointer(&self) -> Option<String> {
        match self {
            Self::DuplicateKey { pointer }
            | Self::PrototypeKey { pointer }
            | Self::NumberOutOfRange { pointer } => Some(pointer.clone()),
            _ => None,
        }
    }

    /// The byte offset of a grammar error, when the refusal has one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Self::Syntax { offset }
            | Self::ControlCharacter { offset }
            | Self::LoneSurrogate { offset } => Some(*offset),
            _ => None,
        }
    }

    /// Whether the body is not RFC 8259 JSON at all, so any conforming parser refuses it too.
    fn is_grammar(&self) -> bool {
        matches!(
            self,
            Self::Empty
                | Self::NotUtf8
                | Self::ByteOrderMark
                | Self::Syntax { .. }
                | Self::ControlCharacter { .. }
                | Self::LoneSurrogate { .. }
                | Self::TrailingData
        )
    }
}

/// Escapes and shortens a client-chosen pointer for `Display`.
fn shown(pointer: &str) -> String {
    let mut out: String = pointer.chars().take(SHOWN_POINTER_CHARS).collect();
    if out.len() < pointer.len() {
        out.push('…');
    }
    format!("{:?}", out)
}

/// Checks `bytes` and, when they pass, parses them into a [`serde_json::Value`] for the schema.
///
/// # Errors
///
/// The first problem found, scanning from the start; see [`BodyRejected`].
pub fn check(bytes: &[u8], limits: &Limits) -> Result<Value, BodyRejected> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(BodyRejected::ByteOrderMark);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| BodyRejected::NotUtf8)?;

    scan::scan(
        text,
        limits.max_depth.min(MAX_DEPTH_CEILING),
        limits.allow_prototype_keys,
    )?;

    // Depth is at most MAX_DEPTH_CEILING, below serde_json's recursion limit.
    serde_json::from_str(text).map_err(|_| BodyRejected::Inconsistent)
}

/// Runs [`check`] with default limits and panics if it disagrees with `serde_json`.
///
/// For fuzz targets and property tests. A body `check` accepts must parse with
/// `serde_json::from_slice` to an equal value; a body `check` calls ungrammatical must be refused
/// by `serde_json` too.
///
/// # Panics
///
/// When `check` panics or the two parsers disagree as above.
pub fn fuzz_one(data: &[u8]) {
    let reference = serde_json::from_slice::<Value>(data);
    match check(data, &Limits::default()) {
        Ok(value) => match reference {
            Ok(expected) => assert_eq!(value, expected, "check and serde_json disagree"),
            Err(error) => panic!("check accepted a body serde_json refuses: {error}"),
        },
        Err(rejected) if rejected.is_grammar() => {
            assert!(
                reference.is_err(),
                "check refused as {} a body serde_json accepts",
                rejected.reason()
            );
        }
        Err(_) => {}
    }
}

mod scan;

#[cfg(test)]
mod tests;
