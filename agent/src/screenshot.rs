//! Screenshots: the endpoint's policy first, then the logged-in user's
//! consent, then the capture.
//!
//! ```text
//! Screenshot ─► policy (agent.toml `screenshots`)
//!                 never        ──► Error(Forbidden: policy)
//!                 with_consent ──► ask_consent(technician)
//!                                    Denied(why) ──► Error(Forbidden: the user did not consent: why)
//!                                    Granted     ──► capture()
//!                                                      Err ──► Error(Unavailable)
//!                                                      PNG ──► Transfer frames
//! ```
//!
//! The consent prompt needs the desktop session of the "Get help" window,
//! which this agent does not have yet: [`ask_consent`] is the real check
//! and refuses, so a screenshot is never taken without a yes. Capture is
//! not built in either ([`capture`] says so).

use tokio::io::AsyncWrite;
use tracing::{info, warn};
use triage_shared::codec::{write_frame, CodecError};
use triage_shared::protocol::{ErrorKind, RemoteError};
use triage_shared::remote::AgentReply;
use triage_shared::transfer::{EndReason, TransferStart};

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
    Granted,
    Denied(String),
}

/// Asks the logged-in user whether `technician` may take a screenshot.
/// There is no desktop session to ask yet, so the answer is no.
pub async fn ask_consent(technician: String) -> Consent {
    info!(%technician, "screenshot requested; asking the user for consent");
    Consent::Denied("no desktop session to ask for consent".into())
}

/// Takes a PNG of the screen.
pub async fn capture() -> Result<Vec<u8>, String> {
    Err("screen capture is not built into this agent".into())
}

/// Answers a `Screenshot` with the real consent check and capture.
pub async fn answer<W: AsyncWrite + Unpin>(
    policy: ScreenshotPolicy,
    technician: &str,
    send: &mut W,
) -> Result<(), CodecError> {
    answer_with(policy, technician, send, ask_consent, capture).await
}

/// [`answer`] with the consent check and capture given, for tests.
pub async fn answer_with<W, C, CF, P, PF>(
    policy: ScreenshotPolicy,
    technician: &str,
    send: &mut W,
    consent: C,
    capture: P,
) -> Result<(), CodecError>
where
    W: AsyncWrite + Unpin,
    C: FnOnce(String) -> CF,
    CF: std::future::Future<Output = Consent>,
    P: FnOnce() -> PF,
    PF: std::future::Future<Output = Result<Vec<u8>, String>>,
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
    if let Consent::Denied(why) = consent(technician.to_string()).await {
        warn!(%technician, %why, "screenshot refused: no consent");
        let reply = refuse(
            ErrorKind::Forbidden,
            format!("the user did not consent to a screenshot: {why}"),
        );
        return write_frame(send, &reply).await;
    }
    let png = match capture().await {
        Ok(png) => png,
        Err(why) => {
            warn!(%why, "screenshot failed");
            return write_frame(send, &refuse(ErrorKind::Unavailable, why)).await;
        }
    };
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

    async fn run(
        policy: ScreenshotPolicy,
        consent: Consent,
        capture: Result<Vec<u8>, String>,
        asked: &AtomicBool,
    ) -> Vec<AgentReply> {
        let mut sent = Vec::new();
        answer_with(
            policy,
            "lina",
            &mut sent,
            |who| {
                assert_eq!(who, "lina");
                asked.store(true, Ordering::SeqCst);
                async move { consent }
            },
            || async move { capture },
        )
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
        let r = run(
            ScreenshotPolicy::Never,
            Consent::Granted,
            Ok(vec![1]),
            &asked,
        )
        .await;
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
        let r = run(
            ScreenshotPolicy::WithConsent,
            Consent::Denied("the user said no".into()),
            Ok(vec![1]),
            &asked,
        )
        .await;
        assert!(asked.load(Ordering::SeqCst));
        let e = error(&r);
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(e.message.contains("the user said no"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_real_consent_check_refuses_for_lack_of_a_desktop_session() {
        let mut sent = Vec::new();
        answer(ScreenshotPolicy::WithConsent, "lina", &mut sent)
            .await
            .unwrap();
        let e = error(&replies(&sent)).clone();
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert!(
            e.message.contains("no desktop session to ask for consent"),
            "{}",
            e.message
        );
        assert_eq!(
            capture().await.unwrap_err(),
            "screen capture is not built into this agent"
        );
    }

    #[tokio::test]
    async fn after_consent_a_capture_failure_or_a_png_is_sent() {
        let asked = AtomicBool::new(false);
        let r = run(
            ScreenshotPolicy::WithConsent,
            Consent::Granted,
            Err("screen capture is not built into this agent".into()),
            &asked,
        )
        .await;
        assert_eq!(error(&r).kind, ErrorKind::Unavailable);
        let png = b"\x89PNG fake".to_vec();
        let r = run(
            ScreenshotPolicy::WithConsent,
            Consent::Granted,
            Ok(png.clone()),
            &asked,
        )
        .await;
        assert_eq!(body(&r), (png, EndReason::Complete));
    }

    #[test]
    fn policies_parse() {
        assert_eq!("never".parse(), Ok(ScreenshotPolicy::Never));
        assert_eq!("with_consent".parse(), Ok(ScreenshotPolicy::WithConsent));
        assert!("always".parse::<ScreenshotPolicy>().is_err());
        assert_eq!(ScreenshotPolicy::default(), ScreenshotPolicy::WithConsent);
    }
}
