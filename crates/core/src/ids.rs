//! Typed identifiers. Each is a database row id; the newtypes stop a conversation id from
//! being passed where a message id is expected.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            ToSchema,
        )]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A workspace: one business, the tenant boundary.
    WorkspaceId
);
id_type!(
    /// An account: a staff member or a contact. Both share one id space so that
    /// participants, cursors and event streams refer to either without a type switch.
    AccountId
);
id_type!(
    /// A conversation (thread).
    ConversationId
);
id_type!(
    /// A stored message.
    MessageId
);
id_type!(
    /// A position in the global, commit-ordered, gap-free event log. Every account's event
    /// stream is the subsequence of this log that the account may see, so the id is
    /// monotonic per account and is the resume cursor.
    EventId
);
id_type!(
    /// A website: one installation of the widget (its key, domains, branding, hours).
    WebsiteId
);
