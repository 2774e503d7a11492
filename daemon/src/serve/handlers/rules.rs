//! The rule requests: `list_rules`, `get_rule`, `put_rule`, `validate_rule`,
//! `delete_rule`, `set_rule_enabled`, `test_rule`. One function each; they share
//! [`alerting`], since every one is a blocking call on the alerting engine (rule
//! files, index counts) that needs an engine to exist.

use lookout_shared::protocol::{ErrorBody, ReqId, RuleSpec, ServerMsg, TimeRange};

use super::{reply_error, Handlers};
use crate::serve::alerting::{not_enabled, Alerting};

pub(super) async fn list(h: &Handlers, id: ReqId) {
    alerting(h, id, move |a| {
        Ok(ServerMsg::Rules {
            id,
            rules: a.list_rules(),
        })
    })
    .await
}

pub(super) async fn get(h: &Handlers, id: ReqId, name: String) {
    alerting(h, id, move |a| {
        a.get_rule(&name).map(|rule| ServerMsg::Rule { id, rule })
    })
    .await
}

pub(super) async fn put(h: &Handlers, id: ReqId, rule: RuleSpec) {
    alerting(h, id, move |a| {
        a.put_rule(rule).map(|rule| ServerMsg::Rule { id, rule })
    })
    .await
}

pub(super) async fn validate(h: &Handlers, id: ReqId, rule: RuleSpec) {
    alerting(h, id, move |a| {
        a.validate_rule(&rule).map(|()| ServerMsg::Ok { id })
    })
    .await
}

pub(super) async fn delete(h: &Handlers, id: ReqId, name: String) {
    alerting(h, id, move |a| {
        a.delete_rule(&name).map(|()| ServerMsg::Ok { id })
    })
    .await
}

pub(super) async fn set_enabled(h: &Handlers, id: ReqId, name: String, enabled: bool) {
    alerting(h, id, move |a| {
        a.set_rule_enabled(&name, enabled)
            .map(|rule| ServerMsg::Rule { id, rule })
    })
    .await
}

pub(super) async fn test(h: &Handlers, id: ReqId, rule: RuleSpec, range: TimeRange) {
    alerting(h, id, move |a| {
        a.test_rule(&rule, &range)
            .map(|result| ServerMsg::RuleTest { id, result })
    })
    .await
}

/// Runs `job` on the engine as blocking work ("rule request"), or answers
/// "alerting not enabled" when there is no engine.
async fn alerting<F>(h: &Handlers, id: ReqId, job: F)
where
    F: FnOnce(&dyn Alerting) -> Result<ServerMsg, ErrorBody> + Send + 'static,
{
    if h.source.alerting().is_none() {
        return h.send(reply_error(id, not_enabled())).await;
    }
    h.blocking(id, "rule request", move |source| {
        let Some(a) = source.alerting() else {
            return reply_error(id, not_enabled());
        };
        job(a.as_ref()).unwrap_or_else(|e| reply_error(id, e))
    })
    .await
}
