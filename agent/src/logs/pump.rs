//! The sending side of a transfer: bytes in, `Chunk` frames of at most
//! [`TRANSFER_CHUNK_LEN`] out, counted and hashed, cut off at the byte limit.
//! Holds one chunk at most; a slow reader slows `push` down through the
//! stream's flow control.
//!
//! A chunk goes out as its header and then its data, written where they
//! lie ([`ChunkLayout`]): the same bytes as an encoded frame, without
//! copying the data into one. Full chunks handed to `push` are not even
//! copied into the pump's buffer.

use std::sync::LazyLock;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use triage_shared::codec::{write_frame, CodecError};
use triage_shared::remote::AgentReply;
use triage_shared::transfer::raw::ChunkLayout;
use triage_shared::transfer::{
    ContentHasher, EndReason, TransferEnd, TransferFrame, TransferStart, TRANSFER_CHUNK_LEN,
};

/// `None` only if the codec could not encode an empty chunk: chunks are then encoded whole.
static CHUNKS: LazyLock<Option<ChunkLayout>> =
    LazyLock::new(|| ChunkLayout::of(AgentReply::Transfer).ok());

pub struct Pump<'w, W> {
    send: &'w mut W,
    buf: Vec<u8>,
    hasher: ContentHasher,
    limit: u64,
    limited: bool,
}

impl<'w, W: AsyncWrite + Unpin> Pump<'w, W> {
    /// Sends `start` and returns a pump that sends at most `limit` bytes.
    pub async fn start(
        send: &'w mut W,
        start: TransferStart,
        limit: u64,
    ) -> Result<Pump<'w, W>, CodecError> {
        write_frame(send, &AgentReply::Transfer(TransferFrame::Start(start))).await?;
        Ok(Pump {
            send,
            buf: Vec::with_capacity(TRANSFER_CHUNK_LEN),
            hasher: ContentHasher::default(),
            limit,
            limited: false,
        })
    }

    /// Queues `data`, sending every full chunk. Returns `false` once the
    /// limit is reached: what did not fit was dropped and the caller should
    /// stop reading.
    pub async fn push(&mut self, mut data: &[u8]) -> Result<bool, CodecError> {
        let room = self.limit - self.hasher.bytes() - self.buf.len() as u64;
        if data.len() as u64 > room {
            data = &data[..room as usize];
            self.limited = true;
        }
        while !data.is_empty() {
            if self.buf.is_empty() && data.len() >= TRANSFER_CHUNK_LEN {
                let (chunk, rest) = data.split_at(TRANSFER_CHUNK_LEN);
                self.send_chunk(chunk).await?;
                data = rest;
                continue;
            }
            let take = data.len().min(TRANSFER_CHUNK_LEN - self.buf.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == TRANSFER_CHUNK_LEN {
                self.flush().await?;
            }
        }
        Ok(!self.limited)
    }

    /// Sends whatever is queued (a followed log sends what it has at once).
    pub async fn flush(&mut self) -> Result<(), CodecError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        let sent = self.send_chunk(&chunk).await;
        // The buffer is reused: one allocation for the whole body.
        self.buf = chunk;
        self.buf.clear();
        sent
    }

    /// Hashes and sends one chunk (not empty, at most [`TRANSFER_CHUNK_LEN`]).
    async fn send_chunk(&mut self, data: &[u8]) -> Result<(), CodecError> {
        self.hasher.update(data);
        match CHUNKS.as_ref().map(|layout| layout.header(data.len())) {
            Some(Ok(header)) => {
                self.send.write_all(&header).await?;
                self.send.write_all(data).await?;
                Ok(())
            }
            _ => {
                let frame = AgentReply::Transfer(TransferFrame::Chunk(data.to_vec()));
                write_frame(self.send, &frame).await
            }
        }
    }

    pub async fn keep_alive(&mut self) -> Result<(), CodecError> {
        write_frame(self.send, &AgentReply::Transfer(TransferFrame::KeepAlive)).await
    }

    /// Bytes sent or queued so far.
    pub fn bytes(&self) -> u64 {
        self.hasher.bytes() + self.buf.len() as u64
    }

    /// The stream, to report an error after the body began.
    pub fn into_writer(self) -> &'w mut W {
        self.send
    }

    /// Sends the rest and the `End` frame; `LimitReached` overrides `reason`
    /// when the limit cut the body short.
    pub async fn end(mut self, reason: EndReason) -> Result<TransferEnd, CodecError> {
        self.flush().await?;
        let reason = if self.limited {
            EndReason::LimitReached { limit: self.limit }
        } else {
            reason
        };
        let (bytes, sha256) = self.hasher.finish();
        let end = TransferEnd {
            bytes,
            sha256,
            reason,
        };
        write_frame(
            self.send,
            &AgentReply::Transfer(TransferFrame::End(end.clone())),
        )
        .await?;
        Ok(end)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use triage_shared::codec::decode_body;
    use triage_shared::transfer::{ContentDigest, Step, TransferCheck};

    /// Splits written bytes back into replies.
    pub(crate) fn replies(mut bytes: &[u8]) -> Vec<AgentReply> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            out.push(decode_body(&bytes[4..4 + len]).unwrap());
            bytes = &bytes[4 + len..];
        }
        out
    }

    /// The body carried by `replies`, checked as a reader would.
    pub(crate) fn body(replies: &[AgentReply]) -> (Vec<u8>, EndReason) {
        let mut check = TransferCheck::default();
        let mut data = Vec::new();
        for r in replies {
            let AgentReply::Transfer(frame) = r else {
                panic!("not a transfer frame: {r:?}")
            };
            match check.accept(frame).unwrap() {
                Step::Ended(reason) => return (data, reason),
                Step::Data(_) => {
                    if let TransferFrame::Chunk(c) = frame {
                        data.extend_from_slice(c)
                    }
                }
                _ => {}
            }
        }
        panic!("no end frame")
    }

    fn start() -> TransferStart {
        TransferStart {
            name: "x".into(),
            upper_bound: None,
            exact: false,
        }
    }

    async fn pump_all(data: &[u8], pieces: usize, limit: u64) -> (Vec<AgentReply>, TransferEnd) {
        let mut sent = Vec::new();
        let mut pump = Pump::start(&mut sent, start(), limit).await.unwrap();
        for piece in data.chunks(pieces.max(1)) {
            if !pump.push(piece).await.unwrap() {
                break;
            }
        }
        let end = pump.end(EndReason::Complete).await.unwrap();
        (replies(&sent), end)
    }

    #[tokio::test]
    async fn bytes_go_out_in_full_chunks_with_their_digest() {
        let data: Vec<u8> = (0..TRANSFER_CHUNK_LEN * 2 + 10).map(|i| i as u8).collect();
        let (replies, end) = pump_all(&data, 1000, u64::MAX).await;
        // Start, two full chunks, the rest, End.
        assert_eq!(replies.len(), 5);
        let (body, reason) = body(&replies);
        assert_eq!(body, data);
        assert_eq!(reason, EndReason::Complete);
        assert_eq!(end.sha256, ContentDigest::of(&data));
        assert_eq!(end.bytes, data.len() as u64);
    }

    #[tokio::test]
    async fn exactly_the_limit_is_complete_and_one_more_byte_is_not() {
        let data = vec![7u8; 1000];
        let (replies, _) = pump_all(&data, 100, 1000).await;
        assert_eq!(body(&replies), (data.clone(), EndReason::Complete));
        let mut more = data.clone();
        more.push(8);
        let (replies, end) = pump_all(&more, 100, 1000).await;
        assert_eq!(
            body(&replies),
            (data, EndReason::LimitReached { limit: 1000 })
        );
        assert_eq!(end.bytes, 1000);
    }

    #[tokio::test]
    async fn whole_chunks_and_pieces_mix_into_the_same_frames() {
        let data: Vec<u8> = (0..TRANSFER_CHUNK_LEN * 3 + 7)
            .map(|i| (i % 241) as u8)
            .collect();
        // Pushed in one piece (sent without buffering), and in odd pieces.
        for pieces in [data.len(), 1000, TRANSFER_CHUNK_LEN + 1] {
            let (replies, end) = pump_all(&data, pieces, u64::MAX).await;
            let (body, _) = body(&replies);
            assert_eq!(body, data, "pieces of {pieces}");
            assert_eq!(end.sha256, ContentDigest::of(&data));
            for r in &replies {
                if let AgentReply::Transfer(TransferFrame::Chunk(c)) = r {
                    assert!(!c.is_empty() && c.len() <= TRANSFER_CHUNK_LEN);
                }
            }
        }
        // Whole chunks, then the rest: Start, 3 chunks, 7 bytes, End.
        assert_eq!(pump_all(&data, data.len(), u64::MAX).await.0.len(), 6);
    }

    #[tokio::test]
    async fn the_limit_cuts_a_whole_chunk_push_short() {
        let data = vec![9u8; TRANSFER_CHUNK_LEN * 2];
        let limit = TRANSFER_CHUNK_LEN as u64 + 10;
        let (replies, end) = pump_all(&data, data.len(), limit).await;
        let (body, reason) = body(&replies);
        assert_eq!(body.len() as u64, limit);
        assert_eq!(reason, EndReason::LimitReached { limit });
        assert_eq!(end.bytes, limit);
    }

    #[tokio::test]
    async fn an_empty_body_still_ends_with_a_digest() {
        let (replies, end) = pump_all(b"", 1, 10).await;
        assert_eq!(replies.len(), 2);
        assert_eq!(end.sha256, ContentDigest::of(b""));
    }
}
