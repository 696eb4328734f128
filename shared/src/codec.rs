//! Framing: a big-endian `u32` body length, then a bincode (serde) body.
//!
//! Decoding is a pure function over bytes and never panics: the length is
//! checked against [`MAX_FRAME_LEN`] before anything is allocated, bincode is
//! told the same limit so a hostile length field inside the body cannot make
//! it allocate more, and trailing bytes after a message are refused.

use crate::limits::MAX_FRAME_LEN;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const PREFIX_LEN: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    FrameTooLarge { len: usize, max: usize },
    #[error("garbled frame: {0}")]
    Garbled(String),
    #[error("stream ended in the middle of a frame")]
    Truncated,
    #[error("could not encode message: {0}")]
    Encode(String),
    #[error("stream error: {0}")]
    Io(#[from] std::io::Error),
}

/// The body buffer starts at most this big and grows with what arrives: a
/// transfer chunk's frame fits without a reallocation, and a peer that
/// announces a large frame and sends nothing costs no more than this.
const INITIAL_BODY_CAPACITY: usize = 256 * 1024;

fn config<const MAX: usize>() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX>()
}

fn too_large<const MAX: usize>(len: usize) -> Result<(), CodecError> {
    if len > MAX {
        return Err(CodecError::FrameTooLarge { len, max: MAX });
    }
    Ok(())
}

/// Encodes `msg` as one frame: length prefix followed by the body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    encode_within::<MAX_FRAME_LEN, T>(msg)
}

/// [`encode`] with a frame limit of `MAX` bytes (other local channels use
/// the same framing with their own limit).
pub fn encode_within<const MAX: usize, T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    let mut frame = vec![0u8; PREFIX_LEN];
    bincode::serde::encode_into_std_write(msg, &mut frame, config::<MAX>())
        .map_err(|e| CodecError::Encode(e.to_string()))?;
    let len = frame.len() - PREFIX_LEN;
    too_large::<MAX>(len)?;
    frame[..PREFIX_LEN].copy_from_slice(&(len as u32).to_be_bytes());
    Ok(frame)
}

/// Decodes one frame body (without its prefix). The whole body must be consumed.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    decode_body_within::<MAX_FRAME_LEN, T>(body)
}

/// [`decode_body`] with a frame limit of `MAX` bytes.
pub fn decode_body_within<const MAX: usize, T: DeserializeOwned>(
    body: &[u8],
) -> Result<T, CodecError> {
    too_large::<MAX>(body.len())?;
    let (msg, used) = bincode::serde::decode_from_slice(body, config::<MAX>())
        .map_err(|e| CodecError::Garbled(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::Garbled(format!(
            "{} unexpected bytes after the message",
            body.len() - used
        )));
    }
    Ok(msg)
}

/// Decodes a value from the *start* of a frame body and ignores the rest.
/// The relay uses it to read the version at the head of a `Hello` whose
/// remaining layout this build does not understand, so that an incompatible
/// peer is told "version mismatch" rather than "garbled".
pub fn decode_prefix<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    too_large::<MAX_FRAME_LEN>(body.len())?;
    bincode::serde::decode_from_slice(body, config::<MAX_FRAME_LEN>())
        .map(|(msg, _)| msg)
        .map_err(|e| CodecError::Garbled(e.to_string()))
}

/// Checks a length prefix before any body bytes are read.
pub fn body_len(prefix: [u8; PREFIX_LEN]) -> Result<usize, CodecError> {
    body_len_within::<MAX_FRAME_LEN>(prefix)
}

/// [`body_len`] with a frame limit of `MAX` bytes.
pub fn body_len_within<const MAX: usize>(prefix: [u8; PREFIX_LEN]) -> Result<usize, CodecError> {
    let len = u32::from_be_bytes(prefix) as usize;
    too_large::<MAX>(len)?;
    Ok(len)
}

/// Decodes one whole frame (prefix and body) from a byte slice.
pub fn decode_frame<T: DeserializeOwned>(frame: &[u8]) -> Result<T, CodecError> {
    let prefix: [u8; PREFIX_LEN] = frame
        .get(..PREFIX_LEN)
        .and_then(|p| p.try_into().ok())
        .ok_or(CodecError::Truncated)?;
    let len = body_len(prefix)?;
    let body = &frame[PREFIX_LEN..];
    if body.len() < len {
        return Err(CodecError::Truncated);
    }
    if body.len() > len {
        return Err(CodecError::Garbled("bytes after the frame".into()));
    }
    decode_body(body)
}

/// Reads one frame. `Ok(None)` means the peer finished the stream cleanly
/// between frames; a stream that ends inside a frame is an error.
pub async fn read_frame<R, T>(reader: &mut R) -> Result<Option<T>, CodecError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    read_frame_within::<MAX_FRAME_LEN, R, T>(reader).await
}

/// [`read_frame`] with a frame limit of `MAX` bytes.
pub async fn read_frame_within<const MAX: usize, R, T>(
    reader: &mut R,
) -> Result<Option<T>, CodecError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut prefix = [0u8; PREFIX_LEN];
    let mut filled = 0;
    while filled < PREFIX_LEN {
        let n = reader.read(&mut prefix[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(CodecError::Truncated)
            };
        }
        filled += n;
    }
    let len = body_len_within::<MAX>(prefix)?;
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_CAPACITY));
    (&mut *reader)
        .take(len as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < len {
        return Err(CodecError::Truncated);
    }
    decode_body_within::<MAX, T>(&body).map(Some)
}

/// Like [`read_frame`] but a clean end of stream is an error too.
pub async fn expect_frame<R, T>(reader: &mut R) -> Result<T, CodecError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    read_frame(reader).await?.ok_or(CodecError::Truncated)
}

pub async fn write_frame<W, T>(writer: &mut W, msg: &T) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let frame = encode(msg)?;
    writer.write_all(&frame).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, Response};

    #[test]
    fn frame_round_trips() {
        let frame = encode(&Request::WhoAmI).unwrap();
        let back: Request = decode_frame(&frame).unwrap();
        assert!(matches!(back, Request::WhoAmI));
    }

    #[test]
    fn frame_at_limit_is_accepted_and_one_byte_over_is_refused() {
        assert_eq!(
            body_len((MAX_FRAME_LEN as u32).to_be_bytes()).unwrap(),
            MAX_FRAME_LEN
        );
        let err = body_len((MAX_FRAME_LEN as u32 + 1).to_be_bytes()).unwrap_err();
        assert!(matches!(err, CodecError::FrameTooLarge { .. }), "{err}");
    }

    #[test]
    fn encoding_an_oversized_message_is_refused() {
        let big = Response::Error(crate::error::RemoteError::new(
            crate::error::ErrorKind::Internal,
            "x".repeat(MAX_FRAME_LEN + 1),
        ));
        assert!(matches!(
            encode(&big),
            Err(CodecError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn garbage_never_panics_and_is_an_error() {
        // A deterministic pseudo-random walk over many garbage bodies.
        let mut x: u32 = 0x1234_5678;
        for len in 0..512usize {
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode_body::<Request>(&body);
            let _ = decode_body::<Response>(&body);
        }
        assert!(decode_body::<Request>(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    #[test]
    fn unknown_message_kind_is_refused() {
        // Variant index far beyond any defined request.
        let body = [250u8, 0, 0];
        assert!(matches!(
            decode_body::<Request>(&body),
            Err(CodecError::Garbled(_))
        ));
    }

    #[test]
    fn hostile_inner_length_does_not_allocate() {
        // A string claiming u64::MAX bytes must fail fast on the limit.
        let mut body = vec![4u8]; // some variant index
        body.extend_from_slice(&[253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert!(decode_body::<Request>(&body).is_err());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut frame = encode(&Request::WhoAmI).unwrap();
        frame.push(0);
        assert!(decode_frame::<Request>(&frame).is_err());
        let len = (frame.len() - PREFIX_LEN) as u32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        assert!(decode_frame::<Request>(&frame).is_err());
    }

    #[test]
    fn prefix_decoding_reads_the_head_and_ignores_the_rest() {
        let frame = encode(&crate::protocol::Hello::new(
            crate::protocol::PeerKind::Agent,
        ))
        .unwrap();
        let version: u16 = decode_prefix(&frame[PREFIX_LEN..]).unwrap();
        assert_eq!(version, crate::protocol::PROTOCOL_VERSION);
        let mut future_hello = frame[PREFIX_LEN..].to_vec();
        future_hello.extend_from_slice(&[9, 9, 9]);
        assert!(decode_body::<crate::protocol::Hello>(&future_hello).is_err());
        assert_eq!(
            decode_prefix::<u16>(&future_hello).unwrap(),
            crate::protocol::PROTOCOL_VERSION
        );
        assert!(decode_prefix::<u16>(&[]).is_err());
    }

    #[tokio::test]
    async fn reader_distinguishes_clean_end_from_truncation() {
        let frame = encode(&Request::WhoAmI).unwrap();
        let mut whole: &[u8] = &frame;
        assert!(read_frame::<_, Request>(&mut whole)
            .await
            .unwrap()
            .is_some());
        assert!(read_frame::<_, Request>(&mut whole)
            .await
            .unwrap()
            .is_none());
        let mut cut: &[u8] = &frame[..frame.len() - 1];
        assert!(matches!(
            read_frame::<_, Request>(&mut cut).await,
            Err(CodecError::Truncated)
        ));
        let mut half_prefix: &[u8] = &frame[..2];
        assert!(matches!(
            read_frame::<_, Request>(&mut half_prefix).await,
            Err(CodecError::Truncated)
        ));
    }
}
