//! Canonical request paths and query-string checks.
//!
//! The gateway routes on exactly the path the upstream (Next.js) will see, so a path that
//! could be read two ways (dot segments, encoded separators, double encoding, bad escapes)
//! is refused rather than normalised. Accepted paths are split into percent-decoded segments.

use std::borrow::Cow;
use std::fmt;

/// Longest request path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 8 * 1024;
/// Most segments a request path may have.
pub const MAX_SEGMENTS: usize = 256;
/// Longest query string accepted, in bytes.
pub const MAX_QUERY_LEN: usize = 8 * 1024;
/// Most `&`-separated parameters a query string may have.
pub const MAX_QUERY_PARAMS: usize = 256;

/// A request path that passed every canonical-form check, split for routing.
///
/// Segments without `%` borrow from the input; only segments that needed decoding own a
/// `String`, so the common case allocates just the segment vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath<'a> {
    segments: Vec<Cow<'a, str>>,
    trailing_slash: bool,
}

impl<'a> CanonicalPath<'a> {
    /// The percent-decoded segments used for routing (a single trailing slash dropped;
    /// `/` has zero segments). No segment is empty, `.`/`..`, or contains `/`, `\`, NUL or
    /// a control character.
    pub fn segments(&self) -> &[Cow<'a, str>] {
        &self.segments
    }

    /// Whether the raw path ended in a (single, dropped) trailing slash, e.g. `/api/x/`.
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// Detaches the path from the input it was parsed from.
    pub fn into_owned(self) -> CanonicalPath<'static> {
        CanonicalPath {
            segments: self
                .segments
                .into_iter()
                .map(|s| Cow::Owned(s.into_owned()))
                .collect(),
            trailing_slash: self.trailing_slash,
        }
    }
}

/// Why a path was refused; every variant maps to HTTP 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRejected {
    /// The path is empty or does not start with `/` (e.g. `*` or `a/b`).
    NotAbsolute,
    /// A raw `.` or `..` segment.
    DotSegment,
    /// An empty segment (`//`, `/a//b`, or more than one trailing slash).
    EmptySegment,
    /// A percent-encoded `/` (`%2f`) or `\` (`%5c`).
    EncodedSeparator,
    /// A percent-encoded `.` (`%2e`) anywhere in a segment.
    EncodedDot,
    /// A percent-encoded NUL (`%00`).
    EncodedNul,
    /// A segment that still holds a percent escape after one decoding (e.g. `%252e`).
    DoubleEncoding,
    /// A raw `\`.
    Backslash,
    /// A `%` not followed by two hex digits.
    InvalidEncoding,
    /// A control character, raw or percent-encoded (including C1 controls once decoded).
    ControlCharacter,
    /// A raw byte outside ASCII (non-ASCII must arrive percent-encoded).
    NonAscii,
    /// A raw space, `?` or `#`, which the upstream would parse differently.
    ForbiddenCharacter,
    /// A segment whose decoded bytes are not UTF-8 (Next.js's `decodeURIComponent` throws).
    InvalidUtf8,
    /// The path is longer than [`MAX_PATH_LEN`].
    TooLong,
    /// The path has more than [`MAX_SEGMENTS`] segments.
    TooManySegments,
}

impl fmt::Display for PathRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "path is not absolute",
            Self::DotSegment => "dot segment",
            Self::EmptySegment => "empty segment",
            Self::EncodedSeparator => "encoded separator",
            Self::EncodedDot => "encoded dot",
            Self::EncodedNul => "encoded nul",
            Self::DoubleEncoding => "double encoding",
            Self::Backslash => "backslash",
            Self::InvalidEncoding => "invalid percent-encoding",
            Self::ControlCharacter => "control character",
            Self::NonAscii => "raw non-ascii byte",
            Self::ForbiddenCharacter => "forbidden character",
            Self::InvalidUtf8 => "invalid utf-8",
            Self::TooLong => "path too long",
            Self::TooManySegments => "too many segments",
        })
    }
}

impl std::error::Error for PathRejected {}

impl PathRejected {
    /// A short snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotAbsolute => "path_not_absolute",
            Self::DotSegment => "dot_segment",
            Self::EmptySegment => "empty_segment",
            Self::EncodedSeparator => "encoded_separator",
            Self::EncodedDot => "encoded_dot",
            Self::EncodedNul => "encoded_nul",
            Self::DoubleEncoding => "double_encoding",
            Self::Backslash => "backslash",
            Self::InvalidEncoding => "invalid_encoding",
            Self::ControlCharacter => "control_character",
            Self::NonAscii => "non_ascii",
            Self::ForbiddenCharacter => "forbidden_character",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::TooLong => "path_too_long",
            Self::TooManySegments => "too_many_segments",
        }
    }
}

/// Checks `path` (the raw, still percent-encoded path before `?`) and splits it into
/// decoded segments, or says why it could be read more than one way.
pub fn canonicalize(path: &str) -> Result<CanonicalPath<'_>, PathRejected> {
    if path.len() > MAX_PATH_LEN {
        return Err(PathRejected::TooLong);
    }
    let body = path.strip_prefix('/').ok_or(PathRejected::NotAbsolute)?;
    if body.is_empty() {
        return Ok(CanonicalPath {
            segments: Vec::new(),
            trailing_slash: false,
        });
    }
    let (body, trailing_slash) = match body.strip_suffix('/') {
        Some(rest) => (rest, true),
        None => (body, false),
    };
    let count = body.bytes().filter(|&b| b == b'/').count() + 1;
    if count > MAX_SEGMENTS {
        return Err(PathRejected::TooManySegments);
    }
    let mut segments = Vec::with_capacity(count);
    for raw in body.split('/') {
        segments.push(segment(raw)?);
    }
    Ok(CanonicalPath {
        segments,
        trailing_slash,
    })
}

/// Validates and decodes one raw segment; borrows when there is nothing to decode.
fn segment(raw: &str) -> Result<Cow<'_, str>, PathRejected> {
    if raw.is_empty() {
        return Err(PathRejected::EmptySegment);
    }
    if raw == "." || raw == ".." {
        return Err(PathRejected::DotSegment);
    }
    let mut escaped = false;
    for b in raw.bytes() {
        match b {
            b'\\' => return Err(PathRejected::Backslash),
            0x00..=0x1f | 0x7f => return Err(PathRejected::ControlCharacter),
            0x80..=0xff => return Err(PathRejected::NonAscii),
            b' ' | b'?' | b'#' => return Err(PathRejected::ForbiddenCharacter),
            b'%' => escaped = true,
            _ => {}
        }
    }
    if !escaped {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        match escape(&mut bytes).ok_or(PathRejected::InvalidEncoding)? {
            b'/' | b'\\' => return Err(PathRejected::EncodedSeparator),
            0 => return Err(PathRejected::EncodedNul),
            b'.' => return Err(PathRejected::EncodedDot),
            0x01..=0x1f | 0x7f => return Err(PathRejected::ControlCharacter),
            value => out.push(value),
        }
    }
    if holds_escape(&out) {
        return Err(PathRejected::DoubleEncoding);
    }
    let decoded = String::from_utf8(out).map_err(|_| PathRejected::InvalidUtf8)?;
    if decoded.chars().any(char::is_control) {
        return Err(PathRejected::ControlCharacter);
    }
    Ok(Cow::Owned(decoded))
}

/// Decodes the two hex digits after a `%`, consuming them.
fn escape(bytes: &mut impl Iterator<Item = u8>) -> Option<u8> {
    let hi = hex(bytes.next()?)?;
    let lo = hex(bytes.next()?)?;
    Some((hi << 4) | lo)
}

/// Whether `bytes` contain `%` followed by two hex digits, i.e. would decode again.
fn holds_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| matches!(w, [b'%', hi, lo] if hex(*hi).is_some() && hex(*lo).is_some()))
}

/// The value of one hex digit, either case.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Why a query string was refused; every variant maps to HTTP 400.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryRejected {
    /// A parameter name beginning `nxtP` or `nxtI` (after decoding): Next.js reads these as
    /// route parameters / interception markers, which only Next.js itself may set.
    ReservedNextParam,
    /// A `%` not followed by two hex digits.
    InvalidEncoding,
    /// A raw control character, space, `#` or non-ASCII byte.
    ForbiddenCharacter,
    /// The query is longer than [`MAX_QUERY_LEN`].
    TooLong,
    /// The query has more than [`MAX_QUERY_PARAMS`] non-empty parameters.
    TooManyParams,
}

impl fmt::Display for QueryRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReservedNextParam => "reserved next.js parameter name",
            Self::InvalidEncoding => "invalid percent-encoding",
            Self::ForbiddenCharacter => "forbidden character",
            Self::TooLong => "query too long",
            Self::TooManyParams => "too many parameters",
        })
    }
}

impl std::error::Error for QueryRejected {}

impl QueryRejected {
    /// A short snake_case reason for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ReservedNextParam => "reserved_next_param",
            Self::InvalidEncoding => "query_invalid_encoding",
            Self::ForbiddenCharacter => "query_forbidden_character",
            Self::TooLong => "query_too_long",
            Self::TooManyParams => "query_too_many_params",
        }
    }
}

/// Checks a raw query string (the bytes after `?`, without it). Does not allocate.
pub fn check_query(query: &str) -> Result<(), QueryRejected> {
    if query.len() > MAX_QUERY_LEN {
        return Err(QueryRejected::TooLong);
    }
    let mut count = 0usize;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        count += 1;
        if count > MAX_QUERY_PARAMS {
            return Err(QueryRejected::TooManyParams);
        }
        check_query_bytes(pair)?;
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        let mut prefix = [0u8; 4];
        let mut len = 0;
        for (slot, byte) in prefix.iter_mut().zip(FormDecoded(name.as_bytes())) {
            *slot = byte;
            len += 1;
        }
        if len == 4 && (prefix == *b"nxtP" || prefix == *b"nxtI") {
            return Err(QueryRejected::ReservedNextParam);
        }
    }
    Ok(())
}

/// Refuses raw bytes no client should send in a query and malformed percent escapes.
fn check_query_bytes(pair: &str) -> Result<(), QueryRejected> {
    let mut bytes = pair.bytes();
    while let Some(b) = bytes.next() {
        match b {
            0x00..=0x20 | 0x7f..=0xff | b'#' => return Err(QueryRejected::ForbiddenCharacter),
            b'%' => {
                escape(&mut bytes).ok_or(QueryRejected::InvalidEncoding)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Decodes `application/x-www-form-urlencoded` bytes (`+` is space) that were already
/// checked by [`check_query_bytes`], without allocating.
struct FormDecoded<'a>(&'a [u8]);

impl Iterator for FormDecoded<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if let [b'%', hi, lo, ref rest @ ..] = *self.0
            && let (Some(hi), Some(lo)) = (hex(hi), hex(lo))
        {
            self.0 = rest;
            return Some((hi << 4) | lo);
        }
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(if b == b'+' { b' ' } else { b })
    }
}

#[cfg(test)]
mod tests;
