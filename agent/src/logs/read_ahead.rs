//! Reading a range of a log on the blocking pool, a few chunks ahead of
//! the sender, so the disk read of one chunk overlaps sending the last.
//!
//! One thread reads `TRANSFER_CHUNK_LEN` at a time straight into a fresh
//! buffer (no intermediate copy, unlike `tokio::fs::File`) and hands it
//! over a channel of [`READ_AHEAD`] slots: at most that many chunks wait in
//! memory. When the receiver is dropped (the pull ended or hit its limit)
//! the thread stops at its next hand-over.

use std::io::Read;
use tokio::sync::mpsc;
use triage_shared::transfer::TRANSFER_CHUNK_LEN;

/// Chunks read but not yet sent, at most.
pub const READ_AHEAD: usize = 2;

pub struct ReadAhead {
    chunks: mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

impl ReadAhead {
    /// Reads at most `len` bytes from `file`'s current position. A file
    /// that turns out shorter (it shrank since it was opened) ends early.
    pub fn start(mut file: std::fs::File, len: u64) -> ReadAhead {
        let (tx, chunks) = mpsc::channel(READ_AHEAD);
        tokio::task::spawn_blocking(move || {
            let mut left = len;
            while left > 0 {
                let want = left.min(TRANSFER_CHUNK_LEN as u64);
                let mut buf = Vec::with_capacity(want as usize);
                let read = (&mut file).take(want).read_to_end(&mut buf);
                let last = !matches!(read, Ok(n) if n > 0);
                if let Ok(n) = read {
                    left -= n as u64;
                    if n == 0 {
                        return;
                    }
                }
                if tx.blocking_send(read.map(|_| buf)).is_err() || last {
                    return;
                }
            }
        });
        ReadAhead { chunks }
    }

    /// The next chunk; `None` once the range (or the file) is read.
    pub async fn next(&mut self) -> Option<std::io::Result<Vec<u8>>> {
        self.chunks.recv().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    fn file_of(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i % 239) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        (f, data)
    }

    async fn read_all(mut r: ReadAhead) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = r.next().await {
            out.push(chunk.unwrap());
        }
        out
    }

    #[tokio::test]
    async fn a_range_arrives_in_full_chunks_from_the_current_position() {
        let (f, data) = file_of(TRANSFER_CHUNK_LEN * 2 + 100);
        let mut file = f.reopen().unwrap();
        file.seek(SeekFrom::Start(50)).unwrap();
        let len = (TRANSFER_CHUNK_LEN + 20) as u64;
        let chunks = read_all(ReadAhead::start(file, len)).await;
        assert_eq!(
            chunks.iter().map(Vec::len).collect::<Vec<_>>(),
            [TRANSFER_CHUNK_LEN, 20]
        );
        assert_eq!(chunks.concat(), &data[50..50 + len as usize]);
    }

    #[tokio::test]
    async fn a_file_shorter_than_the_range_ends_early() {
        let (f, data) = file_of(1000);
        let chunks = read_all(ReadAhead::start(f.reopen().unwrap(), 5000)).await;
        assert_eq!(chunks.concat(), data);
    }

    #[tokio::test]
    async fn an_empty_range_sends_nothing() {
        let (f, _) = file_of(1000);
        assert!(read_all(ReadAhead::start(f.reopen().unwrap(), 0))
            .await
            .is_empty());
    }

    #[tokio::test]
    async fn a_read_error_is_handed_over_and_ends_the_range() {
        // A directory opens but cannot be read.
        let dir = tempfile::tempdir().unwrap();
        let file = std::fs::File::open(dir.path()).unwrap();
        let mut r = ReadAhead::start(file, 10);
        assert!(r.next().await.unwrap().is_err());
        assert!(r.next().await.is_none());
    }
}
