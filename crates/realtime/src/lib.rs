//! Real-time delivery on a node and between nodes.
//!
//! - [`hub`]: the node's registry of live connections and their bounded queues.
//! - [`fanout`]: the sequencer that delivers committed events to the hub in event-id order,
//!   whether they were committed on this node or another, filling any gap from storage.
//! - [`bus`]: the Redis pub/sub link between nodes (optional: a single node needs none).

pub mod bus;
pub mod fanout;
pub mod hub;

pub use fanout::Fanout;
pub use hub::{Hub, Outbound, Subscription, event_frame};
