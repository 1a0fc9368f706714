//! Secret values and the `env:` / `file:` references that name them.
//!
//! A secret-bearing setting never holds the secret itself: the config names an environment
//! variable or a file, and the value lives in [`Secret`], whose `Debug` prints a placeholder.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest secret file read, in bytes: far more than any PEM chain or key.
const MAX_SECRET_FILE: u64 = 1 << 20;

/// A secret value read from the environment or a file. Never printed.
#[derive(Clone)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// Wraps a value that did not come from a reference, such as one the demo makes up.
    pub fn from_bytes(bytes: &[u8]) -> Secret {
        Secret(bytes.into())
    }

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
        let mut bytes = read_bounded(&full)?;
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

/// Reads a secret file of at most [`MAX_SECRET_FILE`] bytes.
///
/// Anything but a regular file is refused before it is opened: a directory cannot be read, a
/// device such as `/dev/zero` never ends, and a FIFO would block `palisade check` forever.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let cannot = |e: std::io::Error| format!("cannot read secret file `{shown}`: {e}");
    let not_regular = || format!("secret file `{shown}` is not a regular file");
    if !std::fs::metadata(path).map_err(cannot)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(cannot)?;
    // Checked again on the open file, in case the path was swapped in between.
    if !file.metadata().map_err(cannot)?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_SECRET_FILE {
        return Err(format!("secret file `{shown}` is larger than 1 MiB"));
    }
    Ok(bytes)
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

    #[test]
    fn oversized_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![b'a'; (MAX_SECRET_FILE + 1) as usize];
        std::fs::write(dir.path().join("big.pem"), &big).unwrap();
        let err = resolve("file:big.pem", dir.path()).unwrap_err();
        assert!(
            err.contains("big.pem") && err.contains("larger than 1 MiB"),
            "{err}"
        );
        // Exactly at the limit is fine.
        std::fs::write(dir.path().join("max.pem"), &big[1..]).unwrap();
        assert_eq!(
            resolve("file:max.pem", dir.path()).unwrap().expose().len(),
            big.len() - 1
        );
    }

    #[test]
    fn endless_device_is_refused_without_reading() {
        let err = resolve("file:/dev/zero", Path::new(".")).unwrap_err();
        assert!(
            err.contains("/dev/zero") && err.contains("not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn directory_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("certs")).unwrap();
        let err = resolve("file:certs", dir.path()).unwrap_err();
        assert!(
            err.contains("certs") && err.contains("not a regular file"),
            "{err}"
        );
    }
}
