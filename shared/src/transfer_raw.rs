//! Writing a `Chunk` frame without copying its data into the frame: the
//! agent writes the frame's header and then the data where it lies.
//!
//! A frame that carries `Outer::Transfer(TransferFrame::Chunk(data))` is,
//! as bincode (standard configuration) writes it: the `u32` length prefix,
//! the outer variant's tag, `Chunk`'s tag, the data length as a varint, the
//! data. [`ChunkLayout`] learns the tags by encoding an empty chunk with the
//! real codec, so it follows the protocol enums if they change, and writes
//! the same bytes the codec would (tested at every varint width). Readers
//! are unchanged: they decode the frame as any other.

use super::TransferFrame;
use crate::codec::{encode, CodecError};
use crate::limits::MAX_FRAME_LEN;
use serde::Serialize;

/// bincode's varint markers for a length that follows in 2, 4 or 8 bytes.
const U16_MARK: u8 = 251;
const U32_MARK: u8 = 252;
const U64_MARK: u8 = 253;

/// What comes before a chunk's data, for one outer message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkLayout {
    tags: Vec<u8>,
}

impl ChunkLayout {
    /// The layout of `wrap(Chunk(data))`, e.g. `ChunkLayout::of(AgentReply::Transfer)`.
    pub fn of<T: Serialize>(wrap: impl Fn(TransferFrame) -> T) -> Result<ChunkLayout, CodecError> {
        let empty = encode(&wrap(TransferFrame::Chunk(Vec::new())))?;
        // The length prefix, the tags, then the length 0 as one byte.
        match empty.split_last() {
            Some((0, rest)) if rest.len() > 4 => Ok(ChunkLayout {
                tags: rest[4..].to_vec(),
            }),
            _ => Err(CodecError::Encode(
                "an empty chunk does not end with a zero length".into(),
            )),
        }
    }

    /// The `u32` prefix and the header of a chunk frame of `len` data bytes;
    /// the data itself follows it on the stream.
    pub fn header(&self, len: usize) -> Result<Vec<u8>, CodecError> {
        let mut header = Vec::with_capacity(4 + self.tags.len() + 9);
        header.extend_from_slice(&[0; 4]);
        header.extend_from_slice(&self.tags);
        write_len(&mut header, len as u64);
        let body_len = header.len() - 4 + len;
        if body_len > MAX_FRAME_LEN {
            return Err(CodecError::FrameTooLarge {
                len: body_len,
                max: MAX_FRAME_LEN,
            });
        }
        header[..4].copy_from_slice(&(body_len as u32).to_be_bytes());
        Ok(header)
    }
}

/// bincode's varint: one byte below 251, else a marker and the value in
/// the fewest little-endian bytes that hold it.
fn write_len(out: &mut Vec<u8>, len: u64) {
    if len < u64::from(U16_MARK) {
        out.push(len as u8);
    } else if let Ok(n) = u16::try_from(len) {
        out.push(U16_MARK);
        out.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = u32::try_from(len) {
        out.push(U32_MARK);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push(U64_MARK);
        out.extend_from_slice(&len.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::decode_frame;
    use crate::protocol::Response;
    use crate::remote::AgentReply;
    use crate::transfer::TRANSFER_CHUNK_LEN;

    const LENGTHS: [usize; 9] = [
        1,
        2,
        250,
        251,
        252,
        65_535,
        65_536,
        100_000,
        TRANSFER_CHUNK_LEN,
    ];

    #[test]
    fn headers_match_what_the_codec_writes_at_every_varint_width() {
        let agent = ChunkLayout::of(AgentReply::Transfer).unwrap();
        let tech = ChunkLayout::of(Response::Transfer).unwrap();
        for len in LENGTHS {
            let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let reply = AgentReply::Transfer(TransferFrame::Chunk(data.clone()));
            let mut ours = agent.header(len).unwrap();
            ours.extend_from_slice(&data);
            assert_eq!(ours, encode(&reply).unwrap(), "agent chunk of {len} bytes");
            assert_eq!(decode_frame::<AgentReply>(&ours).unwrap(), reply);
            let response = Response::Transfer(TransferFrame::Chunk(data.clone()));
            let mut ours = tech.header(len).unwrap();
            ours.extend_from_slice(&data);
            assert_eq!(
                ours,
                encode(&response).unwrap(),
                "technician chunk of {len} bytes"
            );
        }
    }

    #[test]
    fn the_layouts_of_different_messages_differ() {
        assert_ne!(
            ChunkLayout::of(AgentReply::Transfer).unwrap(),
            ChunkLayout::of(Response::Transfer).unwrap()
        );
    }

    #[test]
    fn a_header_for_more_than_a_frame_holds_is_refused() {
        let layout = ChunkLayout::of(AgentReply::Transfer).unwrap();
        assert!(matches!(
            layout.header(MAX_FRAME_LEN),
            Err(CodecError::FrameTooLarge { .. })
        ));
        assert!(layout.header(TRANSFER_CHUNK_LEN).is_ok());
    }
}
