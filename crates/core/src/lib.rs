//! natter's shared vocabulary: identifiers, domain records, the real-time protocol frames,
//! the stable error codes and the configuration. Nothing here performs I/O, so every other
//! crate (and the TypeScript SDK, through generated types) can depend on it.

pub mod api;
pub mod config;
pub mod desk;
pub mod error;
pub mod hours;
pub mod ids;
pub mod model;
pub mod policy;
pub mod protocol;
pub mod routing;
pub mod staff_api;
pub mod time;
pub mod website;

pub use error::{Error, ErrorCode};
pub use ids::{AccountId, ConversationId, EventId, MessageId, WebsiteId, WorkspaceId};
