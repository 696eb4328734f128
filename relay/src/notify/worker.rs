//! The background task that moves notifications: turn new feed events
//! into queued deliveries, then send what is due, then wait for the feed
//! to move or the poll interval to pass. All state is in the store.

use super::plan;
use super::{NotifyConfig, Senders};
use crate::metrics::{DeliveryResult, Metrics};
use crate::store::{Outcome, Store, StoreError, MAX_FEED_BATCH};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{debug, warn};
use triage_shared::time::Timestamp;

/// Runs until `stop` changes (or its sender is dropped).
pub async fn run(
    store: Store,
    senders: Arc<Senders>,
    config: NotifyConfig,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut feed = store.subscribe_feed();
    loop {
        if let Err(e) = round(&store, &senders, &config, &metrics).await {
            warn!(error = %e, "notifications: cannot read or update the delivery queue; trying again");
        }
        tokio::select! {
            _ = stop.changed() => break,
            moved = feed.changed() => {
                if moved.is_err() {
                    // The store is gone; only the timer and stop are left.
                    tokio::time::sleep(config.poll_interval).await;
                }
            }
            _ = tokio::time::sleep(config.poll_interval) => {}
        }
    }
}

/// One pass: enqueue until caught up with the feed, then one batch of sends.
pub async fn round(
    store: &Store,
    senders: &Arc<Senders>,
    config: &NotifyConfig,
    metrics: &Metrics,
) -> Result<(), StoreError> {
    let mail_on = senders.mail_enabled();
    loop {
        let now = Timestamp::now();
        let consumed = store
            .enqueue_notifications(MAX_FEED_BATCH, now, |event, targets| {
                plan::plan(event, targets, mail_on, now)
            })
            .await?;
        if consumed < MAX_FEED_BATCH {
            break;
        }
    }
    let now = Timestamp::now();
    let claimed = store
        .claim_deliveries(now, now.plus(config.lease), config.batch)
        .await?;
    let mut sends = JoinSet::new();
    for delivery in claimed {
        let senders = Arc::clone(senders);
        sends.spawn(async move {
            let result = senders.send(&delivery).await;
            (delivery, result)
        });
    }
    while let Some(done) = sends.join_next().await {
        let Ok((delivery, result)) = done else {
            // A panicked send leaves its claim to expire; it is tried again.
            continue;
        };
        let now = Timestamp::now();
        let outcome = match result {
            Ok(()) => Outcome::Delivered,
            Err(error) => config.backoff.after_failure(delivery.attempts, now, error),
        };
        debug!(delivery = %delivery.id, target = %delivery.target, event = %delivery.event, ?outcome, "notification attempt");
        if let Outcome::Abandon { error } = &outcome {
            warn!(delivery = %delivery.id, target = %delivery.target, %error, "notification abandoned");
        }
        let result = match &outcome {
            Outcome::Delivered => DeliveryResult::Delivered,
            Outcome::Retry { .. } => DeliveryResult::Failed,
            Outcome::Abandon { .. } => DeliveryResult::Abandoned,
        };
        metrics.delivery(delivery.channel, result);
        store.settle_delivery(&delivery.id, &outcome, now).await?;
    }
    Ok(())
}
