// @natter/sdk: a small typed client for natter's HTTP API and real-time protocol.
export * from './types';
export { NatterError, errorFromResponse, isErrorCode, type ClientErrorCode } from './errors';
export { backoffDelay, type BackoffOptions } from './backoff';
export { RestClient, type FetchLike, type RestOptions, type RequestOptions } from './rest';
export {
  RealtimeClient,
  CloseCode,
  PROTOCOL_VERSION,
  wsUrl,
  newClientMsgId,
  type Clock,
  type ConnectionState,
  type RealtimeOptions,
  type SendOptions,
  type SocketLike,
  type Transport,
} from './realtime';
export { SseSocket, httpBase, httpReachable, type SseOptions } from './sse';
export { ConversationStore, type ConversationState, type PendingMessage, type Receipt, type TimelineItem } from './store';
export * from './widget-api';
