//! Human units in the config file: durations such as `"30s"` and sizes such as `"1MiB"`.

use std::time::Duration;

/// Parses a duration written with a unit (`"250ms"`, `"30s"`, `"15m"`, `"1h"`), within bounds.
pub fn parse_duration(text: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` needs a unit, such as \"{trimmed}s\""));
    }
    let value = humantime::parse_duration(trimmed)
        .map_err(|e| format!("`{text}` is not a duration ({e}); write e.g. \"30s\" or \"15m\""))?;
    if value < min || value > max {
        return Err(format!(
            "`{text}` is out of range: between {} and {}",
            humantime::format_duration(min),
            humantime::format_duration(max)
        ));
    }
    Ok(value)
}

/// Parses a size such as `"1MiB"`, `"512KiB"` or `"1000"` (bytes), within bounds.
pub fn parse_size(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let value = text
        .trim()
        .parse::<bytesize::ByteSize>()
        .map_err(|_| format!("`{text}` is not a size; write e.g. \"1MiB\" or \"64KiB\""))?
        .as_u64();
    if value < min || value > max {
        return Err(format!(
            "`{text}` is out of range: between {min} and {max} bytes"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn durations_need_units_and_bounds() {
        assert_eq!(
            parse_duration("30s", Duration::ZERO, DAY),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            parse_duration("15m", Duration::ZERO, DAY),
            Ok(Duration::from_secs(900))
        );
        assert_eq!(
            parse_duration("250ms", Duration::ZERO, DAY),
            Ok(Duration::from_millis(250))
        );
        assert!(parse_duration("30", Duration::ZERO, DAY).is_err());
        assert!(parse_duration("soon", Duration::ZERO, DAY).is_err());
        assert!(parse_duration("2d", Duration::ZERO, DAY).is_err());
    }

    #[test]
    fn sizes_accept_binary_units() {
        assert_eq!(parse_size("1MiB", 1, u64::MAX), Ok(1024 * 1024));
        assert_eq!(parse_size("64KiB", 1, u64::MAX), Ok(64 * 1024));
        assert_eq!(parse_size("100", 1, u64::MAX), Ok(100));
        assert!(parse_size("lots", 1, u64::MAX).is_err());
        assert!(parse_size("0", 1, u64::MAX).is_err());
    }
}
