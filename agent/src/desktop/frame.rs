//! One frame on the local socket: a big-endian `u32` body length, then a
//! bincode (serde) body — the relay protocol's codec (`triage_shared::codec`),
//! with the larger [`MAX_DESKTOP_FRAME_LEN`] so a full screenshot fits.
//!
//! The shared codec does the work: the length is checked before anything is
//! allocated and the body buffer grows only as bytes arrive, so a peer that
//! announces 32 MiB and sends nothing costs little. bincode is told the same
//! limit, so a length field inside the body cannot make it allocate more;
//! trailing bytes are refused. Decoding never panics: every failure is a
//! [`CodecError`].

use super::protocol::MAX_DESKTOP_FRAME_LEN;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use triage_shared::codec;
pub use triage_shared::codec::CodecError;

/// Encodes `msg` as one frame: length prefix followed by the body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, CodecError> {
    codec::encode_within::<MAX_DESKTOP_FRAME_LEN, T>(msg)
}

/// Checks a length prefix before any body bytes are read.
pub fn body_len(prefix: [u8; 4]) -> Result<usize, CodecError> {
    codec::body_len_within::<MAX_DESKTOP_FRAME_LEN>(prefix)
}

/// Decodes one frame body (without its prefix); all of it must be used.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    codec::decode_body_within::<MAX_DESKTOP_FRAME_LEN, T>(body)
}

/// Reads one frame. `Ok(None)`: the peer closed cleanly between frames; a
/// stream that ends inside a frame is [`CodecError::Truncated`].
pub async fn read_frame<R, T>(reader: &mut R) -> Result<Option<T>, CodecError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    codec::read_frame_within::<MAX_DESKTOP_FRAME_LEN, R, T>(reader).await
}

/// Writes `msg` as one frame.
pub async fn write_frame<W, T>(writer: &mut W, msg: &T) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let frame = encode(msg)?;
    writer.write_all(&frame).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::protocol::{DesktopReply, DesktopRequest, HelpForm};
    use triage_shared::ticket::{Category, Priority};

    #[test]
    fn a_frame_round_trips() {
        let form = DesktopRequest::FileTicket(HelpForm {
            text: "printer\njammed".into(),
            category: Category::Hardware,
            priority: Priority::High,
            screenshot: Some(vec![1, 2, 3]),
            viewed_articles: Vec::new(),
        });
        let frame = encode(&form).unwrap();
        let len = body_len(frame[..4].try_into().unwrap()).unwrap();
        assert_eq!(len, frame.len() - 4);
        assert_eq!(decode_body::<DesktopRequest>(&frame[4..]).unwrap(), form);
    }

    #[test]
    fn the_limit_is_checked_on_the_prefix_at_the_boundary() {
        let max = MAX_DESKTOP_FRAME_LEN as u32;
        assert_eq!(body_len(max.to_be_bytes()).unwrap(), MAX_DESKTOP_FRAME_LEN);
        let err = body_len((max + 1).to_be_bytes()).unwrap_err();
        assert!(matches!(err, CodecError::FrameTooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_oversized_length_prefix_is_refused_before_the_body_is_read() {
        // Only the prefix is there: were the body read (or allocated), the
        // read would end in `Truncated`, not in the size refusal.
        let bytes = u32::MAX.to_be_bytes();
        let err = read_frame::<_, DesktopRequest>(&mut &bytes[..])
            .await
            .unwrap_err();
        assert!(
            matches!(err, CodecError::FrameTooLarge { len, max } if len == u32::MAX as usize && max == MAX_DESKTOP_FRAME_LEN),
            "{err}"
        );
    }

    #[test]
    fn encoding_more_than_the_limit_is_refused() {
        let big = DesktopReply::Error("x".repeat(MAX_DESKTOP_FRAME_LEN + 1));
        assert!(matches!(
            encode(&big),
            Err(CodecError::FrameTooLarge { .. })
        ));
    }

    #[tokio::test]
    async fn garbage_bodies_are_errors_and_never_panic() {
        // A deterministic walk over many garbage bodies of every small size.
        let mut seed: u32 = 0x2545_f491;
        for len in 0..400usize {
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    seed as u8
                })
                .collect();
            let _ = decode_body::<DesktopRequest>(&body);
            let mut frame = (len as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(&body);
            let _ = read_frame::<_, DesktopReply>(&mut &frame[..]).await;
        }
        // A variant index past the end is garbled, not a panic.
        let err = decode_body::<DesktopRequest>(&[200]).unwrap_err();
        assert!(matches!(err, CodecError::Garbled(_)), "{err}");
        // A claimed byte-vector length far beyond the frame is refused.
        let mut huge = encode(&DesktopRequest::ConsentAnswer {
            request: 1,
            answer: crate::desktop::protocol::ConsentAnswer::Allow { png: vec![] },
        })
        .unwrap()[4..]
            .to_vec();
        huge.pop();
        huge.extend_from_slice(&[0xfc, 0xff, 0xff, 0xff, 0x7f]);
        assert!(decode_body::<DesktopRequest>(&huge).is_err());
    }

    #[tokio::test]
    async fn trailing_bytes_and_cut_frames_are_refused() {
        let mut body = encode(&DesktopRequest::MyTickets).unwrap()[4..].to_vec();
        body.push(0);
        let err = decode_body::<DesktopRequest>(&body).unwrap_err();
        assert!(err.to_string().contains("unexpected bytes"), "{err}");
        let frame = encode(&DesktopRequest::Hello { version: 1 }).unwrap();
        let cut = &frame[..frame.len() - 1];
        let err = read_frame::<_, DesktopRequest>(&mut &cut[..])
            .await
            .unwrap_err();
        assert!(matches!(err, CodecError::Truncated), "{err}");
        let empty: &[u8] = &[];
        assert!(read_frame::<_, DesktopRequest>(&mut &empty[..])
            .await
            .unwrap()
            .is_none());
    }
}
