// Types of thywill's browser client: the ES module thywill.mjs (`import {connect} from 'thywill'`),
// and the classic script thywill.js, whose one global, `window.thywill`, is a ThywillGlobal.
// The wire protocol behind them is documentation/protocol.md.

/** The transports, in the names of `?transport=` and of the configuration's `transports`. */
export type TransportName = 'websocket' | 'sse' | 'longpoll';

/**
 * A client's state: `connecting` until its first connection, `connected`, `reconnecting` while
 * a connection that worked is being replaced, `closed` after a final refusal.
 */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** The server's limits, as the configuration carries them (seconds for durations). */
export interface ThywillLimits {
  maxMessageBytes: number;
  maxBatch: number;
  longpollTimeout: number;
  sseKeepalive: number;
  reconnectMaxDelay: number;
  /** The most clients one connection shared by a browser's tabs may carry. */
  maxClientsPerConnection?: number;
}

/** The framework's URLs for this client; `websocket` is a path on the page's own host. */
export interface ThywillEndpoints {
  send: string;
  websocket?: string;
  sse?: string;
  longpoll?: string;
  /** Where a page that goes away for good says so (`pagehide`): its client leaves at once. */
  bye?: string;
}

/**
 * A client's configuration, as the server makes it: the JSON of the page's
 * `#thywill-config` / `#thywill-config-<application>` element, or the answer of
 * `POST <prefix><application>/session/`. `App` is what the application's `client_config()`
 * returns.
 */
export interface ThywillConfig<App = Record<string, unknown>> {
  clientId: string;
  token: string;
  application: string;
  cursor: string;
  /**
   * Whether this client may resume the tab's client across reloads (THYWILL_RESUME); absent
   * from a configuration made before it existed, which means no.
   */
  resume?: boolean;
  /**
   * Whether the tabs of a browser may share one connection (THYWILL_SHARE_CONNECTIONS); absent
   * from a configuration made before it existed, which means no.
   */
  share?: boolean;
  transports: TransportName[];
  forcedTransport: TransportName | null;
  csrfToken: string;
  endpoints: ThywillEndpoints;
  limits: ThywillLimits;
  app: App;
}

/** A value frozen all the way down, as `client.config` is. */
export type DeepReadonly<T> = T extends (infer Item)[]
  ? ReadonlyArray<DeepReadonly<Item>>
  : T extends object
    ? {readonly [Key in keyof T]: DeepReadonly<T[Key]>}
    : T;

/** The error codes of the server (documentation/protocol.md, "Errors"). */
export type ServerErrorCode =
  | 'bad_json'
  | 'bad_message'
  | 'bad_cursor'
  | 'bad_transport'
  | 'bad_frame'
  | 'bad_token'
  | 'token_expired'
  | 'session_mismatch'
  | 'session_ended'
  | 'disconnected'
  | 'bad_origin'
  | 'bad_request'
  | 'auth_timeout'
  | 'bad_host'
  | 'csrf_failed'
  | 'refused'
  | 'unknown_application'
  | 'not_found'
  | 'method_not_allowed'
  | 'upgrade_required'
  | 'too_large'
  | 'too_many_connections'
  | 'unavailable';

/**
 * The client's own codes: `network_error` (no answer), `timeout` (no answer in time; for a
 * send, its `timeout` option), `bad_response` (an answer the client cannot read),
 * `bad_config` (a missing or broken configuration), `bad_message` (send() of a value that is
 * not JSON), `too_large` (a message over `maxMessageBytes`), `handler_error` (the handler
 * raised: an `error` result), `failed` (`fail(reason)` without a code), `history_lost` (a
 * reset without an onReset handler, reported to onError).
 */
export type ClientErrorCode =
  | 'network_error'
  | 'timeout'
  | 'bad_response'
  | 'bad_config'
  | 'bad_message'
  | 'too_large'
  | 'too_many_connections'
  | 'handler_error'
  | 'failed'
  | 'history_lost';

/** Codes of the built-in pipes' `fail()`. */
export type PipeErrorCode = 'rate_limited' | 'too_large' | 'bad_message';

/**
 * Every code a ThywillError may carry: the known ones, `http_<status>` for an answer without
 * thywill's JSON error (a proxy's), and any code an application gives `fail(reason, code)`.
 */
export type ThywillErrorCode =
  | ServerErrorCode
  | ClientErrorCode
  | PipeErrorCode
  | `http_${number}`
  | (string & {});

/** The server's result for one message of a send (documentation/protocol.md, "Sending"). */
export interface SendResult {
  seq: number;
  status: 'ok' | 'duplicate' | 'out_of_order' | 'error' | 'failed';
  /** An `out_of_order` result: the seq the server expected instead. */
  expected?: number;
  value?: unknown;
  code?: string;
  reason?: string;
  retryAfter?: number;
  /** An `error` or `failed` result: the id of the server's log line about it. */
  traceId?: string;
  [field: string]: unknown;
}

/** Every error the client produces: Promise rejections, and what connect() throws. */
export class ThywillError extends Error {
  constructor(code: ThywillErrorCode, message: string, extra?: Record<string, unknown>);
  readonly name: 'ThywillError';
  /** The error code. */
  code: ThywillErrorCode;
  /** The same as `message`. */
  reason: string;
  /** The HTTP status, when there was one (4000 less for a WebSocket close code 4xxx). */
  status?: number;
  /** True when thywill's server itself refused (not a proxy or the network). */
  fromServer?: boolean;
  /** A send's error: the message's sequence number. */
  seq?: number;
  /** A send's error: the server's result entry for the message, when there was one. */
  result?: SendResult;
  /** A `rate_limited` refusal: seconds to wait before sending again. */
  retryAfter?: number;
  /** An `error` or `failed` send: the id of the server's log line about it. */
  traceId?: string;
  /** A WebSocket that closed: its close code. */
  closeCode?: number;
  /**
   * A refusal of a connection shared by several tabs' clients: the position of the client it
   * is about (0: the leading tab's own).
   */
  index?: number;
}

/** What onError handlers receive: an error that is not the answer to a send. */
export interface ThywillErrorReport {
  code: ThywillErrorCode;
  message: string;
  /** `history_lost`: the channels whose history was lost. */
  channels?: string[];
}

/** Where a delivered message comes from. */
export interface MessageMeta {
  /** `client:<client id>`, or `group:<application>:<group>`. */
  channel: string;
  /** The message's position in its channel. */
  id: string;
}

/** History was lost: what follows on these channels is what the server still had. */
export interface ResetInfo {
  channels: string[];
  reason: string;
}

/** The options of send(). */
export interface SendOptions {
  /**
   * Stop waiting after this many milliseconds (a positive finite number, else the Promise
   * rejects with a TypeError): the Promise then rejects with a ThywillError `timeout`. The
   * message stays queued, keeps its sequence number and may still be handled.
   */
  timeout?: number;
}

/** The options of connect(). */
export interface ConnectOptions {
  /**
   * The configuration, when the application fetched it (`POST <prefix><application>/session/`)
   * rather than having it in the page. Ignored while the application's client is open.
   */
  config?: ThywillConfig<unknown>;
  /**
   * false: a reload of the page starts with a new client, as the server issued it, instead
   * of resuming the tab's client (documentation/transports.md, "Reloads"). Default true;
   * the server's THYWILL_RESUME = False turns resuming off for every page.
   */
  resume?: boolean;
  /**
   * false: this client connects alone instead of sharing one connection with the other tabs
   * of the browser that run the application (documentation/transports.md, "Shared
   * connections"). Default true; the server's THYWILL_SHARE_CONNECTIONS = False turns sharing
   * off for every page.
   */
  share?: boolean;
}

/**
 * How a client reaches the server: `leader` (its tab holds the connection the browser's tabs
 * share), `member` (it receives through the leading tab's), `off` (its own connection).
 */
export type SharingRole = 'leader' | 'member' | 'off';

/** Removes the handler it was returned for. */
export type Unsubscribe = () => void;

/** The counters of a client. */
export interface ThywillStats {
  received: number;
  resets: number;
  sent: number;
}

/** One client: a connection to the server for one configuration, with its own handlers and send queue. */
export interface ThywillClient<App = Record<string, unknown>> {
  /** fn() once the client has connected for the first time; asynchronously at once when it has. */
  ready(fn: () => unknown): void;
  /**
   * Sends data (any JSON value) to the application's handler, in order, exactly once. Resolves
   * with what the handler returned (`undefined` when it returned nothing, and for a message
   * the server had already handled: a value does not survive a retry after a lost answer;
   * send a message to the client when it must arrive). Rejects with a ThywillError: the
   * server refused it (`failed`, `rate_limited`, `handler_error`, ...), `timeout` (the option),
   * or the client closed; with a TypeError for bad options.
   */
  send<T = unknown>(data: unknown, options?: SendOptions): Promise<T | undefined>;
  /** fn(data, meta) for each message delivered to this client, in order. */
  onMessage<T = unknown>(fn: (data: T, meta: MessageMeta) => unknown): Unsubscribe;
  /** fn(error) for errors not tied to a send; without any handler, a banner shows them. */
  onError(fn: (error: ThywillErrorReport) => unknown): Unsubscribe;
  /** fn(reset) when history was lost; without any handler, onError gets `history_lost`. */
  onReset(fn: (reset: ResetInfo) => unknown): Unsubscribe;
  /** fn(state) when the state changes. */
  onStateChange(fn: (state: ClientState) => unknown): Unsubscribe;
  /** The client's id, null when it has no configuration. */
  readonly clientId: string | null;
  /** The application's name, null when it has no configuration. */
  readonly application: string | null;
  /** The transport in use or being tried, null when there is none. */
  readonly transport: TransportName | null;
  readonly state: ClientState;
  /** The position after everything delivered (opaque). */
  readonly cursor: string;
  /** The configuration as the server gave it, frozen; `config.app` is the application's. */
  readonly config: DeepReadonly<ThywillConfig<App>> | null;
  readonly stats: Readonly<ThywillStats>;
  /**
   * Whether this is the client of the tab's earlier page (a reload), resumed: its groups and
   * everything sent to it meanwhile are still there.
   */
  readonly resumed: boolean;
  /** How this client reaches the server: through the connection of the browser's tabs, or alone. */
  readonly sharing: SharingRole;
}

/**
 * The client of an application on this page: made on the first call, the same object after,
 * until it is closed (then a new call makes a new one). Its configuration is `options.config`,
 * or the page's `#thywill-config-<application>` element (`{% thywill_client "<application>" %}`).
 *
 * @throws ThywillError `bad_config` (no such element, a broken configuration, or one for
 *   another application) or `bad_transport`; TypeError for a bad argument.
 */
export function connect<App = Record<string, unknown>>(
  application: string,
  options?: ConnectOptions,
): ThywillClient<App>;

/**
 * The page's default client: the one of `#thywill-config` (the bootstrap page's), made on the
 * first call. A missing configuration does not throw: the client is closed and reports
 * `bad_config`.
 */
export function defaultClient<App = Record<string, unknown>>(): ThywillClient<App>;

/** One event of a `text/event-stream`. */
export interface SseEvent {
  /** The `event:` field, `message` when absent. */
  type: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
  /** This event's `id:`, null when it had none. */
  id: string | null;
  /** The last id seen on the stream so far. */
  lastEventId: string;
}

/** A parser of the `text/event-stream` format (WHATWG HTML, "Server-sent events"). */
export interface SseParser {
  /** Decoded text, in chunks split anywhere. */
  push(text: string): void;
  /** The stream ended: an unfinished event is dropped. */
  end(): void;
}

export function createSseParser(onEvent: (event: SseEvent) => void): SseParser;

/**
 * `window.thywill`, for pages that load thywill.js as a classic script: connect(), and the
 * members of the page's default client. In TypeScript:
 * `declare const thywill: import('thywill').ThywillGlobal;`
 */
export type ThywillGlobal<App = Record<string, unknown>> = ThywillClient<App> & {
  connect: typeof connect;
};
