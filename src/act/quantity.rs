//! Kubernetes resource quantities (`512Mi`, `1.5Gi`, `250m`, `2`, `1e3`) as
//! the numbers the language speaks in: bytes for memory, cores for CPU, and
//! back. What the `set` executor reads off a container and writes on it.

use crate::catalog::BYTE_SUFFIXES;

/// The fractional suffixes, which only CPU quantities use; the byte
/// suffixes are the catalog's.
const FRACTIONS: [(&str, f64); 3] = [("n", 1e-9), ("u", 1e-6), ("m", 1e-3)];

/// The value of a quantity, or `None` when it is not one (or not finite).
pub fn parse(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = BYTE_SUFFIXES
        .iter()
        .chain(FRACTIONS.iter())
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|n| (n, *factor)))
        .unwrap_or((text, 1.0));
    // `1e3` is a decimal exponent, which f64 parses; `1E` is exa, above.
    if number.is_empty() {
        return None;
    }
    let value = number.parse::<f64>().ok()? * factor;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// Bytes as a memory or storage quantity: in the largest binary unit (Ti,
/// Gi, Mi) that divides it exactly, else bytes.
pub fn memory(bytes: f64) -> String {
    let bytes = bytes.max(0.0).round();
    for (suffix, unit) in [
        ("Ti", 1_099_511_627_776.0),
        ("Gi", 1_073_741_824.0),
        ("Mi", 1_048_576.0),
    ] {
        if bytes >= unit && bytes % unit == 0.0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    format!("{bytes}")
}

/// Cores as a CPU quantity, in whole millicores (the API's precision).
pub fn cpu(cores: f64) -> String {
    let millis = (cores.max(0.0) * 1_000.0).round().max(1.0);
    format!("{millis}m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_as_the_api_writes_them() {
        for (text, value) in [
            ("512Mi", 536_870_912.0),
            ("1.5Gi", 1_610_612_736.0),
            ("250m", 0.25),
            ("2", 2.0),
            ("1e3", 1000.0),
            ("1k", 1000.0),
            ("128M", 128e6),
            ("1E", 1e18),
            (" 64Ki ", 65_536.0),
        ] {
            assert_eq!(parse(text), Some(value), "{text}");
        }
        for bad in ["", "Mi", "lots", "-1Gi", "NaN", "inf", "1Qi"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn values_write_back_in_the_api_s_own_units() {
        assert_eq!(memory(536_870_912.0), "512Mi");
        assert_eq!(memory(1_073_741_824.0 * 15.0), "15Gi");
        assert_eq!(memory(1_099_511_627_776.0), "1Ti");
        assert_eq!(memory(1_610_612_736.0), "1536Mi");
        assert_eq!(memory(1_000_000.0), "1000000");
        assert_eq!(cpu(0.25), "250m");
        assert_eq!(cpu(1.5), "1500m");
        assert_eq!(cpu(0.0), "1m", "never a zero limit");
        assert_eq!(parse(&memory(805_306_368.0)), Some(805_306_368.0));
    }
}
