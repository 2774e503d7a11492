//! `alerts`: the current alert instances, and with `watch` every change after.

use std::sync::Arc;

use lookout_shared::protocol::{ReqId, ServerMsg};
use tokio::sync::broadcast::error::RecvError;

use super::{reply_error, Handlers, TaskGuard};
use crate::serve::alerting::not_enabled;

pub(super) async fn apply(h: &mut Handlers, id: ReqId, watch: bool) {
    let Some(a) = h.source.alerting() else {
        return h.send(reply_error(id, not_enabled())).await;
    };
    if watch {
        if let Err(e) = h.check_new_sub(id) {
            return h.send(*e).await;
        }
    }
    // Subscribe before listing so no change falls between the two.
    let rx = watch.then(|| a.watch_alerts());
    let a2 = Arc::clone(&a);
    let alerts = tokio::task::spawn_blocking(move || a2.alerts())
        .await
        .unwrap_or_default();
    h.send(ServerMsg::Alerts { id, alerts }).await;
    let Some(mut rx) = rx else {
        return;
    };
    let out = h.out.clone();
    let task = tokio::spawn(async move {
        loop {
            let alerts = match rx.recv().await {
                Ok(alert) => vec![alert],
                // Missed some changes: send the whole current list instead.
                Err(RecvError::Lagged(_)) => {
                    let a = Arc::clone(&a);
                    tokio::task::spawn_blocking(move || a.alerts())
                        .await
                        .unwrap_or_default()
                }
                Err(_) => return,
            };
            if !out.send(ServerMsg::Alerts { id, alerts }).await {
                return;
            }
        }
    });
    h.subs.insert(id, Box::new(TaskGuard(task)));
}
