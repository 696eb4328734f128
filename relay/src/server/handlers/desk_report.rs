//! `DeskReport`: help desk metrics over a window, computed by the store's
//! aggregates. The window is checked here, before any query.

use crate::server::Shared;
use crate::store::StoreError;
use triage_shared::desk_report::{check_window, ReportBy};
use triage_shared::protocol::Response;
use triage_shared::time::Timestamp;

pub(in crate::server) async fn report(
    shared: &Shared,
    window_ms: u64,
    by: Option<ReportBy>,
    now: Timestamp,
) -> Result<Response, StoreError> {
    check_window(window_ms)?;
    let report = shared.store.desk_report(window_ms, by, now).await?;
    Ok(Response::DeskReport(Box::new(report)))
}
