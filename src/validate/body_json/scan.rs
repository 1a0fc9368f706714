//! The iterative scanner behind [`check`](super::check): grammar, depth, keys and numbers.
//!
//! It walks the body once with an explicit stack of open containers, never recursing, and
//! refuses a container before it would go past the depth limit, so the stack stays small.

use std::borrow::Cow;
use std::collections::HashSet;

use super::{BodyRejected, PROTOTYPE_KEYS};

/// Objects with more keys than this move duplicate detection from a list to a hash set.
const SMALL_OBJECT_KEYS: usize = 16;

/// Scans `text` as exactly one strict JSON value followed only by whitespace.
pub(super) fn scan(
    text: &str,
    max_depth: usize,
    allow_prototype_keys: bool,
) -> Result<(), BodyRejected> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        stack: Vec::new(),
        max_depth,
        allow_prototype_keys,
    };
    scanner.scan()
}

/// One open array or object on the scanner's stack.
enum Frame<'a> {
    /// An array and the index of the element being read.
    Array { index: usize },
    /// An object, the keys seen so far and the key whose value is being read.
    Object {
        keys: Keys<'a>,
        current: Cow<'a, str>,
    },
}

/// The decoded keys of one object, for duplicate detection.
enum Keys<'a> {
    /// Few keys: a linear search is cheapest.
    Small(Vec<Cow<'a, str>>),
    /// Many keys: a randomly seeded hash set keeps large objects linear.
    Large(HashSet<Cow<'a, str>>),
}

impl<'a> Keys<'a> {
    /// Adds `key`, returning `false` if it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        match self {
            Self::Small(list) => {
                if list.contains(&key) {
                    return false;
                }
                if list.len() < SMALL_OBJECT_KEYS {
                    list.push(key);
                } else {
                    let mut set: HashSet<_> = list.drain(..).collect();
                    set.insert(key);
                    *self = Self::Large(set);
                }
                true
            }
            Self::Large(set) => set.insert(key),
        }
    }
}

/// What [`Scanner::value`] read.
enum Step {
    /// A whole value: a scalar or an empty array or object.
    Complete,
    /// The start of a non-empty array or object; its first value comes next.
    Opened,
}

/// An iterative strict JSON scanner over text already known to be UTF-8.
struct Scanner<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    stack: Vec<Frame<'a>>,
    max_depth: usize,
    allow_prototype_keys: bool,
}

impl<'a> Scanner<'a> {
    /// Scans exactly one value followed only by whitespace.
    fn scan(&mut self) -> Result<(), BodyRejected> {
        self.skip_whitespace();
        if self.pos == self.bytes.len() {
            return Err(BodyRejected::Empty);
        }

        loop {
            match self.value()? {
                Step::Opened => continue,
                Step::Complete => {
                    if !self.next_slot()? {
                        break;
                    }
                }
            }
        }

        self.skip_whitespace();
        if self.pos != self.bytes.len() {
            return Err(BodyRejected::TrailingData);
        }
        Ok(())
    }

    /// Reads a value at `pos`, or only the opening of a non-empty array or object.
    fn value(&mut self) -> Result<Step, BodyRejected> {
        match self.peek() {
            Some(b'{') => self.open(true),
            Some(b'[') => self.open(false),
            Some(b'"') => self.string().map(|_| Step::Complete),
            Some(b'-' | b'0'..=b'9') => self.number().map(|()| Step::Complete),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            _ => Err(self.syntax()),
        }
    }

    /// Opens an object or array, refusing it before it goes past the depth limit.
    fn open(&mut self, object: bool) -> Result<Step, BodyRejected> {
        if self.stack.len() >= self.max_depth {
            return Err(BodyRejected::TooDeep);
        }
        self.pos += 1;
        self.skip_whitespace();

        let close = if object { b'}' } else { b']' };
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(Step::Complete);
        }

        if object {
            self.stack.push(Frame::Object {
                keys: Keys::Small(Vec::new()),
                current: Cow::Borrowed(""),
            });
            self.member()?;
        } else {
            self.stack.push(Frame::Array { index: 0 });
        }
        Ok(Step::Opened)
    }

    /// After a complete value, moves past commas and closers to the next value to read.
    ///
    /// Returns `false` when the top-level value is complete.
    fn next_slot(&mut self) -> Result<bool, BodyRejected> {
        loop {
            self.skip_whitespace();
            let byte = self.peek();
            match self.stack.last_mut() {
                None => return Ok(false),
                Some(Frame::Array { index }) => match byte {
                    Some(b',') => {
                        *index += 1;
                        self.pos += 1;
                        self.skip_whitespace();
                        return Ok(true);
                    }
                    Some(b']') => {}
                    _ => return Err(self.syntax()),
                },
                Some(Frame::Object { .. }) => match byte {
                    Some(b',') => {
                        self.pos += 1;
                        self.skip_whitespace();
                        self.member()?;
                        return Ok(true);
                    }
                    Some(b'}') => {}
                    _ => return Err(self.syntax()),
                },
            }

            // A closer matching the innermost container.
            self.pos += 1;
            self.stack.pop();
        }
    }

    /// Reads `"key" :` in the innermost object and checks the key.
    fn member(&mut self) -> Result<(), BodyRejected> {
        if self.peek() != Some(b'"') {
            return Err(self.syntax());
        }
        let key = self.string()?;
        let Some(Frame::Object { keys, current }) = self.stack.last_mut() else {
            return Err(BodyRejected::Inconsistent);
        };
        *current = key.clone();

        let prototype = !self.allow_prototype_keys && PROTOTYPE_KEYS.contains(&key.as_ref());
        if prototype || !keys.insert(key) {
            let pointer = self.pointer();
            return Err(if prototype {
                BodyRejected::PrototypeKey { pointer }
            } else {
                BodyRejected::DuplicateKey { pointer }
            });
        }

        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err(self.syntax());
        }
        self.pos += 1;
        self.skip_whitespace();
        Ok(())
    }

    /// Reads a string at `pos` (on its opening quote) and returns it decoded.
    ///
    /// A string without escapes is borrowed, so only escaped keys allocate.
    fn string(&mut self) -> Result<Cow<'a, str>, BodyRejected> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;

        loop {
            match self.peek() {
                None => return Err(self.syntax()),
                Some(b'"') => break,
                Some(b'\\') => {
                    self.escape()?;
                    escaped = true;
                }
                Some(0x00..=0x1F) => {
                    return Err(BodyRejected::ControlCharacter { offset: self.pos });
                }
                Some(_) => self.pos += 1,
            }
        }

        let raw = self
            .text
            .get(start..self.pos)
            .ok_or(BodyRejected::Inconsistent)?;
        self.pos += 1;
        if escaped {
            decode(raw, start).map(Cow::Owned)
        } else {
            Ok(Cow::Borrowed(raw))
        }
    }

    /// Checks one escape at `pos` (on the backslash) and moves past it.
    fn escape(&mut self) -> Result<(), BodyRejected> {
        let start = self.pos;
        match self.bytes.get(start + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 2;
                Ok(())
            }
            Some(b'u') => {
                let (_, end) = unicode_escape(self.bytes, start)?;
                self.pos = end;
                Ok(())
            }
            _ => Err(BodyRejected::Syntax { offset: start + 1 }),
        }
    }

    /// Reads a number at `pos` and checks that an f64 can hold it.
    fn number(&mut self) -> Result<(), BodyRejected> {
        let start = self.pos;
        self.eat(b'-');

        // Integer part: `0`, or a non-zero digit and more digits.
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if matches!(self.peek(), Some(b'0'..=b'9')) {
                    return Err(self.syntax());
                }
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.syntax()),
        }

        let mut plain = true;
        if self.eat(b'.') {
            self.required_digits()?;
            plain = false;
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.required_digits()?;
            plain = false;
        }

        // An integer must be one a double holds exactly (at most 2^53 in magnitude): beyond
        // that, a Node back end rounds it and acts on a number other than the one validated.
        if plain {
            let digits = self.text.get(start..self.pos).unwrap_or_default();
            let magnitude = digits.trim_start_matches('-');
            let exact =
                magnitude.len() < 16 || (magnitude.len() == 16 && magnitude <= "9007199254740992");
            if exact {
                return Ok(());
            }
            return Err(BodyRejected::NumberOutOfRange {
                pointer: self.pointer(),
            });
        }
        let finite = self
            .text
            .get(start..self.pos)
            .and_then(|number| number.parse::<f64>().ok())
            .is_some_and(f64::is_finite);
        if !finite {
            return Err(BodyRejected::NumberOutOfRange {
                pointer: self.pointer(),
            });
        }
        Ok(())
    }

    /// Reads `true`, `false` or `null`.
    fn literal(&mut self, word: &[u8]) -> Result<Step, BodyRejected> {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        match rest.iter().zip(word).position(|(have, want)| have != want) {
            None if rest.len() >= word.len() => {
                self.pos += word.len();
                Ok(Step::Complete)
            }
            None => Err(BodyRejected::Syntax {
                offset: self.bytes.len(),
            }),
            Some(at) => Err(BodyRejected::Syntax {
                offset: self.pos + at,
            }),
        }
    }

    /// Moves past one or more ASCII digits, or refuses.
    fn required_digits(&mut self) -> Result<(), BodyRejected> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.syntax());
        }
        self.digits();
        Ok(())
    }

    /// Moves past any ASCII digits.
    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    /// Moves past `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    /// Moves past the four JSON whitespace bytes.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn syntax(&self) -> BodyRejected {
        BodyRejected::Syntax { offset: self.pos }
    }

    /// The JSON pointer of the value (or key) being read.
    fn pointer(&self) -> String {
        let mut pointer = String::new();
        for frame in &self.stack {
            pointer.push('/');
            match frame {
                Frame::Array { index } => pointer.push_str(&index.to_string()),
                Frame::Object { current, .. } => push_token(&mut pointer, current),
            }
        }
        pointer
    }
}

/// Appends a reference token, escaping `~` and `/` as RFC 6901 says.
fn push_token(pointer: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Decodes the escapes of a string's contents that [`Scanner::string`] already checked.
///
/// `offset` is where `raw` starts in the body, for error offsets.
fn decode(raw: &str, offset: usize) -> Result<String, BodyRejected> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut run_start = 0;
    let mut i = 0;

    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(raw.get(run_start..i).ok_or(BodyRejected::Inconsistent)?);

        let (c, end) = match bytes.get(i + 1) {
            Some(b'u') => unicode_escape(bytes, i).map_err(|e| shift(e, offset))?,
            Some(b'b') => ('\u{8}', i + 2),
            Some(b'f') => ('\u{c}', i + 2),
            Some(b'n') => ('\n', i + 2),
            Some(b'r') => ('\r', i + 2),
            Some(b't') => ('\t', i + 2),
            Some(&other) => (char::from(other), i + 2),
            None => return Err(BodyRejected::Syntax { offset: offset + i }),
        };
        out.push(c);
        i = end;
        run_start = end;
    }

    out.push_str(raw.get(run_start..).ok_or(BodyRejected::Inconsistent)?);
    Ok(out)
}

/// Moves the offset of an error found in a slice to its place in the body.
fn shift(error: BodyRejected, by: usize) -> BodyRejected {
    match error {
        BodyRejected::Syntax { offset } => BodyRejected::Syntax {
            offset: offset + by,
        },
        BodyRejected::LoneSurrogate { offset } => BodyRejected::LoneSurrogate {
            offset: offset + by,
        },
        other => other,
    }
}

/// Decodes a `\u` escape of four hex digits (and its low half, for a surrogate pair) starting at `start`.
///
/// Returns the character and the offset just past the escape.
fn unicode_escape(bytes: &[u8], start: usize) -> Result<(char, usize), BodyRejected> {
    let high = hex4(bytes, start + 2)?;
    let lone = BodyRejected::LoneSurrogate { offset: start };

    let (code, end) = match high {
        0xD800..=0xDBFF => {
            if bytes.get(start + 6..start + 8) != Some(b"\\u") {
                return Err(lone);
            }
            let low = hex4(bytes, start + 8)?;
            if !(0xDC00..=0xDFFF).contains(&low) {
                return Err(lone);
            }
            (
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00),
                start + 12,
            )
        }
        0xDC00..=0xDFFF => return Err(lone),
        _ => (high, start + 6),
    };
    char::from_u32(code)
        .map(|c| (c, end))
        .ok_or(BodyRejected::Syntax { offset: start })
}

/// Reads four hex digits at `at`.
fn hex4(bytes: &[u8], at: usize) -> Result<u32, BodyRejected> {
    let mut value = 0;
    for i in at..at + 4 {
        let digit = bytes
            .get(i)
            .and_then(|&b| char::from(b).to_digit(16))
            .ok_or(BodyRejected::Syntax {
                offset: i.min(bytes.len()),
            })?;
        value = value * 16 + digit;
    }
    Ok(value)
}
