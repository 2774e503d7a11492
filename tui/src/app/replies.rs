//! What the connection task reports, dispatched to the screen it concerns.
//!
//! Connection state is the dashboard's own (the status bar). A server message goes
//! by its kind to the one screen that asks for that kind; the screen then checks
//! the id against the requests it keeps (an answer to a request it no longer waits
//! for is dropped there). An error carries only an id, so each screen is asked in
//! turn whether the id is one of its own; one nobody claims goes to the message line.

use lookout_shared::protocol::{ErrorBody, ReqId, ServerMsg};

use super::{App, ConnState, Effect};
use crate::client::ClientEvent;

impl App {
    pub(super) fn on_client(&mut self, ev: ClientEvent) {
        match ev {
            ClientEvent::Connecting => {
                self.outbox.set_online(false);
                if !matches!(self.conn, ConnState::Down { .. }) {
                    self.conn = ConnState::Connecting;
                }
            }
            ClientEvent::Connected(info) => {
                let was_down = matches!(self.conn, ConnState::Down { .. });
                self.conn = ConnState::Connected;
                self.outbox.set_online(true);
                self.server = info;
                if was_down {
                    self.tail.notice(format!("reconnected to {}", self.url));
                }
                self.on_connected();
            }
            ClientEvent::Disconnected {
                reason,
                retry_in,
                fatal,
            } => {
                if matches!(self.conn, ConnState::Connected) {
                    self.tail.notice(format!("connection lost: {reason}"));
                }
                let at = self
                    .now
                    .add_nanos(i64::try_from(retry_in.as_nanos()).unwrap_or(i64::MAX));
                self.conn = ConnState::Down { reason, at, fatal };
                self.outbox.set_online(false);
                let e = self.search.on_disconnect();
                self.apply(e);
                self.alerts.on_disconnect();
            }
            ClientEvent::Msg(m) => self.on_server(m),
        }
    }

    /// Fresh connection: open the watches the first time (the connection task
    /// re-opens them after a reconnect) and reload what lists show.
    fn on_connected(&mut self) {
        let out = &mut self.outbox;
        self.tail.open_watch(out);
        self.alerts.open_watch(out);
        self.tail.subscribe_if_none(out);
        self.alerts.on_connected(self.now, out);
        self.search.on_connected(out);
    }

    fn on_server(&mut self, m: ServerMsg) {
        let out = &mut self.outbox;
        match m {
            ServerMsg::Status { status } => self.status = status,
            ServerMsg::Entries { sub, entries } => self.tail.on_entries(sub, entries),
            ServerMsg::Dropped {
                sub,
                count,
                from,
                until,
            } => self.tail.on_dropped(sub, count, from, until),
            ServerMsg::Streams { id, streams } => self.tail.on_streams(id, streams),
            ServerMsg::SearchResult { id, page } => {
                let e = self.search.on_result(id, page, out);
                self.apply(e);
            }
            ServerMsg::ContextResult { id, page } => self.search.on_context(id, page, out),
            ServerMsg::Patterns { id, result } => self.search.on_patterns(id, result),
            ServerMsg::Alerts { id, alerts } => self.alerts.on_alerts(id, alerts, out),
            ServerMsg::Rules { id, rules } => self.alerts.on_rules(id, rules, out),
            ServerMsg::RuleTest { id, result } => self.alerts.on_rule_test(id, result),
            ServerMsg::Ok { id } | ServerMsg::Rule { id, .. } => {
                let e = self.alerts.on_ok(id, out);
                self.apply(e);
            }
            ServerMsg::Error { id, error } => self.on_error(id, error),
            _ => {}
        }
    }

    fn on_error(&mut self, id: Option<ReqId>, error: ErrorBody) {
        let Some(id) = id else {
            self.say(format!("daemon: {}", error.message));
            return;
        };
        let mut e = self.search.on_reply_error(id, &error);
        if e == Effect::Pass {
            e = self.tail.on_reply_error(id, &error, &mut self.outbox);
        }
        if e == Effect::Pass {
            e = self.alerts.on_reply_error(id, &error);
        }
        if e == Effect::Pass {
            e = Effect::Say(format!("daemon: {}", error.message));
        }
        self.apply(e);
    }
}
