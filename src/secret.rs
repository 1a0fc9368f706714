//! Secret values and the `env:` / `file:` references that name them.
//!
//! A secret-bearing setting never holds the secret itself: the config names an environment
//! variable or a file, and the value lives in [`Secret`], whose `Debug` prints a placeholder.

use std::fmt;
use std::path::Path;

/// A secret value read from the environment or a file. Never printed.
#[derive(Clone)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// The raw bytes, for the one place that needs them (a TLS key, a comparison).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads the value that `reference` (`env:NAME` or `file:PATH`) points to.
///
/// A relative file path is resolved against `base_dir`, the config file's folder. A literal
/// value is refused without being echoed, since it is probably the secret itself.
pub fn resolve(reference: &str, base_dir: &Path) -> Result<Secret, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        return match std::env::var_os(name) {
            Some(value) if !value.is_empty() => Ok(Secret(value.into_encoded_bytes().into())),
            Some(_) => Err(format!("environment variable `{name}` is empty")),
            None => Err(format!("environment variable `{name}` is not set")),
        };
    }
    if let Some(path) = reference.strip_prefix("file:") {
        let full = base_dir.join(path);
        let mut bytes = std::fs::read(&full)
            .map_err(|e| format!("cannot read secret file `{}`: {e}", full.display()))?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        if bytes.is_empty() {
            return Err(format!("secret file `{}` is empty", full.display()));
        }
        return Ok(Secret(bytes.into()));
    }
    Err(
        "must be a reference such as \"env:NAME\" or \"file:PATH\"; \
         a literal value is refused (it is not shown here)"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_secret_is_refused_without_echo() {
        let err = resolve("hunter2-very-secret", Path::new(".")).unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn file_reference_trims_newline_and_debug_redacts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("k"), "s3cr3t\n").unwrap();
        let secret = resolve("file:k", dir.path()).unwrap();
        assert_eq!(secret.expose(), b"s3cr3t");
        assert!(!format!("{secret:?}").contains("s3cr3t"));
    }

    #[test]
    fn missing_file_names_itself() {
        let err = resolve("file:nope.pem", Path::new("/nonexistent")).unwrap_err();
        assert!(err.contains("nope.pem"), "{err}");
    }
}
