// Every type shared with the server comes from the Rust types (crates/core) through ts-rs: the
// protocol frames, records, ids and error codes, and the REST request and response bodies
// (crates/core/src/api.rs). See scripts/gen-types.mjs. Only narrowing helpers live here.
import type { EventPayload, ServerFrame } from './generated';

export type * from './generated';

/** Narrows a server frame union member by its `type`. */
export type ServerFrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;
/** Narrows an event payload by its `type`. */
export type EventOf<T extends EventPayload['type']> = Extract<EventPayload, { type: T }>;
/** An `event` frame. */
export type EventFrame = ServerFrameOf<'event'>;
/** A `ready` frame. */
export type ReadyFrame = ServerFrameOf<'ready'>;
/** An `ack` frame. */
export type AckFrame = ServerFrameOf<'ack'>;
/** A `typing` frame. */
export type TypingFrame = ServerFrameOf<'typing'>;
