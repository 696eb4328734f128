//! A live diagnostics answer for the relay: the snapshot, plus software and
//! services when asked, shaped to fit one frame.

use super::inventory;
use super::warm::WarmCollector;
use std::future::Future;
use std::sync::Arc;
use tracing::warn;
use triage_shared::codec::encode;
use triage_shared::diagnostics::Snapshot;
use triage_shared::limits::MAX_FRAME_LEN;
use triage_shared::remote::{AgentReply, DiagnosticsReport, Section};

/// Room left in a frame for the relay to wrap the report in its own answer.
pub const FRAME_HEADROOM: usize = 16 * 1024;

/// Collects what `sections` ask for, sampling CPU usage from cold (a
/// one-shot process). The snapshot is always there (its probe blocks, so it
/// runs on the blocking pool); `software` and `services` only when their
/// section is asked, and `None` where the platform cannot tell. The
/// listings run while the snapshot is taken.
pub async fn report(sections: &[Section]) -> Result<DiagnosticsReport, String> {
    let snapshot = async {
        tokio::task::spawn_blocking(super::collect)
            .await
            .map_err(|e| format!("the diagnostics probe failed: {e}"))
    };
    assemble(sections, snapshot).await
}

/// [`report`] with the daemon's warm collector: CPU usage is measured from
/// its last reading, so there is no sampling sleep when that is usable.
pub async fn report_warm(
    sections: &[Section],
    warm: &Arc<WarmCollector>,
) -> Result<DiagnosticsReport, String> {
    assemble(sections, warm.snapshot()).await
}

async fn assemble(
    sections: &[Section],
    snapshot: impl Future<Output = Result<Snapshot, String>>,
) -> Result<DiagnosticsReport, String> {
    let software = async {
        if sections.contains(&Section::Software) {
            inventory::software().await
        } else {
            None
        }
    };
    let services = async {
        if sections.contains(&Section::Services) {
            inventory::services().await
        } else {
            None
        }
    };
    let (snapshot, software, services) = tokio::join!(snapshot, software, services);
    Ok(fit_in_frame(DiagnosticsReport {
        snapshot: snapshot?,
        software,
        services,
    }))
}

/// Halves the longest optional list until the reply fits a frame with
/// [`FRAME_HEADROOM`] to spare. (The snapshot is bounded on its own.)
pub fn fit_in_frame(mut report: DiagnosticsReport) -> DiagnosticsReport {
    let limit = MAX_FRAME_LEN - FRAME_HEADROOM;
    loop {
        let size = encode(&AgentReply::Diagnostics(Box::new(report.clone())))
            .map(|f| f.len())
            .unwrap_or(usize::MAX);
        if size <= limit {
            return report;
        }
        let software = report.software.as_ref().map_or(0, Vec::len);
        let services = report.services.as_ref().map_or(0, Vec::len);
        let list_len = if software >= services {
            software
        } else {
            services
        };
        if list_len == 0 {
            warn!(
                size,
                "a diagnostics report is larger than a frame without its lists"
            );
            return report;
        }
        warn!(
            size,
            list_len, "a diagnostics report is too large for a frame; listing fewer entries"
        );
        if software >= services {
            if let Some(list) = report.software.as_mut() {
                list.truncate(list_len / 2);
            }
        } else if let Some(list) = report.services.as_mut() {
            list.truncate(list_len / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::remote::Package;

    #[tokio::test]
    async fn only_asked_sections_are_collected() {
        let plain = report(&[Section::Cpu]).await.unwrap();
        assert!(plain.software.is_none() && plain.services.is_none());
        plain.snapshot.validate().unwrap();
        let warm = WarmCollector::new();
        let with_software = report_warm(&[Section::Software], &warm).await.unwrap();
        assert!(with_software.services.is_none());
        with_software.snapshot.validate().unwrap();
        // This machine may or may not have a package database; if it does,
        // the list is real.
        if let Some(list) = &with_software.software {
            assert!(!list.is_empty());
        }
    }

    #[tokio::test]
    async fn an_oversized_report_is_cut_to_fit_a_frame() {
        let snapshot = tokio::task::spawn_blocking(crate::diagnostics::collect)
            .await
            .unwrap();
        let huge = DiagnosticsReport {
            snapshot,
            software: Some(
                (0..40_000)
                    .map(|i| Package {
                        name: format!("package-number-{i:08}"),
                        version: "1.0.0-1".into(),
                    })
                    .collect(),
            ),
            services: None,
        };
        let fitted = fit_in_frame(huge);
        let len = fitted.software.as_ref().unwrap().len();
        assert!(len > 0 && len < 40_000);
        let frame = encode(&AgentReply::Diagnostics(Box::new(fitted))).unwrap();
        assert!(frame.len() <= MAX_FRAME_LEN - FRAME_HEADROOM);
    }
}
