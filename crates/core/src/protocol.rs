//! The real-time protocol: JSON frames over WebSocket (`/v1/ws`) or SSE + POST. Every frame
//! is an object with a `type`. `docs/protocol.md` documents each frame and the resume rules;
//! these types are the source of truth for it and for the TypeScript SDK.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ErrorCode;
use crate::ids::{AccountId, ConversationId, EventId, MessageId, WebsiteId, WorkspaceId};
use crate::model::{Conversation, Message, MessageFormat, MessageKind, Participant};
use crate::time::Millis;

/// The protocol version this server speaks. A `hello` asking for another version is refused.
pub const PROTOCOL_VERSION: u32 = 1;

/// WebSocket close codes natter uses. 1000–1011 are the standard ones; 4000–4999 are ours.
pub mod close {
    /// The server is shutting down or restarting: reconnect (to any node) and resume.
    pub const GOING_AWAY: u16 = 1001;
    /// A frame was larger than `limits.ws_frame_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// The `hello` token was missing, invalid or expired. Do not retry with the same token.
    pub const UNAUTHENTICATED: u16 = 4001;
    /// The first frame was not a valid `hello`, or it did not come in time.
    pub const HELLO_REQUIRED: u16 = 4002;
    /// The client asked for a protocol version this server does not speak.
    pub const UNSUPPORTED_VERSION: u16 = 4003;
    /// A widget visitor's socket from a page outside the website's allowed domains.
    pub const ORIGIN_NOT_ALLOWED: u16 = 4004;
    /// The client did not keep up with its events; reconnect and resume.
    pub const SLOW_CONSUMER: u16 = 4008;
    /// Nothing (not even a pong) was heard from the client for `realtime.idle_timeout_secs`.
    pub const IDLE_TIMEOUT: u16 = 4009;
}

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
// Client frames may omit optional fields: in TypeScript they are `field?: T | null`.
#[cfg_attr(
    feature = "ts",
    derive(ts_rs::TS),
    ts(export, optional_fields = nullable)
)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Must be the first WebSocket frame: authenticates and, with `last_event_id`, resumes.
    Hello {
        /// A staff API token or a contact token.
        token: String,
        /// The id of the last event this client processed; omitted on a fresh start.
        #[serde(default)]
        last_event_id: Option<EventId>,
        /// The protocol version the client speaks (default 1).
        #[serde(default)]
        v: Option<u32>,
    },
    /// Posts a message. Answered by `ack` (after commit) or `error`.
    Send {
        #[serde(rename = "ref", default)]
        req: Option<String>,
        conversation_id: ConversationId,
        /// Idempotency key: a retry with the same key gets the original `ack`.
        #[serde(default)]
        client_msg_id: Option<String>,
        #[serde(default)]
        kind: Option<MessageKind>,
        #[serde(default)]
        format: Option<MessageFormat>,
        body: String,
    },
    /// The sender is typing. Ephemeral; the server forwards at most one per ~2 s. Answered
    /// only when refused (`error`).
    Typing {
        #[serde(rename = "ref", default)]
        req: Option<String>,
        conversation_id: ConversationId,
    },
    /// Moves the caller's read cursor forward to `seq`.
    Read {
        #[serde(rename = "ref", default)]
        req: Option<String>,
        conversation_id: ConversationId,
        seq: i64,
    },
    /// Moves the caller's delivered cursor forward to `seq`.
    Delivered {
        #[serde(rename = "ref", default)]
        req: Option<String>,
        conversation_id: ConversationId,
        seq: i64,
    },
    /// Adds (or with `remove: true`, removes) an emoji reaction.
    React {
        #[serde(rename = "ref", default)]
        req: Option<String>,
        conversation_id: ConversationId,
        message_id: MessageId,
        emoji: String,
        #[serde(default)]
        remove: bool,
    },
    /// Application-level keepalive; answered by `pong`.
    Ping {
        #[serde(rename = "ref", default)]
        req: Option<String>,
    },
}

/// A frame sent by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Answers `hello`. Replayed events (if resuming) follow, then live events.
    Ready {
        v: u32,
        account_id: AccountId,
        workspace_id: WorkspaceId,
        /// The newest event id at the time of connecting.
        head_event_id: EventId,
        /// The server pings at this interval; a client that hears nothing for twice this
        /// long should reconnect.
        heartbeat_ms: u64,
        /// True when `last_event_id` was accepted and missed events will be replayed.
        resumed: bool,
    },
    /// A durable event with the account's monotonic event id.
    Event {
        id: EventId,
        at: Millis,
        data: EventPayload,
    },
    /// Someone is typing (ephemeral, no id).
    Typing {
        conversation_id: ConversationId,
        account_id: AccountId,
    },
    /// A `send` was committed.
    Ack {
        #[serde(rename = "ref")]
        req: Option<String>,
        conversation_id: ConversationId,
        message_id: MessageId,
        seq: i64,
        /// True when this `client_msg_id` had already been stored: nothing new was stored.
        duplicate: bool,
    },
    /// A `read`, `delivered` or `react` took effect.
    Ok {
        #[serde(rename = "ref")]
        req: Option<String>,
    },
    /// Answers `ping`.
    Pong {
        #[serde(rename = "ref")]
        req: Option<String>,
    },
    /// A frame was refused. The connection stays open.
    Error {
        #[serde(rename = "ref")]
        req: Option<String>,
        code: ErrorCode,
        message: String,
    },
    /// The resume cursor is older than the server keeps: refetch state over REST, then carry
    /// on from `head_event_id` (live events follow on this connection).
    Resync {
        head_event_id: EventId,
        reason: String,
    },
    /// A visitor arrived on, moved to another page of, or left a website (ephemeral; to
    /// staff who serve the website). `action` is `arrived`, `page` or `left`.
    Visitor {
        website_id: WebsiteId,
        action: String,
        // Boxed: a visit is much larger than the other frames.
        visitor: Box<crate::website::LiveVisitor>,
    },
    /// A website chat was opened or left waiting (ephemeral; to staff who serve the
    /// website): refresh the inbox.
    InboxChanged {
        conversation: crate::model::Conversation,
    },
    /// Where the customer's chat stands in the queue (ephemeral; to the customer whenever
    /// the queue moves). `estimated_wait_ms` is absent when nobody who could take the chat
    /// is online.
    QueuePosition {
        conversation_id: ConversationId,
        position: u32,
        estimated_wait_ms: Option<i64>,
    },
    /// How many chats wait, per team (ephemeral; to the workspace's staff when it changes).
    /// `team_id` null is the chats in no team.
    QueueLength {
        waiting: Vec<crate::website::TeamWaiting>,
    },
    /// A chat waited too long and its priority was raised (ephemeral; to owners and
    /// admins).
    Escalated {
        conversation_id: ConversationId,
        priority: String,
        waiting_ms: i64,
    },
    /// A chat is being transferred to you: accept it before `expires_at` (ms) or it goes
    /// back to the queue (ephemeral; to the receiving agent).
    TransferOffered {
        conversation_id: ConversationId,
        from_agent: AccountId,
        note: Option<String>,
        expires_at: i64,
    },
    /// A customer waited longer than the first-response SLA for a staff reply (ephemeral;
    /// to owners and admins, once per conversation).
    SlaBreached {
        conversation_id: ConversationId,
        first_message_at: i64,
        sla_ms: i64,
    },
}

/// What happened, as carried by an `event` frame and stored in the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventPayload {
    MessageCreated {
        message: Message,
    },
    MessageEdited {
        message: Message,
    },
    MessageDeleted {
        conversation_id: ConversationId,
        message_id: MessageId,
        seq: i64,
        deleted_at: Millis,
    },
    Read {
        conversation_id: ConversationId,
        account_id: AccountId,
        seq: i64,
    },
    Delivered {
        conversation_id: ConversationId,
        account_id: AccountId,
        seq: i64,
    },
    ReactionAdded {
        conversation_id: ConversationId,
        message_id: MessageId,
        account_id: AccountId,
        emoji: String,
    },
    ReactionRemoved {
        conversation_id: ConversationId,
        message_id: MessageId,
        account_id: AccountId,
        emoji: String,
    },
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantLeft {
        conversation_id: ConversationId,
        account_id: AccountId,
        left_at: Millis,
    },
    /// Created, or its status/subject/listing changed.
    ConversationUpdated {
        conversation: Conversation,
    },
}

impl EventPayload {
    /// The conversation the event belongs to; every durable event belongs to one.
    pub fn conversation_id(&self) -> ConversationId {
        match self {
            Self::MessageCreated { message } | Self::MessageEdited { message } => {
                message.conversation_id
            }
            Self::MessageDeleted {
                conversation_id, ..
            }
            | Self::Read {
                conversation_id, ..
            }
            | Self::Delivered {
                conversation_id, ..
            }
            | Self::ReactionAdded {
                conversation_id, ..
            }
            | Self::ReactionRemoved {
                conversation_id, ..
            }
            | Self::ParticipantLeft {
                conversation_id, ..
            } => *conversation_id,
            Self::ParticipantJoined { participant } => participant.conversation_id,
            Self::ConversationUpdated { conversation } => conversation.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_frame_parses_with_ref_and_defaults() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"send","ref":"r1","conversation_id":7,"body":"hi"}"#)
                .unwrap();
        assert_eq!(
            frame,
            ClientFrame::Send {
                req: Some("r1".into()),
                conversation_id: ConversationId(7),
                client_msg_id: None,
                kind: None,
                format: None,
                body: "hi".into(),
            }
        );
    }

    #[test]
    fn an_unknown_field_is_refused_rather_than_ignored() {
        let err = serde_json::from_str::<ClientFrame>(r#"{"type":"ping","bogus":1}"#);
        assert!(err.is_err());
    }

    #[test]
    fn an_error_frame_serialises_its_code_in_snake_case() {
        let frame = ServerFrame::Error {
            req: None,
            code: ErrorCode::UnknownFrame,
            message: "x".into(),
        };
        let json = serde_json::to_value(&frame).unwrap();
        assert_eq!(json["type"], "error");
        assert_eq!(json["code"], "unknown_frame");
    }
}
