//! `triage tickets watch`: the live queue.

use super::Out;
use crate::args::WatchArgs;
use crate::error::CliError;
use crate::home::Home;

pub async fn run(home: &Home, args: WatchArgs, out: Out<'_>) -> Result<(), CliError> {
    let _ = (home, args, out);
    todo!("built by the queue work")
}
