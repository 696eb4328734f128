//! Screenshots: the endpoint's policy first, then the logged-in user's
//! consent, given in their "Get help" window, which also takes the picture.
//!
//! ```text
//! Screenshot ─► policy (agent.toml `screenshots`)
//!                 never        ──► Error(Forbidden: policy)
//!                 with_consent ──► ConsentRegistry::ask(technician, ticket, whom)   (crate::desktop::consent)
//!                                    whom: the ticket's requester, else the console user
//!                                    no window of theirs / Deny / no answer in 60 s
//!                                                ──► Error(Forbidden: the user did not consent: why)
//!                                    CaptureFailed(why) ──► Error(Unavailable: why)
//!                                    Allow{png} ──► check_capture(png)
//!                                                     bad ──► Error(Unavailable)
//!                                                     ok  ──► Transfer frames
//! ```
//!
//! The daemon never captures the screen itself: it may run as root with no
//! display, and the picture must come from the person's own session, taken
//! only after they said yes there.

use crate::desktop::consent::{ConsentRegistry, Whom};
use crate::desktop::protocol::MAX_DESKTOP_FRAME_LEN;
use tokio::io::AsyncWrite;
use tracing::{info, warn};
use triage_shared::agent_update::PNG_SIGNATURE;
use triage_shared::codec::{write_frame, CodecError};
use triage_shared::error::{ErrorKind, RemoteError};
use triage_shared::remote::AgentReply;
use triage_shared::transfer::{EndReason, TransferStart};
use triage_shared::TicketId;

/// agent.toml `screenshots`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScreenshotPolicy {
    Never,
    /// Only after the logged-in user says yes (the default).
    #[default]
    WithConsent,
}

impl std::str::FromStr for ScreenshotPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "never" => Ok(ScreenshotPolicy::Never),
            "with_consent" => Ok(ScreenshotPolicy::WithConsent),
            other => Err(format!(
                "`{other}` is not a screenshot policy; use \"never\" or \"with_consent\""
            )),
        }
    }
}

/// The user's answer to "may technician X see your screen?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consent {
    /// Yes, and this is the picture their window took.
    Granted { png: Vec<u8> },
    /// No (declined, no answer, nobody to ask); the reason reaches the technician.
    Denied(String),
    /// Yes, but the window could not take the picture.
    Failed(String),
}

/// Checks what a window sent as the screenshot: a PNG, and not more than
/// one local frame can carry.
pub fn check_capture(png: &[u8]) -> Result<(), String> {
    if !png.starts_with(PNG_SIGNATURE) {
        return Err("the Get help window sent a screenshot that is not a PNG image".into());
    }
    if png.len() > MAX_DESKTOP_FRAME_LEN {
        return Err(format!(
            "the Get help window sent a screenshot of {} bytes; the limit is {MAX_DESKTOP_FRAME_LEN}",
            png.len()
        ));
    }
    Ok(())
}

/// Answers a `Screenshot` by asking, through `consent`, the Get help
/// window of `whom`: the ticket's requester, or the console user.
pub async fn answer<W: AsyncWrite + Unpin>(
    policy: ScreenshotPolicy,
    consent: &ConsentRegistry,
    technician: &str,
    ticket: Option<TicketId>,
    whom: Whom,
    send: &mut W,
) -> Result<(), CodecError> {
    answer_with(policy, technician, send, |who| async move {
        info!(technician = %who, ticket = ?ticket, asked = ?whom, "screenshot requested; asking the user for consent");
        consent.ask(&who, ticket, &whom).await
    })
    .await
}

/// [`answer`] with the consent step given, for tests.
pub async fn answer_with<W, C, CF>(
    policy: ScreenshotPolicy,
    technician: &str,
    send: &mut W,
    consent: C,
) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
    C: FnOnce(String) -> CF,
    CF: std::future::Future<Output = Consent>,
{
    let refuse = |kind, message: String| AgentReply::Error(RemoteError::new(kind, message));
    if policy == ScreenshotPolicy::Never {
        warn!(%technician, "screenshot refused by policy");
        let reply = refuse(
            ErrorKind::Forbidden,
            "this endpoint's policy does not allow screenshots (agent.toml: screenshots = \"never\")".into(),
        );
        return write_frame(send, &reply).await;
    }
    let png = match consent(technician.to_string()).await {
        Consent::Granted { png } => png,
        Consent::Denied(why) => {
            warn!(%technician, %why, "screenshot refused: no consent");
            let reply = refuse(
                ErrorKind::Forbidden,
                format!("the user did not consent to a screenshot: {why}"),
            );
            return write_frame(send, &reply).await;
        }
        Consent::Failed(why) => {
            warn!(%why, "the user allowed a screenshot but it could not be taken");
            let reply = refuse(
                ErrorKind::Unavailable,
                format!("the user allowed the screenshot but it could not be taken: {why}"),
            );
            return write_frame(send, &reply).await;
        }
    };
    if let Err(why) = check_capture(&png) {
        warn!(%why, "refusing to send a screenshot");
        return write_frame(send, &refuse(ErrorKind::Unavailable, why)).await;
    }
    info!(%technician, bytes = png.len(), "sending a screenshot the user allowed");
    let start = TransferStart {
        name: "screenshot.png".into(),
        upper_bound: Some(png.len() as u64),
        exact: true,
    };
    let mut pump = crate::logs::Pump::start(send, start, png.len() as u64).await?;
    pump.push(&png).await?;
    pump.end(EndReason::Complete).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::pump_tests::{body, replies};
    use std::sync::atomic::{AtomicBool, Ordering};

    fn png(rest: &[u8]) -> Vec<u8> {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(rest);
        png
    }

    async fn run(
        policy: ScreenshotPolicy,
        consent: Consent,
        asked: &AtomicBool,
    ) -> Vec<AgentReply> {
        let mut sent = Vec::new();
        answer_with(policy, "lina", &mut sent, |who| {
            assert_eq!(who, "lina");
            asked.store(true, Ordering::SeqCst);
            async move { consent }
        })
        .await
        .unwrap();
        replies(&sent)
    }

    fn error(replies: &[AgentReply]) -> &RemoteError {
        match replies {
            [AgentReply::Error(e)] => e,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn policy_never_refuses_without_asking_the_user() {
        let asked = AtomicBool::new(false);
        let granted = Consent::Granted { png: png(b"x") };
        let r = run(ScreenshotPolicy::Never, granted, &asked).await;
        let e = error(&r);
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(
            e.message.contains("screenshots = \"never\""),
            "{}",
            e.message
        );
        assert!(!asked.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_denied_consent_reaches_the_technician_with_its_reason() {
        let asked = AtomicBool::new(false);
        let denied = Consent::Denied("the user declined".into());
        let r = run(ScreenshotPolicy::WithConsent, denied, &asked).await;
        assert!(asked.load(Ordering::SeqCst));
        let e = error(&r);
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert_eq!(
            e.message,
            "the user did not consent to a screenshot: the user declined"
        );
    }

    #[tokio::test]
    async fn without_a_window_of_the_requester_the_registry_refuses_naming_them() {
        let registry = ConsentRegistry::new(std::time::Duration::from_secs(60));
        let mut sent = Vec::new();
        answer(
            ScreenshotPolicy::WithConsent,
            &registry,
            "lina",
            None,
            Whom::Requester("root".into()),
            &mut sent,
        )
        .await
        .unwrap();
        let e = error(&replies(&sent)).clone();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(
            e.message.contains(
                "did not consent to a screenshot: no Get help window is open for user root"
            ),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn a_failed_capture_is_unavailable_and_a_png_is_streamed() {
        let asked = AtomicBool::new(false);
        let failed = Consent::Failed("no display".into());
        let r = run(ScreenshotPolicy::WithConsent, failed, &asked).await;
        let e = error(&r);
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("no display"), "{}", e.message);
        let picture = png(b" the screen");
        let granted = Consent::Granted {
            png: picture.clone(),
        };
        let r = run(ScreenshotPolicy::WithConsent, granted, &asked).await;
        assert_eq!(body(&r), (picture, EndReason::Complete));
    }

    #[tokio::test]
    async fn something_that_is_not_a_png_is_not_sent() {
        let asked = AtomicBool::new(false);
        let gif = Consent::Granted {
            png: b"GIF89a....".to_vec(),
        };
        let r = run(ScreenshotPolicy::WithConsent, gif, &asked).await;
        let e = error(&r);
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("not a PNG"), "{}", e.message);
    }

    #[test]
    fn captures_are_bounded_pngs() {
        assert!(check_capture(&png(b"")).is_ok());
        assert!(check_capture(b"").is_err());
        let mut big = png(b"");
        big.resize(MAX_DESKTOP_FRAME_LEN + 1, 0);
        let err = check_capture(&big).unwrap_err();
        assert!(err.contains("the limit is"), "{err}");
        big.truncate(MAX_DESKTOP_FRAME_LEN);
        assert!(check_capture(&big).is_ok());
    }

    #[test]
    fn policies_parse() {
        assert_eq!("never".parse(), Ok(ScreenshotPolicy::Never));
        assert_eq!("with_consent".parse(), Ok(ScreenshotPolicy::WithConsent));
        assert!("always".parse::<ScreenshotPolicy>().is_err());
        assert_eq!(ScreenshotPolicy::default(), ScreenshotPolicy::WithConsent);
    }
}
