//! Byte sizes for people, on bytesize: printed in binary units (`512 B`,
//! `1.5 KiB`, `8.0 GiB`) and read from configuration (`5GiB`, `500 MB`,
//! `1024`).

use bytesize::ByteSize;

/// `512 B`, `1.5 KiB`, `8.0 GiB`: binary units, one decimal past bytes.
pub fn human_bytes(bytes: u64) -> String {
    ByteSize(bytes).display().iec().to_string()
}

/// Parses `5GiB`, `500 MB`, `1.5TiB` or `1024` (bytes). Decimal units
/// (`MB`) are powers of 1000, binary ones (`MiB`) powers of 1024; case
/// does not matter.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let number_len = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if t[..number_len].parse::<f64>().is_err() {
        return Err(format!("`{text}` is not a size; write e.g. 5GiB or 500MB"));
    }
    let size: ByteSize = t.parse().map_err(|_| {
        format!("`{text}` has an unknown unit; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB")
    })?;
    // bytesize saturates at u64::MAX rather than refusing a size past it.
    if size.as_u64() == u64::MAX {
        return Err(format!("`{text}` is too large"));
    }
    Ok(size.as_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(8 << 30), "8.0 GiB");
        assert_eq!(human_bytes(3 << 40), "3.0 TiB");
        assert_eq!(human_bytes(5 << 50), "5.0 PiB");
    }

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(parse_bytes("5GiB").unwrap(), 5 << 30);
        assert_eq!(parse_bytes("500 MB").unwrap(), 500_000_000);
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert_eq!(parse_bytes(" 42 ").unwrap(), 42);
        assert_eq!(parse_bytes("2tib").unwrap(), 2 << 40);
        assert_eq!(parse_bytes(&human_bytes(8 << 30)).unwrap(), 8 << 30);
    }

    #[test]
    fn bad_or_oversized_sizes_are_refused() {
        assert_eq!(
            parse_bytes("GiB").unwrap_err(),
            "`GiB` is not a size; write e.g. 5GiB or 500MB"
        );
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("-5MB").is_err());
        assert!(parse_bytes("5 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
        assert_eq!(
            parse_bytes("99999999999TiB").unwrap_err(),
            "`99999999999TiB` is too large"
        );
        assert!(parse_bytes("99999999999.5TiB").is_err());
        assert_eq!(parse_bytes("16383PiB").unwrap(), 16383 << 50);
    }
}
