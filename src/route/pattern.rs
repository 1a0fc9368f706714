//! Route pattern syntax: parsing, validation and canonical display.
//!
//! Patterns follow Next.js file-system routing: static segments, `[param]`, `[...rest]` and
//! `[[...rest]]`, each catch-all last. Anything Next.js would refuse is refused here too, and
//! so are the folder names Next.js leaves out of the URL (route groups, parallel-route slots,
//! intercepting routes): written into a pattern they could never match a request.

use std::fmt;
use std::str::FromStr;

/// Longest pattern text accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;
/// Most segments a pattern may have (this also bounds the router's recursion depth).
pub const MAX_PATTERN_SEGMENTS: usize = 64;

/// One parsed pattern segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Segment {
    Static(Box<str>),
    Param(Box<str>),
    CatchAll(Box<str>),
    OptionalCatchAll(Box<str>),
}

impl Segment {
    pub(super) fn param_name(&self) -> Option<&str> {
        match self {
            Self::Static(_) => None,
            Self::Param(n) | Self::CatchAll(n) | Self::OptionalCatchAll(n) => Some(n),
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(s) => f.write_str(s),
            Self::Param(n) => write!(f, "[{n}]"),
            Self::CatchAll(n) => write!(f, "[...{n}]"),
            Self::OptionalCatchAll(n) => write!(f, "[[...{n}]]"),
        }
    }
}

/// A parsed, validated route pattern such as `/api/users/[id]` or `/docs/[[...path]]`.
///
/// `Display` gives back the canonical text, which parses to an equal pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    pub(super) segments: Vec<Segment>,
}

impl Pattern {
    /// Parses and validates a pattern.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong);
        }
        let body = text.strip_prefix('/').ok_or(PatternError::NotAbsolute)?;
        let mut segments: Vec<Segment> = Vec::new();
        if body.is_empty() {
            return Ok(Self { segments });
        }
        for raw in body.split('/') {
            if let Some(last @ (Segment::CatchAll(_) | Segment::OptionalCatchAll(_))) =
                segments.last()
            {
                return Err(PatternError::CatchAllNotLast(last.to_string()));
            }
            if segments.len() == MAX_PATTERN_SEGMENTS {
                return Err(PatternError::TooManySegments);
            }
            let segment = parse_segment(raw)?;
            if let Some(name) = segment.param_name()
                && segments.iter().any(|s| s.param_name() == Some(name))
            {
                return Err(PatternError::DuplicateParam(name.to_owned()));
            }
            segments.push(segment);
        }
        Ok(Self { segments })
    }

    /// The names of the pattern's parameters, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(Segment::param_name)
    }
}

fn parse_segment(raw: &str) -> Result<Segment, PatternError> {
    if raw.is_empty() {
        return Err(PatternError::EmptySegment);
    }
    if let Some(inner) = raw.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
        let name = inner
            .strip_prefix("...")
            .ok_or_else(|| PatternError::OptionalParam(raw.to_owned()))?;
        return Ok(Segment::OptionalCatchAll(param_name(name, raw)?));
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return Ok(match inner.strip_prefix("...") {
            Some(name) => Segment::CatchAll(param_name(name, raw)?),
            None => Segment::Param(param_name(inner, raw)?),
        });
    }
    if raw == "." || raw == ".." {
        return Err(PatternError::DotSegment);
    }
    if let Some(error) = not_in_url(raw) {
        return Err(error);
    }
    if !raw.bytes().all(is_static_byte) {
        return Err(PatternError::InvalidStatic(raw.to_owned()));
    }
    Ok(Segment::Static(raw.into()))
}

/// The error for a Next.js folder name that is not part of the URL it serves, if `raw` is one.
fn not_in_url(raw: &str) -> Option<PatternError> {
    let raw_owned = || raw.to_owned();
    if ["(.)", "(..)", "(...)"].iter().any(|p| raw.starts_with(p)) {
        Some(PatternError::InterceptingRoute(raw_owned()))
    } else if raw.starts_with('(') && raw.ends_with(')') {
        Some(PatternError::RouteGroup(raw_owned()))
    } else if raw.starts_with('@') {
        Some(PatternError::ParallelSlot(raw_owned()))
    } else {
        None
    }
}

/// RFC 3986 `pchar` without `%`: unreserved, sub-delims, `:` and `@`.
fn is_static_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

fn param_name(name: &str, raw: &str) -> Result<Box<str>, PatternError> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(name.into())
    } else {
        Err(PatternError::InvalidParamName(raw.to_owned()))
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            write!(f, "/{segment}")?;
        }
        Ok(())
    }
}

/// Why a pattern text is not a valid pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// The pattern does not start with `/`.
    NotAbsolute,
    /// The pattern is longer than [`MAX_PATTERN_LEN`].
    TooLong,
    /// The pattern has more than [`MAX_PATTERN_SEGMENTS`] segments.
    TooManySegments,
    /// An empty segment, including a trailing slash (only `/` itself may end in one).
    EmptySegment,
    /// A `.` or `..` segment.
    DotSegment,
    /// A static segment (given) with a character outside RFC 3986 path characters, or a
    /// `%`, bracket, whitespace or control character.
    InvalidStatic(String),
    /// A Next.js route group such as `(admin)` (given): not part of the URL, so a pattern
    /// holding one could never match a request.
    RouteGroup(String),
    /// A Next.js parallel-route slot such as `@modal` (given): not part of the URL.
    ParallelSlot(String),
    /// A Next.js intercepting-route folder such as `(..)photo` (given): not part of the URL.
    InterceptingRoute(String),
    /// A parameter segment (given) whose name is not `[A-Za-z_][A-Za-z0-9_]*`.
    InvalidParamName(String),
    /// An optional non-catch-all parameter (given) such as `[[id]]`, which Next.js refuses.
    OptionalParam(String),
    /// A parameter name (given) used twice in one pattern.
    DuplicateParam(String),
    /// A catch-all segment (given) that is followed by more segments.
    CatchAllNotLast(String),
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAbsolute => f.write_str("pattern must start with `/`"),
            Self::TooLong => write!(f, "pattern is longer than {MAX_PATTERN_LEN} bytes"),
            Self::TooManySegments => {
                write!(f, "pattern has more than {MAX_PATTERN_SEGMENTS} segments")
            }
            Self::EmptySegment => f.write_str("pattern has an empty segment or trailing slash"),
            Self::DotSegment => f.write_str("pattern has a `.` or `..` segment"),
            Self::InvalidStatic(s) => write!(
                f,
                "static segment `{s}` may only hold letters, digits and -._~!$&'()*+,;=:@"
            ),
            Self::RouteGroup(s) => not_in_url_message(f, s, "a Next.js route group"),
            Self::ParallelSlot(s) => not_in_url_message(f, s, "a Next.js parallel-route slot"),
            Self::InterceptingRoute(s) => {
                not_in_url_message(f, s, "a Next.js intercepting-route folder")
            }
            Self::InvalidParamName(s) => {
                write!(
                    f,
                    "parameter `{s}` must be named like [A-Za-z_][A-Za-z0-9_]*"
                )
            }
            Self::OptionalParam(s) => {
                write!(
                    f,
                    "optional parameter `{s}` is not supported; use `[[...name]]`"
                )
            }
            Self::DuplicateParam(n) => write!(f, "parameter `{n}` is used twice"),
            Self::CatchAllNotLast(s) => write!(f, "catch-all `{s}` must be the last segment"),
        }
    }
}

fn not_in_url_message(f: &mut fmt::Formatter<'_>, segment: &str, what: &str) -> fmt::Result {
    write!(
        f,
        "`{segment}` is {what}, which is not part of the URL: \
         write the path as the browser requests it"
    )
}

impl std::error::Error for PatternError {}
