import type { ErrorCode } from './generated';

/** Codes the SDK itself produces when the server could not be asked. */
export type ClientErrorCode = 'network_error' | 'closed';

/**
 * The one error type of the SDK: the server's stable snake_case `code` (see
 * crates/core/src/error.rs), its human `message`, and the HTTP status (0 when the request never
 * got an answer). Switch on `code`, never on `message`.
 */
export class NatterError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  readonly status: number;
  /** For `rate_limited`: seconds until a retry may succeed. */
  readonly retryAfter: number | null;

  constructor(code: ErrorCode | ClientErrorCode, message: string, status = 0, retryAfter: number | null = null) {
    super(message);
    this.name = 'NatterError';
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  /** True when retrying the same request later may succeed. */
  get retryable(): boolean {
    return (
      this.code === 'unavailable' ||
      this.code === 'internal' ||
      this.code === 'rate_limited' ||
      this.code === 'network_error' ||
      this.code === 'closed'
    );
  }
}

// A Record over the generated union: tsc fails when crates/core gains or loses a code.
const KNOWN: Record<ErrorCode, true> = {
  malformed_request: true,
  unknown_frame: true,
  invalid_field: true,
  too_large: true,
  unauthenticated: true,
  forbidden: true,
  not_found: true,
  conflict: true,
  rate_limited: true,
  hello_required: true,
  resync_required: true,
  unavailable: true,
  internal: true,
  origin_not_allowed: true,
};

/** True when `code` is one of the server's stable error codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(KNOWN, code);
}

/** Maps a status and a parsed body to a NatterError, tolerating bodies of any shape. */
export function errorFromResponse(status: number, body: unknown): NatterError {
  const o = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const raw = typeof o.code === 'string' ? o.code : '';
  const code: ErrorCode = isErrorCode(raw) ? raw : codeForStatus(status);
  const message = typeof o.message === 'string' ? o.message : `HTTP ${status}`;
  const retryAfter = typeof o.retry_after === 'number' ? o.retry_after : null;
  return new NatterError(code, message, status, retryAfter);
}

function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'malformed_request';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'too_large';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    default:
      return 'internal';
  }
}
