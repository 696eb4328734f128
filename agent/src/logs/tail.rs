//! `--tail N`: where the last N lines begin, found by reading backwards
//! from the end in blocks, so a huge file costs a few blocks, not a pass.

use std::io::{self, Read, Seek, SeekFrom};

/// Bytes read per step backwards.
pub const TAIL_BLOCK: usize = 64 * 1024;

/// The offset at which the last `lines` lines of the first `len` bytes of
/// `file` begin. A final line without a newline counts as a line; the
/// newline that ends the file does not start another.
pub fn tail_start<R: Read + Seek>(file: &mut R, len: u64, lines: u32) -> io::Result<u64> {
    if lines == 0 || len == 0 {
        return Ok(len);
    }
    let mut block = vec![0u8; TAIL_BLOCK];
    let mut end = len;
    let mut found = 0u32;
    let mut skip_last = true;
    while end > 0 {
        let start = end.saturating_sub(TAIL_BLOCK as u64);
        let size = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..size])?;
        for i in (0..size).rev() {
            if block[i] != b'\n' {
                continue;
            }
            let at = start + i as u64;
            if skip_last && at == len - 1 {
                continue;
            }
            found += 1;
            if found == lines {
                return Ok(at + 1);
            }
        }
        skip_last = false;
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn tail(text: &[u8], n: u32) -> Vec<u8> {
        let mut c = Cursor::new(text.to_vec());
        let at = tail_start(&mut c, text.len() as u64, n).unwrap();
        text[at as usize..].to_vec()
    }

    #[test]
    fn the_last_lines_are_found() {
        assert_eq!(tail(b"a\nb\nc\n", 2), b"b\nc\n");
        assert_eq!(tail(b"a\nb\nc", 2), b"b\nc");
        assert_eq!(tail(b"a\nb\nc\n", 3), b"a\nb\nc\n");
        assert_eq!(tail(b"a\nb\nc\n", 4), b"a\nb\nc\n");
        assert_eq!(tail(b"a\nb\nc\n", 1), b"c\n");
        assert_eq!(tail(b"a\n\n\n", 2), b"\n\n");
        assert_eq!(tail(b"a\nb\n", 0), b"");
        assert_eq!(tail(b"", 5), b"");
    }

    #[test]
    fn lines_spanning_blocks_are_counted_once() {
        let mut text = Vec::new();
        for i in 0..10_000 {
            text.extend_from_slice(format!("line number {i:05} with some padding\n").as_bytes());
        }
        assert!(text.len() > 3 * TAIL_BLOCK);
        let last = tail(&text, 5000);
        assert!(last.starts_with(b"line number 05000 "));
        assert_eq!(last.iter().filter(|&&b| b == b'\n').count(), 5000);
        assert_eq!(tail(&text, 10_000), text);
    }

    #[test]
    fn only_the_first_len_bytes_are_considered() {
        // Bytes appended after the pull began are not part of this tail.
        let text = b"a\nb\nc\nappended\n";
        let mut c = Cursor::new(text.to_vec());
        assert_eq!(tail_start(&mut c, 6, 1).unwrap(), 4);
    }
}
