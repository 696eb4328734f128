//! The SLA policy: shown to any technician, set by an admin. Setting it
//! writes `sla.toml` (the one place the policy lives, so an edit of the
//! file and `triage sla set` are the same thing) and wakes the SLA loop,
//! which puts it in force and recomputes the open tickets' clocks.

use crate::server::Shared;
use crate::sla_file;
use crate::store::StoreError;
use triage_shared::protocol::{ErrorKind, RemoteError, Response};

pub(in crate::server) fn show(shared: &Shared) -> Result<Response, StoreError> {
    let from_file = sla_file::read(&shared.data_dir)
        .map(|s| s.text.is_some())
        .unwrap_or(false);
    Ok(Response::SlaPolicy {
        text: shared.store.sla_policy().to_toml(),
        from_file,
    })
}

pub(in crate::server) fn set(shared: &Shared, text: &str) -> Result<Response, StoreError> {
    let policy = sla_file::write(&shared.data_dir, text)
        .map_err(|e| RemoteError::new(ErrorKind::InvalidInput, e.to_string()))?;
    // In force for writes at once; the loop recomputes stored clocks.
    shared.store.set_sla_policy(policy.clone());
    shared.sla_changed.notify_one();
    Ok(Response::SlaPolicy {
        text: policy.to_toml(),
        from_file: true,
    })
}
