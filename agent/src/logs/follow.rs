//! `--follow`: after the existing bytes, keep sending what is appended until
//! the technician stops (the relay ends the command stream) or the byte
//! limit is reached.
//!
//! Every [`FOLLOW_POLL`] the agent looks at the file:
//! - shorter than what was read: it was truncated, read again from the start;
//! - the path now names another file (rotation): finish the old one, then
//!   open the new one through the allow-list again, from its start;
//! - the path is gone for now (rotation half done): keep the old one and look again.
//!
//! A quiet file still sends a `KeepAlive` every [`FOLLOW_KEEPALIVE`] so the
//! relay can tell a quiet log from a hung agent.

use super::access::{AllowList, FileIdentity, LogRefusal};
use super::{read_failed, Body, Ended};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWrite};
use tokio::time::Instant;
use tracing::info;
use triage_shared::codec::CodecError;
use triage_shared::stream_timer::{AfterStop, Decision, Event, Patience, StreamTimer};
use triage_shared::transfer::{EndReason, TRANSFER_CHUNK_LEN};

/// How often a followed file is checked for new bytes.
pub const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// Longest silence on a followed log before a `KeepAlive` goes out.
pub const FOLLOW_KEEPALIVE: Duration = Duration::from_secs(10);

/// The sender's side of the stream timer: a silence as long as the
/// keep-alive interval is what calls for a `KeepAlive`. The technician's
/// stop ends a follow at once, so there is no grace to wait out.
const KEEPALIVE_PATIENCE: Patience = Patience {
    first_frame: FOLLOW_KEEPALIVE,
    next_frame: FOLLOW_KEEPALIVE,
    stop_grace: Duration::ZERO,
    after_stop: AfterStop::GraceOnly,
};

/// The file being followed and how far it was read.
pub(super) struct Spot {
    pub file: tokio::fs::File,
    pub pos: u64,
    pub path: PathBuf,
    pub identity: FileIdentity,
}

enum Drained {
    AtEnd,
    Limit,
    Failed(std::io::Error),
}

/// Sends everything from `spot.pos` to the current end of the file.
async fn drain<W: AsyncWrite + Unpin>(
    body: &mut Body<'_, W>,
    spot: &mut Spot,
    buf: &mut [u8],
) -> Result<Drained, CodecError> {
    loop {
        let n = match spot.file.read(buf).await {
            Ok(0) => return Ok(Drained::AtEnd),
            Ok(n) => n,
            Err(e) => return Ok(Drained::Failed(e)),
        };
        spot.pos += n as u64;
        if !body.feed(&buf[..n]).await? {
            return Ok(Drained::Limit);
        }
    }
}

/// What the path names now, compared with the file held open.
enum Change {
    None,
    Truncated,
    Replaced,
}

async fn look(spot: &Spot, requested: &str) -> std::io::Result<Change> {
    let len = spot.file.metadata().await?.len();
    if len < spot.pos {
        return Ok(Change::Truncated);
    }
    Ok(match tokio::fs::metadata(requested).await {
        Ok(meta) if FileIdentity::of(&meta) != spot.identity => Change::Replaced,
        _ => Change::None,
    })
}

pub(super) async fn follow<R, W>(
    body: &mut Body<'_, W>,
    mut spot: Spot,
    allow: &AllowList,
    requested: &str,
    recv: &mut R,
) -> Result<Ended, CodecError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; TRANSFER_CHUNK_LEN];
    // Anything on the command stream, its end or its loss means: stop.
    let stop = async {
        let mut byte = [0u8; 1];
        let _ = recv.read(&mut byte).await;
    };
    tokio::pin!(stop);
    let mut quiet = StreamTimer::new(KEEPALIVE_PATIENCE, Instant::now());
    loop {
        let before = body.pump.bytes();
        match drain(body, &mut spot, &mut buf).await? {
            Drained::AtEnd => {}
            Drained::Limit => return Ok(Ended::Normally(EndReason::Complete)),
            Drained::Failed(e) => return Ok(Ended::Failed(read_failed(&spot.path, &e))),
        }
        body.pump.flush().await?;
        if body.pump.bytes() != before {
            quiet.step(Event::Frame, Instant::now());
        } else if let Decision::TimedOut(_) = quiet.check(Instant::now()) {
            body.pump.keep_alive().await?;
            quiet.step(Event::Frame, Instant::now());
        }
        tokio::select! {
            _ = &mut stop => return Ok(Ended::Normally(EndReason::Stopped)),
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
        }
        match look(&spot, requested).await {
            Err(e) => return Ok(Ended::Failed(read_failed(&spot.path, &e))),
            Ok(Change::None) => {}
            Ok(Change::Truncated) => {
                info!(path = %spot.path.display(), "followed log was truncated; reading it from the start");
                if let Err(e) = spot.file.seek(std::io::SeekFrom::Start(0)).await {
                    return Ok(Ended::Failed(read_failed(&spot.path, &e)));
                }
                spot.pos = 0;
                body.split.reset();
            }
            Ok(Change::Replaced) => {
                // What was written to the old file before the switch comes first.
                match drain(body, &mut spot, &mut buf).await? {
                    Drained::AtEnd => {}
                    Drained::Limit => return Ok(Ended::Normally(EndReason::Complete)),
                    Drained::Failed(e) => return Ok(Ended::Failed(read_failed(&spot.path, &e))),
                }
                let opened = {
                    let (allow, requested) = (allow.clone(), requested.to_string());
                    tokio::task::spawn_blocking(move || allow.open(&requested)).await
                };
                match opened {
                    Ok(Ok(new)) => {
                        info!(path = %new.path.display(), "followed log was rotated; following the new file");
                        spot = Spot {
                            file: tokio::fs::File::from_std(new.file),
                            pos: 0,
                            path: new.path,
                            identity: new.identity,
                        };
                        body.split.reset();
                    }
                    // Rotation half done: look again on the next poll.
                    Ok(Err(LogRefusal::Missing { .. })) => {}
                    Ok(Err(refusal)) => return Ok(Ended::Failed(refusal.to_remote())),
                    Err(e) => {
                        return Ok(Ended::Failed(triage_shared::error::RemoteError::new(
                            triage_shared::error::ErrorKind::Internal,
                            format!("following the log failed: {e}"),
                        )))
                    }
                }
            }
        }
    }
}
