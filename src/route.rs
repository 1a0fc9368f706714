//! Next.js file-system route patterns and a trie router with Next.js precedence.
//!
//! Patterns use `[param]`, `[...rest]` and `[[...rest]]`; at each segment static beats
//! `[param]` beats `[...rest]` beats `[[...rest]]`, with backtracking. A route is chosen by
//! path first and by method second, so a method mismatch is a 405, never a fallthrough.

use std::fmt;
use std::ops::Range;

/// The methods palisade routes: those Next.js route handlers export. Any other (`TRACE`,
/// `CONNECT`, made-up tokens) gets 405 on every path, whatever the routes say.
pub const KNOWN_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The `Allow` value for a method palisade does not route at all.
pub const ALL_KNOWN_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";

/// Whether `method` is one palisade routes.
pub fn is_known_method(method: &Method) -> bool {
    KNOWN_METHODS.contains(&method.as_str())
}

use http::Method;

mod pattern;

use pattern::Segment;
pub use pattern::{MAX_PATTERN_LEN, MAX_PATTERN_SEGMENTS, Pattern, PatternError};

/// Why a route could not be inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteConflict {
    /// The pattern (given) already has a route for the method (`None`: a route for every
    /// method is involved).
    MethodOverlap {
        /// Canonical text of the pattern.
        pattern: String,
        /// A method both routes serve; `None` when one of them serves every method.
        method: Option<Method>,
    },
    /// Two patterns use different names for the same dynamic position.
    ParamName {
        /// The segment already in the router, e.g. `[id]`.
        existing: String,
        /// The segment being inserted, e.g. `[slug]`.
        new: String,
    },
    /// A required and an optional catch-all at the same position.
    CatchAllKind {
        /// The catch-all already in the router.
        existing: String,
        /// The catch-all being inserted.
        new: String,
    },
    /// A pattern and the same pattern plus `[[...rest]]` would both match the same path.
    OptionalCatchAllShadow {
        /// The pattern without the optional catch-all.
        index: String,
        /// The pattern ending in the optional catch-all.
        catch_all: String,
    },
    /// An explicit, empty method list for the pattern (given).
    NoMethods(String),
}

impl fmt::Display for RouteConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MethodOverlap {
                pattern,
                method: Some(m),
            } => write!(f, "`{pattern}` already has a route for {m}"),
            Self::MethodOverlap {
                pattern,
                method: None,
            } => write!(
                f,
                "`{pattern}` already has a route and one of them takes every method"
            ),
            Self::ParamName { existing, new } => write!(
                f,
                "cannot use different parameter names for the same dynamic path \
                 (`{existing}` and `{new}`)"
            ),
            Self::CatchAllKind { existing, new } => write!(
                f,
                "cannot use both a required and an optional catch-all at the same level \
                 (`{existing}` and `{new}`)"
            ),
            Self::OptionalCatchAllShadow { index, catch_all } => write!(
                f,
                "`{index}` and `{catch_all}` both match `{index}`; keep only the catch-all"
            ),
            Self::NoMethods(p) => write!(f, "`{p}` was given an empty method list"),
        }
    }
}

impl std::error::Error for RouteConflict {}

/// The outcome of [`Router::find`].
#[derive(Debug)]
pub enum Match<'r, T> {
    /// A route matched path and method.
    Found {
        /// The route's payload.
        value: &'r T,
        /// The parameters the pattern captured.
        params: Params<'r>,
    },
    /// A pattern matched the path but none of its routes takes the method.
    MethodNotAllowed {
        /// The `Allow` header value, e.g. `GET, HEAD, POST`.
        allow: &'r str,
        /// The pattern that matched the path, for logs.
        pattern: &'r Pattern,
    },
    /// No pattern matched the path.
    NotFound,
}

/// Captured parameters: each name with the range of request segments it covers (a
/// catch-all covers many; an empty optional catch-all covers none). Never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params<'r> {
    pattern: &'r Pattern,
    len: usize,
}

impl<'r> Params<'r> {
    /// Iterates `(name, segment range)` in pattern order.
    pub fn iter(&self) -> ParamsIter<'r> {
        ParamsIter {
            segments: self.pattern.segments.iter().enumerate(),
            len: self.len,
        }
    }

    /// The segment range captured by `name`, if the pattern has that parameter.
    pub fn get(&self, name: &str) -> Option<Range<usize>> {
        self.iter().find(|(n, _)| *n == name).map(|(_, r)| r)
    }

    /// Whether the pattern has no parameters.
    pub fn is_empty(&self) -> bool {
        self.pattern.param_names().next().is_none()
    }

    /// The pattern that matched (first inserted spelling; names are the same for all).
    pub fn pattern(&self) -> &'r Pattern {
        self.pattern
    }
}

impl<'r> IntoIterator for Params<'r> {
    type Item = (&'r str, Range<usize>);
    type IntoIter = ParamsIter<'r>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Iterator over [`Params`].
#[derive(Debug, Clone)]
pub struct ParamsIter<'r> {
    segments: std::iter::Enumerate<std::slice::Iter<'r, Segment>>,
    len: usize,
}

impl<'r> Iterator for ParamsIter<'r> {
    type Item = (&'r str, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        for (i, segment) in self.segments.by_ref() {
            match segment {
                Segment::Static(_) => {}
                Segment::Param(n) => return Some((n, i..i + 1)),
                Segment::CatchAll(n) | Segment::OptionalCatchAll(n) => {
                    return Some((n, i..self.len.max(i)));
                }
            }
        }
        None
    }
}

/// A set of routes with payload `T`, matched with Next.js precedence.
#[derive(Debug)]
pub struct Router<T> {
    root: Node<T>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct Node<T> {
    /// Sorted by name for binary search.
    statics: Vec<(Box<str>, Node<T>)>,
    param: Option<(Box<str>, Box<Node<T>>)>,
    catch_all: Option<(Box<str>, Slot<T>)>,
    optional_catch_all: Option<(Box<str>, Slot<T>)>,
    /// Routes whose pattern ends at this node.
    slot: Option<Slot<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            statics: Vec::new(),
            param: None,
            catch_all: None,
            optional_catch_all: None,
            slot: None,
        }
    }
}

/// All routes of one pattern shape.
#[derive(Debug)]
struct Slot<T> {
    pattern: Pattern,
    routes: Vec<Route<T>>,
    allow: String,
}

#[derive(Debug)]
struct Route<T> {
    /// Sorted and de-duplicated; `None` means every method.
    methods: Option<Vec<Method>>,
    value: T,
}

impl<T> Router<T> {
    /// An empty router.
    pub fn new() -> Self {
        Self {
            root: Node::default(),
        }
    }

    /// Adds a route. `methods = None` means every method. The same pattern shape may be
    /// added again only with a disjoint method set.
    pub fn insert(
        &mut self,
        pattern: Pattern,
        methods: Option<Vec<Method>>,
        value: T,
    ) -> Result<(), RouteConflict> {
        let methods = match methods {
            Some(mut list) => {
                if list.is_empty() {
                    return Err(RouteConflict::NoMethods(pattern.to_string()));
                }
                list.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                list.dedup();
                Some(list)
            }
            None => None,
        };
        if let Some(slot) = self.root.existing_slot(&pattern)? {
            for route in &slot.routes {
                if let Some(method) = overlap(route.methods.as_deref(), methods.as_deref()) {
                    return Err(RouteConflict::MethodOverlap {
                        pattern: pattern.to_string(),
                        method,
                    });
                }
            }
        }
        let slot = self.root.slot_mut(&pattern);
        slot.routes.push(Route { methods, value });
        slot.allow = allow_header(&slot.routes);
        Ok(())
    }

    /// Finds the route for already-decoded `segments` (see
    /// [`crate::sanitize::path::canonicalize`]) and `method`. Does not allocate.
    pub fn find<'r, S: AsRef<str>>(&'r self, segments: &[S], method: &Method) -> Match<'r, T> {
        let Some(slot) = self.root.lookup(segments, &mut 0) else {
            return Match::NotFound;
        };
        match slot.select(method) {
            Some(value) => Match::Found {
                value,
                params: Params {
                    pattern: &slot.pattern,
                    len: segments.len(),
                },
            },
            None => Match::MethodNotAllowed {
                allow: &slot.allow,
                pattern: &slot.pattern,
            },
        }
    }
}

/// Whether two method sets share a method: `Some(Some(m))` names one, `Some(None)` means
/// one side takes every method.
fn overlap(a: Option<&[Method]>, b: Option<&[Method]>) -> Option<Option<Method>> {
    match (a, b) {
        (Some(a), Some(b)) => a.iter().find(|m| b.contains(m)).map(|m| Some(m.clone())),
        _ => Some(None),
    }
}

/// Sorted, de-duplicated union of explicit methods, with HEAD wherever GET is.
fn allow_header<T>(routes: &[Route<T>]) -> String {
    let mut names: Vec<&str> = routes
        .iter()
        .filter_map(|r| r.methods.as_deref())
        .flatten()
        .map(Method::as_str)
        .collect();
    if names.contains(&"GET") {
        names.push("HEAD");
    }
    names.sort_unstable();
    names.dedup();
    names.join(", ")
}

impl<T> Slot<T> {
    fn new(pattern: &Pattern) -> Self {
        Self {
            pattern: pattern.clone(),
            routes: Vec::new(),
            allow: String::new(),
        }
    }

    /// Explicit method first, then HEAD served by an explicit GET, then a route for every
    /// method. Insert rules make each step's answer unique.
    fn select(&self, method: &Method) -> Option<&T> {
        let explicit = |m: &Method| {
            self.routes
                .iter()
                .find(|r| r.methods.as_ref().is_some_and(|ms| ms.contains(m)))
        };
        explicit(method)
            .or_else(|| {
                (*method == Method::HEAD)
                    .then(|| explicit(&Method::GET))
                    .flatten()
            })
            .or_else(|| self.routes.iter().find(|r| r.methods.is_none()))
            .map(|r| &r.value)
    }
}

impl<T> Node<T> {
    fn static_child(&self, name: &str) -> Option<&Self> {
        self.statics
            .binary_search_by(|(k, _)| k.as_ref().cmp(name))
            .ok()
            .and_then(|i| self.statics.get(i))
            .map(|(_, child)| child)
    }

    /// Depth-first search in precedence order: static child, param child, catch-all,
    /// optional catch-all. The trie is a tree and every call descends into a different
    /// child, so one lookup visits each node at most once (`visits` counts them): the
    /// backtracking is linear in the router's size, and recursion depth is bounded by
    /// [`MAX_PATTERN_SEGMENTS`], whatever the request.
    fn lookup<S: AsRef<str>>(&self, segments: &[S], visits: &mut usize) -> Option<&Slot<T>> {
        *visits += 1;
        let Some((first, rest)) = segments.split_first() else {
            return self
                .slot
                .as_ref()
                .or(self.optional_catch_all.as_ref().map(|(_, s)| s));
        };
        if let Some(found) = self
            .static_child(first.as_ref())
            .and_then(|child| child.lookup(rest, visits))
        {
            return Some(found);
        }
        if let Some(found) = self
            .param
            .as_ref()
            .and_then(|(_, child)| child.lookup(rest, visits))
        {
            return Some(found);
        }
        self.catch_all
            .as_ref()
            .or(self.optional_catch_all.as_ref())
            .map(|(_, s)| s)
    }

    /// The slot already holding `pattern`'s shape, if any, after checking that inserting
    /// `pattern` would not clash with the names or kinds already in the trie.
    fn existing_slot(&self, pattern: &Pattern) -> Result<Option<&Slot<T>>, RouteConflict> {
        let mut node = self;
        for segment in &pattern.segments {
            match segment {
                Segment::Static(s) => match node.static_child(s) {
                    Some(child) => node = child,
                    None => return Ok(None),
                },
                Segment::Param(n) => match &node.param {
                    Some((existing, child)) => {
                        same_name(existing, n, segment, Segment::Param)?;
                        node = child;
                    }
                    None => return Ok(None),
                },
                Segment::CatchAll(n) => {
                    if let Some((other, _)) = &node.optional_catch_all {
                        return Err(RouteConflict::CatchAllKind {
                            existing: Segment::OptionalCatchAll(other.clone()).to_string(),
                            new: segment.to_string(),
                        });
                    }
                    return match &node.catch_all {
                        Some((existing, slot)) => {
                            same_name(existing, n, segment, Segment::CatchAll)?;
                            Ok(Some(slot))
                        }
                        None => Ok(None),
                    };
                }
                Segment::OptionalCatchAll(n) => {
                    if let Some((other, _)) = &node.catch_all {
                        return Err(RouteConflict::CatchAllKind {
                            existing: Segment::CatchAll(other.clone()).to_string(),
                            new: segment.to_string(),
                        });
                    }
                    if let Some(index) = &node.slot {
                        return Err(RouteConflict::OptionalCatchAllShadow {
                            index: index.pattern.to_string(),
                            catch_all: pattern.to_string(),
                        });
                    }
                    return match &node.optional_catch_all {
                        Some((existing, slot)) => {
                            same_name(existing, n, segment, Segment::OptionalCatchAll)?;
                            Ok(Some(slot))
                        }
                        None => Ok(None),
                    };
                }
            }
        }
        if let Some((_, slot)) = &node.optional_catch_all {
            return Err(RouteConflict::OptionalCatchAllShadow {
                index: pattern.to_string(),
                catch_all: slot.pattern.to_string(),
            });
        }
        Ok(node.slot.as_ref())
    }

    /// The slot for `pattern`, creating nodes as needed. Call after [`Self::existing_slot`].
    fn slot_mut(&mut self, pattern: &Pattern) -> &mut Slot<T> {
        let mut node = self;
        for segment in &pattern.segments {
            match segment {
                Segment::Static(s) => {
                    let index = match node.statics.binary_search_by(|(k, _)| k.cmp(s)) {
                        Ok(i) => i,
                        Err(i) => {
                            node.statics.insert(i, (s.clone(), Node::default()));
                            i
                        }
                    };
                    node = &mut node.statics[index].1;
                }
                Segment::Param(n) => {
                    node = &mut node
                        .param
                        .get_or_insert_with(|| (n.clone(), Box::default()))
                        .1;
                }
                Segment::CatchAll(n) => {
                    let entry = node
                        .catch_all
                        .get_or_insert_with(|| (n.clone(), Slot::new(pattern)));
                    return &mut entry.1;
                }
                Segment::OptionalCatchAll(n) => {
                    let entry = node
                        .optional_catch_all
                        .get_or_insert_with(|| (n.clone(), Slot::new(pattern)));
                    return &mut entry.1;
                }
            }
        }
        node.slot.get_or_insert_with(|| Slot::new(pattern))
    }
}

/// Refuses a dynamic segment whose name differs from the one already at its position.
fn same_name(
    existing: &str,
    new: &str,
    segment: &Segment,
    kind: fn(Box<str>) -> Segment,
) -> Result<(), RouteConflict> {
    if existing == new {
        return Ok(());
    }
    Err(RouteConflict::ParamName {
        existing: kind(existing.into()).to_string(),
        new: segment.to_string(),
    })
}

#[cfg(test)]
mod tests;
