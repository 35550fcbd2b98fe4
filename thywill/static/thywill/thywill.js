/*
 * thywill.js: the browser client of thywill.
 *
 * The wire contract is documentation/protocol.md; this file follows it and adds nothing to it.
 *
 * One source, two ways in:
 *   - as a classic <script> (Django's staticfiles serve this file), its only global is
 *     `window.thywill`: connect(), and the page's default client (section 6, the end of this file);
 *   - as an ES module, thywill.mjs beside it, for bundlers: the text between the two "module
 *     body" markers below, followed by named exports (connect, defaultClient, ThywillError,
 *     createSseParser). scripts/build-client-module.mjs writes it; a test checks that the
 *     committed thywill.mjs is what it writes. A generated copy rather than one file for both,
 *     because a classic script cannot `export`, and an ES module that imported this script
 *     could only get its functions back through a global: the module would then be neither
 *     global-free nor usable by a browser without a bundler.
 *
 * Layout of the file:
 *   1. the event-stream parser (pure)
 *   2. small helpers: errors, URLs, HTTP, backoff
 *   3. transports: one small object per transport ({name, start(), stop()}), all feeding the
 *      client through one context (opened / deliver / reset / setCursor)
 *   4. the client: configuration, dispatch to the application's handlers, the reconnection
 *      machine with the transport negotiation (documentation/transports.md), the send queue,
 *      and the client object
 *   5. connect() and defaultClient(): the clients of a page, one per application
 *   6. the classic script's global, window.thywill (not in the module)
 */
(function () {
  'use strict';

  // === module body: from here to its end marker, this text is also thywill.mjs ===

  // ---------------------------------------------------------------------------------------------
  // 1. Event-stream parser
  // ---------------------------------------------------------------------------------------------

  /**
   * Parser for the `text/event-stream` format (WHATWG HTML, "Server-sent events").
   *
   * Feed it decoded text with push(), in chunks split anywhere (even between the CR and LF of a
   * CRLF); it calls onEvent({type, data, id, lastEventId}) for each complete event:
   *   - type: the `event:` field, "message" when absent;
   *   - data: the `data:` lines joined with "\n";
   *   - id: the `id:` field of this very event, or null when it had none;
   *   - lastEventId: the last id seen on the stream so far (the standard's "last event ID").
   * Comments (lines starting with ':') and unknown fields (`retry:` included) are ignored; an
   * event without any `data:` line is not dispatched, and an unfinished event at end() is dropped,
   * both as the standard says.
   */
  function createSseParser(onEvent) {
    let buffer = '';          // text after the last complete line
    let atStart = true;       // a byte-order mark is only skipped at the very start
    let pendingCR = false;    // the last chunk ended with CR: a LF opening the next one is its pair
    let eventType = '';
    let data = '';
    let eventId = null;
    let lastEventId = '';

    function dispatch() {
      const type = eventType || 'message';
      const hasData = data !== '';
      const event = {type, data: data.slice(0, -1), id: eventId, lastEventId};
      eventType = '';
      data = '';
      eventId = null;
      if (hasData) {
        onEvent(event);
      }
    }

    function processLine(line) {
      if (line === '') {
        dispatch();
        return;
      }
      if (line[0] === ':') {
        return;  // a comment: the server's padding, for instance
      }
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? '' : line.slice(colon + 1);
      if (value[0] === ' ') {
        value = value.slice(1);
      }
      if (field === 'event') {
        eventType = value;
      } else if (field === 'data') {
        data += value + '\n';
      } else if (field === 'id' && !value.includes('\0')) {
        eventId = value;
        lastEventId = value;
      }
    }

    function push(text) {
      if (!text) {
        return;
      }
      if (atStart) {
        atStart = false;
        if (text[0] === '\uFEFF') {
          text = text.slice(1);
        }
      }
      if (pendingCR) {
        pendingCR = false;
        if (text[0] === '\n') {
          text = text.slice(1);
        }
      }
      buffer += text;
      const lineEnd = /\r\n|\r|\n/g;
      let start = 0;
      let match;
      while ((match = lineEnd.exec(buffer)) !== null) {
        // A CR that ends the buffer may be the first half of a CRLF split across two chunks.
        if (match[0] === '\r' && lineEnd.lastIndex === buffer.length) {
          pendingCR = true;
        }
        const line = buffer.slice(start, match.index);
        start = lineEnd.lastIndex;
        processLine(line);
      }
      buffer = buffer.slice(start);
    }

    function end() {
      buffer = '';
      eventType = '';
      data = '';
      eventId = null;
    }

    return {push, end};
  }

  // ---------------------------------------------------------------------------------------------
  // 2. Helpers
  // ---------------------------------------------------------------------------------------------

  const OPEN_TIMEOUT_MS = 5000;      // an SSE stream or a WebSocket must send `open` within this
  const FALLBACK_AFTER = 3;          // failed attempts in a row before a connected client moves on
  const UPGRADE_FIRST_MS = 60000;    // first try of a better transport after settling on a worse
  const UPGRADE_MAX_MS = 600000;     // ... and the cap of the doubling wait between tries
  const BACKOFF_BASE_MS = 250;       // first reconnection / resend delay (before jitter)
  const SEND_TIMEOUT_MS = 60000;     // a POST unanswered for this long is retried (same seqs)
  // The token is a credential: it never goes in a URL, which access logs keep. Long-poll and SSE
  // send it in this header; a WebSocket, which cannot have headers, in its first frame (`auth`).
  const TOKEN_HEADER = 'X-Thywill-Token';
  // A connection shared by the tabs of a browser carries several clients: their tokens go in
  // this header, comma-separated, and their cursors in as many `cursor` parameters, in order.
  const TOKENS_HEADER = 'X-Thywill-Tokens';
  const DEFAULT_LIMITS = {
    maxMessageBytes: 65536, maxBatch: 100, longpollTimeout: 25, sseKeepalive: 15,
    reconnectMaxDelay: 30, maxClientsPerConnection: 16,
  };

  /**
   * Every error the client produces. `code` is the protocol's error code (or one of the client's
   * own: network_error, timeout, bad_response, bad_config, bad_message, too_large,
   * handler_error, ...; thywill.d.ts lists them), `reason` the same as `message`.
   * `status` is the HTTP status when there was one; `fromServer` is true when the answer carried
   * thywill's JSON error body, i.e. the server itself refused (not a proxy or the network).
   * A send's error also has `seq`, and `result` (the server's result entry), `retryAfter`
   * and `traceId` (the id of the server's log line about it) when the server gave them.
   */
  class ThywillError extends Error {
    /**
     * @param {string} code the error code
     * @param {string} message what happened, for people
     * @param {object} [extra] more fields: status, fromServer, seq, result, retryAfter, cause...
     */
    constructor(code, message, extra) {
      super(message);
      this.name = 'ThywillError';
      this.code = code;
      this.reason = message;
      Object.assign(this, extra);
    }
  }

  function buildUrl(base, params) {
    const query = new URLSearchParams(params).toString();
    return base + (base.includes('?') ? '&' : '?') + query;
  }

  function isRetryableStatus(status) {
    return status >= 500 || status === 408 || status === 429;
  }

  /** Turns a refused answer into a ThywillError, using the JSON error body when there is one. */
  async function httpError(response) {
    const status = response.status;
    let code = 'http_' + status;
    const statusText = response.statusText ? ' ' + response.statusText : '';
    let message = 'The server answered ' + status + statusText + '.';
    let fromServer = false;
    let index;
    try {
      const body = await response.json();
      if (body && body.error && typeof body.error.code === 'string') {
        code = body.error.code;
        message = typeof body.error.message === 'string' ? body.error.message : message;
        fromServer = true;
        index = refusedIndex(body.error);
      }
    } catch (ignored) {
      // Not JSON: an answer from a proxy or a crashed server. The generic message stands.
    }
    return new ThywillError(code, message, {status, fromServer, index});
  }

  /**
   * Which client of a shared connection a refusal is about (its position in the connection's
   * list: 0 is the leading tab's own), or undefined when it is about the whole connection.
   */
  function refusedIndex(error) {
    return Number.isSafeInteger(error.index) && error.index >= 0 ? error.index : undefined;
  }

  function isAbort(error) {
    return Boolean(error) && error.name === 'AbortError';
  }

  /**
   * Any failure of a request as a ThywillError, except the AbortError of a stop(), which the
   * client recognises and ignores. fetch() reports network failures as a TypeError; a JSON
   * body that does not parse is a SyntaxError (checked by name: it may come from another realm).
   */
  function normalizeError(error) {
    if (error instanceof ThywillError || isAbort(error)) {
      return error;
    }
    if (error && error.name === 'SyntaxError') {
      return new ThywillError('bad_response', 'The server sent malformed JSON.');
    }
    return new ThywillError('network_error', 'The server could not be reached.', {cause: error});
  }

  /**
   * fetch() then read(response), the whole giving up after timeoutMs (ThywillError 'timeout').
   * An outer AbortSignal (a transport's stop()) cancels it too; that AbortError passes through.
   * Network failures become ThywillError 'network_error'.
   */
  async function timedFetch(url, init, timeoutMs, outerSignal, read) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const forwardAbort = () => controller.abort();
    if (outerSignal) {
      outerSignal.addEventListener('abort', forwardAbort);
    }
    try {
      const response = await fetch(url, Object.assign({}, init, {signal: controller.signal}));
      return await read(response);
    } catch (error) {
      if (timedOut) {
        throw new ThywillError('timeout', 'The server did not answer in time.');
      }
      throw normalizeError(error);
    } finally {
      clearTimeout(timer);
      if (outerSignal) {
        outerSignal.removeEventListener('abort', forwardAbort);
      }
    }
  }

  /**
   * Capped exponential backoff with full jitter: the n-th consecutive failure waits a uniformly
   * random time in [0, min(cap, base * 2^n)). Jitter spreads the reconnections of many clients
   * after a server restart.
   */
  function createBackoff(capMs) {
    let failures = 0;
    return {
      next() {
        const ceiling = Math.min(capMs, BACKOFF_BASE_MS * 2 ** Math.min(failures, 30));
        failures += 1;
        return Math.random() * ceiling;
      },
      reset() {
        failures = 0;
      },
    };
  }

  const encoder = new TextEncoder();

  function utf8Length(text) {
    return encoder.encode(text).length;
  }

  function isObject(value) {
    return value !== null && typeof value === 'object' && !Array.isArray(value);
  }

  function checkMessage(message) {
    if (!isObject(message) || typeof message.channel !== 'string' || typeof message.id !== 'string'
        || !('data' in message)) {
      throw new ThywillError('bad_response', 'The server sent a malformed message.');
    }
    return message;
  }

  /**
   * One client's part of what a connection brought, {messages, cursor, reset}: handed to the
   * client itself when index is 0, relayed to the tab of member `index` otherwise.
   */
  function deliverEntry(ctx, entry, index) {
    if (!isObject(entry) || !Array.isArray(entry.messages) || typeof entry.cursor !== 'string') {
      throw new ThywillError('bad_response', 'The server sent a malformed batch.');
    }
    entry.messages.forEach(checkMessage);
    if (index > 0) {
      ctx.relay(index, entry);
      return;
    }
    if (entry.reset) {
      ctx.reset(entry.reset, null);
    }
    for (const message of entry.messages) {
      ctx.deliver(message, null);
    }
    ctx.setCursor(entry.cursor);
  }

  /** The query of a shared connection: the cursor of each of its clients, the client's first. */
  function sharedCursors(ctx, members) {
    return [ctx.cursor(), ...members.map((member) => member.cursor)].map((c) => ['cursor', c]);
  }

  /** The header value of a shared connection's tokens, the client's own first. */
  function sharedTokens(config, members) {
    return [config.token, ...members.map((member) => member.token)].join(',');
  }

  /** The position of a shared connection's entry (0, the client's own, when not shared). */
  function entryIndex(entry, members) {
    const index = entry.index === undefined ? 0 : entry.index;
    if (!Number.isSafeInteger(index) || index < 0 || index > members.length) {
      throw new ThywillError('bad_response', 'The server sent a batch for no client of this connection.');
    }
    return index;
  }

  // ---------------------------------------------------------------------------------------------
  // 3. Transports
  // ---------------------------------------------------------------------------------------------
  //
  // A transport is created per connection attempt by factory(ctx) and has:
  //   name     as in `?transport=`
  //   start()  connects and returns a Promise that settles when the connection ends: it resolves
  //            when the server ended it normally, rejects with a ThywillError otherwise
  //   stop()   ends it for good; the client then ignores whatever the transport still reports
  // It reports to the client through ctx:
  //   ctx.config            the client's configuration
  //   ctx.cursor()          the cursor to resume from
  //   ctx.opened()          the connection is established (the client is 'connected')
  //   ctx.deliver(m, c)     one message object; c is the cursor after it, or null
  //   ctx.reset(info, c)    history was lost ({channels, reason}); c as for deliver
  //   ctx.setCursor(c)      the cursor after everything delivered so far
  //   ctx.members()         the other tabs' clients this connection also carries ([] when it is
  //                         the client's alone), each {clientId, token, cursor}; fixed for the
  //                         connection's life, their cursors kept current by the client
  //   ctx.relay(i, entry)   what the connection brought member i (1-based, in ctx.members()'s
  //                         order): {messages, cursor, reset}
  // A transport that can also carry sends (websocket) has two more members:
  //   canSend()          true while it is open
  //   send(itemsJson)    sends the messages (their JSON objects, comma-separated) and returns a
  //                      Promise of the server's answer: {results} or {status, error}

  /** Server-Sent Events, read with fetch() so that a refusal's status and JSON body are seen. */
  function sseTransport(ctx) {
    const controller = new AbortController();
    return {
      name: 'sse',
      start: () => runSse(ctx, controller),
      stop: () => controller.abort(),
    };
  }

  async function runSse(ctx, controller) {
    const {config} = ctx;
    const cursor = ctx.cursor();
    const members = ctx.members();
    const headers = {Accept: 'text/event-stream'};
    let url;
    if (members.length > 0) {
      headers[TOKENS_HEADER] = sharedTokens(config, members);
      url = buildUrl(config.endpoints.sse, sharedCursors(ctx, members));
    } else {
      headers[TOKEN_HEADER] = config.token;
      if (cursor) {
        headers['Last-Event-ID'] = cursor;
      }
      url = buildUrl(config.endpoints.sse, {cursor});
    }
    // One timer watches the stream: first for `open`, then for silence. When it fires it aborts
    // the request, and the abort is reported as its own error.
    let watchdogError = null;
    let watchdog = null;
    const arm = (ms, message) => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        watchdogError = new ThywillError('timeout', message);
        controller.abort();
      }, ms);
    };
    const idleMs = (2 * config.limits.sseKeepalive + 5) * 1000;
    let opened = false;
    const parser = createSseParser((event) => {
      if (event.type === 'open') {
        opened = true;
        ctx.setCursor(openCursor(event, members));
        ctx.opened();
      } else {
        handleSseEvent(ctx, event, members);
      }
      if (opened) {
        arm(idleMs, 'The event stream went silent.');  // any event, keepalives included
      }
    });

    arm(OPEN_TIMEOUT_MS, 'The event stream did not open in time.');
    try {
      const response = await fetch(url, {
        headers, credentials: 'same-origin', cache: 'no-store', signal: controller.signal,
      });
      if (!response.ok) {
        throw await httpError(response);
      }
      const type = response.headers.get('Content-Type') || '';
      if (!type.startsWith('text/event-stream') || !response.body) {
        throw new ThywillError('bad_response', 'The answer is not an event stream.');
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const {done, value} = await reader.read();
        if (done) {
          break;
        }
        parser.push(decoder.decode(value, {stream: true}));
      }
      parser.push(decoder.decode());
      parser.end();
      if (!opened) {
        throw new ThywillError('bad_response', 'The event stream ended before it opened.');
      }
    } catch (error) {
      throw watchdogError || normalizeError(error);
    } finally {
      clearTimeout(watchdog);
      controller.abort();  // closes the connection whatever happened (harmless when done)
    }
  }

  /** The client's own cursor in an `open` event: its id, or in a shared stream its data. */
  function openCursor(event, members) {
    const data = members.length > 0 || event.id === null ? JSON.parse(event.data) : null;
    if (members.length === 0) {
      return data === null ? event.id : data.cursor;
    }
    if (!isObject(data) || !Array.isArray(data.cursors) || typeof data.cursors[0] !== 'string') {
      throw new ThywillError('bad_response', 'The server sent a malformed open event.');
    }
    return data.cursors[0];
  }

  function handleSseEvent(ctx, event, members) {
    if (event.type === 'message') {
      ctx.deliver(checkMessage(JSON.parse(event.data)), event.id);
    } else if (event.type === 'reset') {
      ctx.reset(JSON.parse(event.data), event.id);
    } else if (event.type === 'batch') {
      const entry = JSON.parse(event.data);
      deliverEntry(ctx, entry, entryIndex(entry, members));
    }
    // `keepalive` only proves the stream alive (the watchdog was re-armed); events unknown to
    // this client are skipped, without taking their cursor, which a later event carries anyway.
    // A shared stream's `error` (one of its clients was refused) is followed by its end: the
    // next connection's refusal names the client (its `index`).
  }

  /** Long-polling: one GET after another, each resuming from the cursor the previous gave. */
  function longpollTransport(ctx) {
    const controller = new AbortController();
    return {
      name: 'longpoll',
      start: () => runLongpoll(ctx, controller.signal),
      stop: () => controller.abort(),
    };
  }

  async function runLongpoll(ctx, stopSignal) {
    const {config} = ctx;
    const timeoutMs = (config.limits.longpollTimeout + 10) * 1000;
    let first = true;
    const members = ctx.members();
    while (!stopSignal.aborted) {
      const headers = {Accept: 'application/json'};
      let params;
      if (members.length > 0) {
        headers[TOKENS_HEADER] = sharedTokens(config, members);
        params = sharedCursors(ctx, members);
      } else {
        headers[TOKEN_HEADER] = config.token;
        params = [['cursor', ctx.cursor()]];
      }
      if (first) {
        params.push(['wait', '0']);  // answer at once, so that the client knows it is connected
      }
      const url = buildUrl(config.endpoints.longpoll, params);
      const answer = await pollOnce(url, headers, timeoutMs, stopSignal);
      if (stopSignal.aborted) {
        return;
      }
      if (first) {
        first = false;
        ctx.opened();
      }
      // A shared answer has an entry per client, in the order of the tokens.
      const entries = members.length > 0 ? answer.batches : [answer];
      if (!Array.isArray(entries) || entries.length !== members.length + 1) {
        throw new ThywillError('bad_response', 'The server sent a malformed long-poll answer.');
      }
      entries.forEach((entry, index) => deliverEntry(ctx, entry, index));
    }
  }

  function pollOnce(url, headers, timeoutMs, stopSignal) {
    const init = {headers, credentials: 'same-origin', cache: 'no-store'};
    return timedFetch(url, init, timeoutMs, stopSignal, async (response) => {
      if (!response.ok) {
        throw await httpError(response);
      }
      const answer = await response.json();
      if (!isObject(answer)) {
        throw new ThywillError('bad_response', 'The server sent a malformed long-poll answer.');
      }
      return answer;
    });
  }

  /**
   * WebSocket: the feed and the sends over one connection. Frames are JSON objects with a
   * `type`. The client's first frame is `auth`, with the token (a browser cannot set headers on
   * a WebSocket, and a URL would put the token in access logs); the server answers `open`. A
   * refusal is an `error` frame, then a close with code 4000 + HTTP status. A client's own socket
   * asks for `sentInBatch`: a send's answer then comes inside the batch frame that delivers what
   * the send delivered to this client, where there is one, one frame instead of two.
   */
  function websocketTransport(ctx) {
    const waiting = [];   // {resolve, reject} of each send frame not answered yet, in order
    let socket = null;
    let open = false;
    let end = () => {};   // ends the connection; replaced by start()

    const members = ctx.members();

    function start() {
      return new Promise((resolve, reject) => {
        const {config} = ctx;
        let settled = false;
        let refusal = null;   // the error frame that comes before a refusal's close
        let watchdog = null;
        const arm = (ms, message) => {
          clearTimeout(watchdog);
          watchdog = setTimeout(() => end(new ThywillError('timeout', message)), ms);
        };
        const idleMs = (2 * config.limits.sseKeepalive + 5) * 1000;
        end = (error) => {
          if (settled) {
            return;
          }
          settled = true;
          open = false;
          clearTimeout(watchdog);
          if (socket !== null) {
            socket.onopen = socket.onmessage = socket.onclose = socket.onerror = null;
            socket.close();
          }
          for (const item of waiting.splice(0)) {
            item.reject(new ThywillError('network_error', 'The connection ended before the answer.'));
          }
          if (error) {
            reject(error);
          } else {
            resolve();
          }
        };
        arm(OPEN_TIMEOUT_MS, 'The WebSocket did not open in time.');
        try {
          const params = members.length > 0 ? sharedCursors(ctx, members) : {cursor: ctx.cursor()};
          socket = new WebSocket(websocketUrl(config.endpoints.websocket, params));
        } catch (error) {
          end(new ThywillError('network_error', 'The WebSocket could not be opened.', {cause: error}));
          return;
        }
        socket.onopen = () => socket.send(JSON.stringify(members.length > 0
          ? {type: 'auth', tokens: [config.token, ...members.map((member) => member.token)]}
          : {type: 'auth', token: config.token, sentInBatch: true}));
        socket.onmessage = (event) => {
          try {
            const frame = JSON.parse(event.data);
            if (!isObject(frame)) {
              throw new ThywillError('bad_response', 'The server sent a malformed frame.');
            }
            if (frame.type === 'error') {
              refusal = frame.error;
            } else {
              handleFrame(frame);
            }
          } catch (error) {
            end(normalizeError(error));
            return;
          }
          if (open) {
            arm(idleMs, 'The WebSocket went silent.');  // any frame, keepalives included
          }
        };
        socket.onclose = (event) => end(socketCloseError(event, refusal, open));
      });
    }

    function handleFrame(frame) {
      if (frame.type === 'open') {
        const cursor = members.length > 0 && Array.isArray(frame.cursors) ? frame.cursors[0]
          : frame.cursor;
        if (typeof cursor !== 'string') {
          throw new ThywillError('bad_response', 'The server sent a malformed open frame.');
        }
        open = true;
        ctx.setCursor(cursor);
        ctx.opened();
      } else if (frame.type === 'batch') {
        // A send's answer may ride in the batch that delivers what it sent (sentInBatch).
        if (isObject(frame.sent) && waiting.length > 0) {
          waiting.shift().resolve(frame.sent);
        }
        deliverEntry(ctx, frame, entryIndex(frame, members));
      } else if (frame.type === 'sent' && waiting.length > 0) {
        waiting.shift().resolve(frame);
      }
      // `keepalive` only proves the connection alive; unknown frame types are skipped.
    }

    function send(itemsJson) {
      return new Promise((resolve, reject) => {
        if (!open) {
          reject(new ThywillError('network_error', 'The WebSocket is not open.'));
          return;
        }
        waiting.push({resolve, reject});
        // On a shared socket each send names its client: the leading tab's own.
        socket.send(sendHead + itemsJson + ']}');
      });
    }

    const sendHead = members.length > 0
      ? '{"type":"send","client":' + JSON.stringify(ctx.config.clientId) + ',"messages":['
      : '{"type":"send","messages":[';
    return {name: 'websocket', start, stop: () => end(null), canSend: () => open, send};
  }

  /** The ws:// or wss:// URL of an endpoint path, on the page's own host. */
  function websocketUrl(path, params) {
    const url = new URL(buildUrl(path, params), window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.href;
  }

  /**
   * What a close means. 4000-4999 is a refusal by thywill (code 4000 + HTTP status; the error
   * frame before it, or else the close reason, names it). A normal close after `open` is the
   * server ending the connection; anything else (1006: the handshake was refused or the
   * network dropped; a close before `open`) means the socket does not get through.
   */
  function socketCloseError(event, refusal, wasOpen) {
    if (event.code >= 4000 && event.code <= 4999) {
      const status = event.code - 4000;
      const code = isObject(refusal) && typeof refusal.code === 'string' ? refusal.code
        : event.reason || 'http_' + status;
      const message = isObject(refusal) && typeof refusal.message === 'string' ? refusal.message
        : 'The server closed the connection (' + event.code + ').';
      const index = isObject(refusal) ? refusedIndex(refusal) : undefined;
      return new ThywillError(code, message, {status, fromServer: true, index});
    }
    if (wasOpen && (event.code === 1000 || event.code === 1001 || event.code === 1012)) {
      return null;
    }
    return new ThywillError('network_error', wasOpen ? 'The WebSocket connection was lost.'
      : 'The WebSocket closed before it opened.', {closeCode: event.code});
  }

  const TRANSPORTS = {websocket: websocketTransport, sse: sseTransport, longpoll: longpollTransport};

  // ---------------------------------------------------------------------------------------------
  // 4. The client
  // ---------------------------------------------------------------------------------------------

  /** The configuration in the page's element #id, checked (see checkConfig). */
  function readConfigElement(id) {
    const element = document.getElementById(id);
    if (!element) {
      throw new ThywillError('bad_config', 'The page has no thywill configuration: no element #' + id + '.');
    }
    let value;
    try {
      value = JSON.parse(element.textContent);
    } catch (error) {
      throw new ThywillError('bad_config', 'The thywill configuration in #' + id + ' is not valid JSON.');
    }
    return checkConfig(value, 'in #' + id);
  }

  /**
   * A copy of a configuration the server made (the JSON of the page's element, or the object an
   * application fetched and gave to connect()), checked and completed with the defaults; `where`
   * says where it came from, for the error. Throws ThywillError bad_config.
   */
  function checkConfig(value, where) {
    let config;
    try {
      config = JSON.parse(JSON.stringify(value));  // a copy the caller cannot change under us
    } catch (error) {
      config = undefined;  // a cycle, a BigInt...
    }
    if (!isObject(config) || typeof config.token !== 'string' || !isObject(config.endpoints)) {
      throw new ThywillError('bad_config', 'The thywill configuration ' + where + ' is incomplete.');
    }
    config.limits = Object.assign({}, DEFAULT_LIMITS, config.limits);
    config.transports = Array.isArray(config.transports) ? config.transports
      : ['websocket', 'sse', 'longpoll'];
    config.cursor = typeof config.cursor === 'string' ? config.cursor : '';
    return config;
  }

  /** The transports to try, in order; throws when there is none this client can use. */
  function chooseCandidates(config) {
    if (config.forcedTransport) {
      if (!TRANSPORTS[config.forcedTransport] || !config.endpoints[config.forcedTransport]) {
        throw new ThywillError('bad_transport',
          'This client cannot use the transport "' + config.forcedTransport + '".');
      }
      return [config.forcedTransport];
    }
    const usable = config.transports.filter((name) => TRANSPORTS[name] && config.endpoints[name]);
    if (usable.length === 0) {
      throw new ThywillError('bad_transport', 'None of the offered transports is usable.');
    }
    return usable;
  }

  /** A frozen copy, for the applications to read without touching the client's own. */
  function frozenCopy(value) {
    if (value === null || typeof value !== 'object') {
      return value;
    }
    const copy = Array.isArray(value) ? value.map(frozenCopy)
      : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, frozenCopy(item)]));
    return Object.freeze(copy);
  }

  /** Calls an application callback; its failure is logged and does not reach the client. */
  function safeCall(fn, ...args) {
    try {
      const result = fn(...args);
      if (result && typeof result.then === 'function') {
        result.then(null, (error) => console.error('thywill: a handler failed', error));
      }
    } catch (error) {
      console.error('thywill: a handler failed', error);
    }
  }

  /** The visible, dismissable default report of an error nobody else handles. */
  function showErrorBanner(error) {
    let banner = document.querySelector('div.thywill-error');
    if (!banner) {
      banner = document.createElement('div');
      banner.className = 'thywill-error';
      banner.setAttribute('role', 'alert');
      banner.style.cssText = 'position:sticky;top:0;z-index:2147483647;display:flex;'
        + 'align-items:center;gap:1em;padding:.6em 1em;background:#a50e0e;color:#fff;'
        + 'font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif';
      const text = document.createElement('span');
      text.style.flex = '1';
      const close = document.createElement('button');
      close.type = 'button';
      close.textContent = '\u00d7';
      close.setAttribute('aria-label', 'Dismiss');
      close.style.cssText = 'background:none;border:0;color:inherit;font-size:1.5em;'
        + 'line-height:1;cursor:pointer';
      close.addEventListener('click', () => banner.remove());
      banner.append(text, close);
      (document.body || document.documentElement).prepend(banner);
    }
    banner.firstChild.textContent = error.message + ' (' + error.code + ')';
  }

  /**
   * Sending: an ordered queue, at most one POST in flight.
   *
   * Each message is numbered once (seq, from 1 for each client) and keeps its number through
   * retries, so that the server recognises a resent batch (status 'duplicate') and never
   * handles a message twice. canPost() says whether the client is connected: sends made while
   * it is not wait, then go in order. socket() is the open transport that carries sends itself
   * (websocket), or null: then a batch is POSTed. The queue and the numbering are the same
   * whichever way a batch goes, so a batch resent after a switch of transport keeps its seqs.
   * After fail(error) every send is rejected with that error. The numbers are contiguous: a
   * message the server answers 'out_of_order' stays unsettled and is sent again; when the
   * seq it expects is below every message still held, the server forgot the client's record
   * (it keeps it max_age after the last send) and the held messages are renumbered from it.
   */
  function createSender(config, stats, canPost, socket) {
    const limits = config.limits;
    const queue = [];          // {seq, json, rest, bytes, resolve, reject}, in order
    let batch = null;          // the messages of the POST in flight or waiting to be resent
    let posting = false;
    let timer = null;          // the wait before resending
    // A resumed client goes on from the seq its page had reached (documentation/transports.md,
    // "Reloads"): numbered from 1, its messages would be taken for duplicates.
    let nextSeq = Number.isSafeInteger(config.nextSeq) && config.nextSeq > 1 ? config.nextSeq : 1;
    let failure = null;
    let pumpScheduled = false;
    const backoff = createBackoff(limits.reconnectMaxDelay * 1000);
    const envelope = ['{"token":' + JSON.stringify(config.token) + ',"messages":[', ']}'];
    const envelopeBytes = utf8Length(envelope[0] + envelope[1]);

    function failed() {
      return new ThywillError(failure.code, failure.message, {status: failure.status});
    }

    /**
     * Queues data; the Promise settles with the server's result for it. After timeoutMs (when
     * given) without one, it rejects with 'timeout', but the message stays in the queue with its
     * seq: the numbering keeps no gap, and the server may still handle it.
     */
    function send(data, timeoutMs) {
      return new Promise((resolve, reject) => {
        if (failure) {
          reject(failed());
          return;
        }
        const seq = nextSeq;
        let json;
        try {
          json = data === undefined ? undefined : JSON.stringify({seq, data});
        } catch (error) {
          json = undefined;  // a cycle, a BigInt...
        }
        if (json === undefined) {
          reject(new ThywillError('bad_message', 'The message is not a JSON value.'));
          return;
        }
        const bytes = utf8Length(json);
        if (envelopeBytes + bytes > limits.maxMessageBytes) {
          reject(new ThywillError('too_large', 'The message takes ' + (envelopeBytes + bytes)
            + ' bytes to send; the limit is ' + limits.maxMessageBytes + '.'));
          return;
        }
        nextSeq += 1;
        // rest: the JSON after the seq, to renumber the message with.
        const item = {seq, json, rest: json.slice(json.indexOf(',')), bytes, resolve, reject};
        if (timeoutMs !== undefined) {
          const timer = setTimeout(() => reject(new ThywillError('timeout',
            'No answer within ' + timeoutMs + ' ms; the message may still be handled.', {seq})), timeoutMs);
          item.resolve = (value) => {
            clearTimeout(timer);
            resolve(value);
          };
          item.reject = (error) => {
            clearTimeout(timer);
            reject(error);
          };
        }
        queue.push(item);
        schedulePump();
      });
    }

    /** Sends made in the same task share one POST: the pump waits for the end of the task. */
    function schedulePump() {
      if (!pumpScheduled) {
        pumpScheduled = true;
        Promise.resolve().then(() => {
          pumpScheduled = false;
          pump();
        });
      }
    }

    /** Takes from the queue as many messages as one request may carry. */
    function takeBatch() {
      const items = [];
      let bytes = envelopeBytes;
      while (queue.length > 0 && items.length < limits.maxBatch) {
        const added = queue[0].bytes + (items.length > 0 ? 1 : 0);  // 1: the comma
        if (items.length > 0 && bytes + added > limits.maxMessageBytes) {
          break;
        }
        bytes += added;
        items.push(queue.shift());
      }
      return batchOf(items);
    }

    function batchOf(items) {
      return {items, body: envelope[0] + items.map((item) => item.json).join(',') + envelope[1]};
    }

    /**
     * What is left of a batch after an answer that left some of it out_of_order: those
     * messages, sent again. When the server expects a seq below all of them, it forgot the
     * client's record: they and the queue are numbered on from the expected seq.
     */
    function resendLeft(left, expected) {
      const shift = Number.isSafeInteger(expected) && expected >= 1 ? left[0].seq - expected : 0;
      if (shift > 0) {
        for (const item of left.concat(queue)) {
          item.seq -= shift;
          item.json = '{"seq":' + item.seq + item.rest;
          item.bytes = utf8Length(item.json);
        }
        nextSeq -= shift;
      }
      batch = batchOf(left);
    }

    /** Starts the next POST when one may start. */
    function pump() {
      if (failure) {
        const waiting = batch !== null && !posting ? batch.items : [];
        for (const item of waiting.concat(queue.splice(0))) {
          item.reject(failed());
        }
        if (!posting) {
          batch = null;
        }
        return;
      }
      if (posting || timer !== null || !canPost()) {
        return;
      }
      if (batch === null) {
        if (queue.length === 0) {
          return;
        }
        batch = takeBatch();
      }
      post(batch);
    }

    async function post(current) {
      posting = true;
      let settled;
      try {
        settled = await postOnce(current);
      } catch (error) {
        settled = false;  // network error, timeout, an unreadable answer: resend the same batch
      }
      posting = false;
      if (settled) {
        batch = null;
        backoff.reset();
        pump();
      } else if (failure) {
        pump();
      } else {
        timer = setTimeout(retryNow, backoff.next());
      }
    }

    function retryNow() {
      clearTimeout(timer);
      timer = null;
      pump();
    }

    /**
     * One attempt at a batch, over the socket or by POST; true when its messages are settled,
     * false when it must be resent.
     */
    function postOnce(current) {
      const transport = socket();
      if (transport !== null) {
        return transport.send(current.items.map((item) => item.json).join(',')).then((answer) => {
          if (Array.isArray(answer.results)) {
            return settle(current, answer.results);
          }
          const status = typeof answer.status === 'number' ? answer.status : 500;
          if (isRetryableStatus(status) || !isObject(answer.error)) {
            return false;
          }
          refuse(current, new ThywillError(String(answer.error.code), String(answer.error.message),
            {status, fromServer: true}));
          return true;
        });
      }
      const init = {
        method: 'POST',
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': config.csrfToken || ''},
        credentials: 'same-origin',
        cache: 'no-store',
        body: current.body,
      };
      return timedFetch(config.endpoints.send, init, SEND_TIMEOUT_MS, null, async (response) => {
        if (response.ok) {
          const answer = await response.json();
          if (!isObject(answer) || !Array.isArray(answer.results)) {
            return false;
          }
          return settle(current, answer.results);
        }
        if (isRetryableStatus(response.status)) {
          return false;
        }
        refuse(current, await httpError(response));  // a 4xx: the whole batch is refused
        return true;
      });
    }

    function refuse(current, error) {
      for (const item of current.items) {
        item.reject(new ThywillError(error.code, error.message, {status: error.status, seq: item.seq}));
      }
    }

    /** Settles the messages of a batch by their results; false when some must be resent. */
    function settle(current, results) {
      const bySeq = new Map(results.filter(isObject).map((result) => [result.seq, result]));
      const left = [];
      let expected;
      for (const item of current.items) {
        const result = bySeq.get(item.seq);
        if (result && result.status === 'out_of_order') {
          // A message before it has not reached the server: send this one again after it.
          left.push(item);
          expected = expected === undefined ? result.expected : expected;
        } else if (result && (result.status === 'ok' || result.status === 'duplicate')) {
          stats.sent += 1;
          // The handler's return value, when it returned one. A duplicate has none: the answer
          // that carried it was lost, and the server does not keep it.
          item.resolve(result.status === 'ok' ? result.value : undefined);
        } else if (result && result.status === 'error') {
          const reason = result.reason || 'The server could not handle the message.';
          item.reject(new ThywillError('handler_error', reason,
            {seq: item.seq, result, traceId: result.traceId}));
        } else if (result && result.status === 'failed') {
          // fail(reason) in a pipe, hook script or handler: the reason is the application's.
          const reason = result.reason || 'The server refused the message.';
          item.reject(new ThywillError(result.code || 'failed', reason,
            {seq: item.seq, result, retryAfter: result.retryAfter, traceId: result.traceId}));
        } else {
          item.reject(new ThywillError('bad_response', 'The server gave no valid result for this message.',
            {seq: item.seq, result}));
        }
      }
      if (left.length === 0) {
        return true;
      }
      resendLeft(left, expected);
      return false;
    }

    function fail(error) {
      failure = error;
      pump();
    }

    /** The messages still queued, taken out (before any was sent), for adopt(). */
    function handOver() {
      return queue.splice(0);
    }

    /** Queues messages another sender held, numbered on from this one's seq. */
    function adopt(items) {
      for (const item of items) {
        item.seq = nextSeq;
        nextSeq += 1;
        item.json = '{"seq":' + item.seq + item.rest;
        item.bytes = utf8Length(item.json);
        queue.push(item);
      }
      schedulePump();
    }

    return {
      send,
      pump,
      fail,
      retryNow: () => timer !== null && retryNow(),
      nextSeq: () => nextSeq,
      handOver,
      adopt,
    };
  }

  // --- Reloads --------------------------------------------------------------------------------
  // A tab keeps its client across reloads (documentation/transports.md, "Reloads"): the client's
  // id, token, cursor and next seq are kept in sessionStorage, which is the tab's own and survives
  // a reload, under the application's name and the page's address. A record is `live` while its
  // page runs and is cleared on pagehide: a reloaded page finds it clear and resumes the client,
  // while a duplicated tab (the browser copies sessionStorage into it) finds it live and keeps
  // the new client its page was given. The server binds the token to the session: a record
  // carried to another browser is refused there, and the page starts with its new client.

  const STORED_PREFIX = 'thywill.client:';
  // Refusals of a kept client that its page's new client does not meet: another session's,
  // expired, its session ended, or ended by the server.
  const STALE_CLIENT = ['bad_token', 'token_expired', 'session_mismatch', 'session_ended',
    'disconnected'];

  /** The tab's sessionStorage, or null where there is none (a sandboxed frame, storage denied). */
  function tabStorage() {
    try {
      return window.sessionStorage || null;
    } catch (error) {
      return null;
    }
  }

  /**
   * What resuming needs for a client of the `fresh` configuration: its storage key and, when an
   * earlier page of this tab kept a client that no page holds now, that client. Null when the
   * server or the page (`wanted` false) turned resuming off, or the tab has no storage.
   */
  function resumePlan(fresh, wanted) {
    if (!wanted || fresh.resume !== true || tabStorage() === null) {
      return null;
    }
    const key = STORED_PREFIX + fresh.application + ':' + window.location.pathname
      + window.location.search;
    let kept = null;
    try {
      kept = JSON.parse(tabStorage().getItem(key));
    } catch (error) {
      kept = null;
    }
    const usable = isObject(kept) && kept.live === false && typeof kept.clientId === 'string'
      && typeof kept.token === 'string' && typeof kept.cursor === 'string'
      && Number.isSafeInteger(kept.nextSeq) && kept.clientId !== fresh.clientId;
    return {key, fresh, kept: usable ? kept : null};
  }

  /** Keeps `record` under `key` in the tab's storage, or forgets it (null). */
  function keepInTab(key, record) {
    try {
      if (record === null) {
        tabStorage().removeItem(key);
      } else {
        tabStorage().setItem(key, JSON.stringify(record));
      }
    } catch (error) {
      // Storage full or denied: the next page of the tab starts with a new client.
    }
  }

  // --- One connection for the tabs of a browser -----------------------------------------------
  // The tabs of one browser that run the same application share one transport connection
  // (documentation/transports.md, "Shared connections"). The tab that holds the Web Lock
  // `thywill.share:<application>:<endpoint>` leads: it holds the connection, which carries its
  // own client and every other tab's (the protocol's shared connection), and relays to each
  // tab what is that tab's client's, over a BroadcastChannel of its own. The other tabs are
  // members: they join over the BroadcastChannel of the lock's name, saying where their
  // client's cursor stands, receive their client's batches, and send as ever, by POST. Each tab
  // keeps its client, its cursor and its sends: a tab never receives another's messages.
  //
  // A member applies a batch only when it starts where the member's cursor stands (`prev`), so
  // a batch relayed twice, late, or by a leader that has since been replaced is never handed
  // over twice. When the leading tab goes, its lock goes with it and the next tab waiting for
  // the lock leads: the members join it with their cursors, and nothing is lost or repeated.
  // A leader not heard for SHARE_SILENCE_MS (a frozen tab) has its lock taken from it.
  //
  // Where the browser has no Web Locks, the tabs elect their leader over the same
  // BroadcastChannel: a tab that finds no leader claims the lead, and leads unless within
  // SHARE_ELECT_MS a leader answers or a tab of a lower id claims it too; a leader that goes
  // says so (`resign`) and the members elect another. Two leaders that hear each other (a
  // frozen one that woke) settle it the same way: the higher id steps down and joins.

  const SHARE_HEARTBEAT_MS = 15000;  // leader and members say they are there this often
  const SHARE_SILENCE_MS = 150000;   // ... and are taken for gone after this long unheard
  const SHARE_SETTLE_MS = 50;        // joins this close together make one reconnection
  const SHARE_RESYNC_MS = 1000;      // batches that do not follow on for this long: resync
  const SHARE_ELECT_MS = 250;        // (no Web Locks) a claim to lead unanswered this long leads

  /**
   * Whether a client of `config` shares its tab's connection: the server allows it
   * (THYWILL_SHARE_CONNECTIONS), the page did not turn it off (`wanted`), and the browser has
   * BroadcastChannel (without it, each tab connects alone).
   */
  function sharingWanted(config, wanted) {
    return wanted && config.share === true && typeof BroadcastChannel === 'function';
  }

  /** Whether the browser has Web Locks (without them, the tabs elect their leader). */
  function hasWebLocks() {
    return typeof navigator === 'object' && navigator !== null && isObject(navigator.locks)
      && typeof navigator.locks.request === 'function';
  }

  /**
   * The lock's (and the tabs' channel's) name for a configuration: its application, its server,
   * and the transport it forces (tabs that force another transport share another connection).
   */
  function shareName(config) {
    const endpoints = config.endpoints;
    return 'thywill.share:' + config.application + ':' + (config.forcedTransport || '*') + ':'
      + (endpoints.longpoll || endpoints.sse || endpoints.websocket || endpoints.send);
  }

  function randomId() {
    return Math.random().toString(36).slice(2) + Date.now().toString(36);
  }

  /**
   * The sharing of one client's tab. `hooks` are the client's:
   *   identity()               {clientId, token, cursor} of the tab's client now
   *   maxClients()             the most clients one connection may carry
   *   lead()                   this tab now leads: open the connection
   *   follow()                 this tab no longer leads: close the connection
   *   leaderState(s, t)        (member) the leader's connection is s ('connecting',
   *                            'connected', 'reconnecting'), on transport t
   *   relayed(batch)           (member) a batch for this tab's client, {prev, cursor,
   *                            messages, reset}; returns false when it does not follow on
   *   refused(error)           (member) the server refused this tab's client
   *   alone()                  (member) the leader's connection is full: connect alone
   *   membersChanged()         (leader) the members changed: reconnect when connected
   */
  function createShare(name, hooks) {
    const tabId = randomId();
    const locks = hasWebLocks();
    const hub = new BroadcastChannel(name);
    const members = new Map();   // (leader) clientId -> {clientId, token, cursor, seen, outbox}
    let inbox = null;            // (member) this tab's client's batches
    let inboxId = null;
    let leading = false;
    let release = null;          // (leader) lets go of the lock
    let stopped = false;
    let leaderSeen = Date.now();
    let connectionState = {state: 'connecting', transport: null};  // (leader) announced
    let leaderId = null;         // (member) the leading tab heard last
    let beat = null;
    let restartTimer = null;
    let resyncTimer = null;
    let electTimer = null;       // (no Web Locks) this tab's claim to lead is pending

    function post(channel, message) {
      try {
        channel.postMessage(message);
      } catch (error) {
        // A closed channel (the page is going): nobody is left to tell.
      }
    }

    function announce() {
      post(hub, Object.assign({type: 'leader', leader: tabId}, connectionState));
    }

    function join() {
      const identity = hooks.identity();
      if (inboxId !== identity.clientId) {
        if (inbox !== null) {
          inbox.close();
        }
        inboxId = identity.clientId;
        inbox = new BroadcastChannel(name + ':' + inboxId);
        inbox.onmessage = (event) => onInbox(event.data);
      }
      post(hub, Object.assign({type: 'join'}, identity));
    }

    /** Seek the lead: wait for the lock (or take it, `steal`), or, without Web Locks, claim it. */
    function seekLead(steal) {
      if (locks) {
        requestLock(steal);
      } else {
        claimLead();
      }
    }

    function claimLead() {
      if (stopped || leading || electTimer !== null) {
        return;
      }
      post(hub, {type: 'claim', tab: tabId});
      electTimer = setTimeout(() => {
        electTimer = null;
        if (!stopped && !leading) {
          lead();
        }
      }, SHARE_ELECT_MS);
    }

    /** (no Web Locks) Another tab leads or has the better claim: this one does not. */
    function yieldLead() {
      clearTimeout(electTimer);
      electTimer = null;
    }

    function requestLock(steal) {
      navigator.locks.request(name, steal ? {steal: true} : {}, () => {
        if (stopped || leading) {
          return undefined;  // nothing to hold: let go at once
        }
        return new Promise((resolve) => {
          release = resolve;
          lead();
        });
      }).catch((error) => {
        // AbortError: another tab took the lock from this one, whose leading had gone silent.
        if (leading && isAbort(error)) {
          stepDown();
        }
      });
    }

    function lead() {
      leading = true;
      connectionState = {state: 'connecting', transport: null};
      clearTimeout(resyncTimer);
      announce();  // the members join, with their cursors
      setTimeout(() => leading && !stopped && hooks.lead(), SHARE_SETTLE_MS);
    }

    function stepDown() {
      leading = false;
      release = null;
      leaderId = null;
      dropAll();
      hooks.follow();
      leaderSeen = Date.now();
      if (locks) {
        requestLock(false);  // next in line, should the new leader go
      }
      join();
    }

    function dropAll() {
      for (const member of members.values()) {
        member.outbox.close();
      }
      members.clear();
    }

    function onHub(message) {
      if (!isObject(message) || stopped) {
        return;
      }
      if (!locks && onElection(message)) {
        return;
      }
      if (message.type === 'leader' && message.leader !== tabId && !leading) {
        yieldLead();
        leaderSeen = Date.now();
        if (message.leader !== leaderId) {
          leaderId = message.leader;
          join();  // a new leader: tell it where this tab's client stands
        }
        hooks.leaderState(message.state, message.transport);
      } else if (message.type === 'join' && leading) {
        admit(message);
      } else if (message.type === 'leave' && leading) {
        drop(members.get(message.clientId));
      } else if (message.type === 'resync' && leading) {
        const member = members.get(message.clientId);
        if (member && typeof message.cursor === 'string' && member.cursor !== message.cursor) {
          member.cursor = message.cursor;
          scheduleRestart();
        }
      }
    }

    /** (no Web Locks) The election's messages; true when `message` was one of them. */
    function onElection(message) {
      if (message.type === 'claim' && typeof message.tab === 'string') {
        if (leading) {
          announce();  // there is a leader: the claimant joins it
        } else if (electTimer !== null && message.tab < tabId) {
          yieldLead();  // the lower id leads
        }
        return true;
      }
      if (message.type === 'resign') {
        if (!leading && message.leader === leaderId) {
          leaderId = null;
          hooks.leaderState('reconnecting', null);  // until the next leader says otherwise
          claimLead();
        }
        return true;
      }
      if (message.type === 'leader' && leading && message.leader !== tabId) {
        // Two leaders (one was frozen, or two claims crossed): the higher id steps down.
        if (message.leader < tabId) {
          stepDown();
        } else {
          announce();
        }
        return true;
      }
      return false;
    }

    function admit(message) {
      const {clientId, token, cursor} = message;
      if (typeof clientId !== 'string' || typeof token !== 'string' || typeof cursor !== 'string'
          || clientId === hooks.identity().clientId) {
        return;
      }
      const known = members.get(clientId);
      if (known) {
        known.seen = Date.now();  // a member's heartbeat
        return;
      }
      const outbox = new BroadcastChannel(name + ':' + clientId);
      if (members.size + 1 >= hooks.maxClients()) {
        post(outbox, {type: 'full'});
        outbox.close();
        return;
      }
      members.set(clientId, {clientId, token, cursor, seen: Date.now(), outbox});
      announce();  // so that the new member knows the connection's state
      scheduleRestart();
    }

    function drop(member) {
      if (member && members.get(member.clientId) === member) {
        members.delete(member.clientId);
        member.outbox.close();
        scheduleRestart();
      }
    }

    function scheduleRestart() {
      if (restartTimer === null) {
        restartTimer = setTimeout(() => {
          restartTimer = null;
          if (leading && !stopped) {
            hooks.membersChanged();
          }
        }, SHARE_SETTLE_MS);
      }
    }

    function onInbox(message) {
      if (!isObject(message) || stopped || leading) {
        return;
      }
      if (message.type === 'batch') {
        leaderSeen = Date.now();
        if (hooks.relayed(message)) {
          clearTimeout(resyncTimer);
          resyncTimer = null;
        } else if (resyncTimer === null) {
          // Batches that do not follow on from this tab's cursor (a leader that took over
          // while some were on their way) are dropped; if they still do not, the leader is
          // told where the cursor stands.
          resyncTimer = setTimeout(() => {
            resyncTimer = null;
            const {clientId, cursor} = hooks.identity();
            post(hub, {type: 'resync', clientId, cursor});
          }, SHARE_RESYNC_MS);
        }
      } else if (message.type === 'refused' && typeof message.code === 'string') {
        hooks.refused(new ThywillError(message.code, String(message.message),
          {status: message.status, fromServer: true}));
      } else if (message.type === 'full') {
        stop();
        hooks.alone();
      }
    }

    function heartbeat() {
      if (leading) {
        announce();
        const now = Date.now();
        for (const member of members.values()) {
          if (now - member.seen > SHARE_SILENCE_MS) {
            drop(member);
          }
        }
      } else {
        join();
        if (Date.now() - leaderSeen > SHARE_SILENCE_MS) {
          leaderSeen = Date.now();
          leaderId = null;
          seekLead(true);
        }
      }
    }

    function stop() {
      if (stopped) {
        return;
      }
      stopped = true;
      clearInterval(beat);
      clearTimeout(restartTimer);
      clearTimeout(resyncTimer);
      clearTimeout(electTimer);
      if (leading) {
        leading = false;
        dropAll();
        if (locks) {
          release();
        } else {
          post(hub, {type: 'resign', leader: tabId});
        }
      } else {
        post(hub, {type: 'leave', clientId: hooks.identity().clientId});
      }
      hub.close();
      if (inbox !== null) {
        inbox.close();
      }
    }

    hub.onmessage = (event) => onHub(event.data);
    beat = setInterval(heartbeat, SHARE_HEARTBEAT_MS);
    join();
    seekLead(false);

    return {
      get leading() {
        return leading;
      },
      /** (leader) The members, for a new connection to carry (see ctx.members()). */
      members: () => Array.from(members.values()),
      /** (leader) A batch for `member`, from the connection. */
      relay(member, entry) {
        if (members.get(member.clientId) !== member) {
          return;  // it left meanwhile
        }
        post(member.outbox, {type: 'batch', prev: member.cursor, cursor: entry.cursor,
          messages: entry.messages, reset: entry.reset || null});
        member.cursor = entry.cursor;
      },
      /** (leader) The server refused `member`'s client: tell its tab, and carry it no more. */
      refuse(member, error) {
        if (members.get(member.clientId) === member) {
          post(member.outbox, {type: 'refused', code: error.code, message: error.message,
            status: error.status});
          members.delete(member.clientId);
          member.outbox.close();
        }
      },
      /** (leader) The connection's state, for the members. */
      state(state, transport) {
        connectionState = {state, transport};
        announce();
      },
      /** The tab's client changed (a resumed client was refused): join as the new one. */
      rejoin: join,
      stop,
    };
  }

  /**
   * One client: a connection to the server for one configuration, with its own send queue and
   * handlers. `config` is checked (checkConfig) and `candidates` are its transports
   * (chooseCandidates); or `config` is null and `closeError` says why: the client is then
   * closed from the start and reports that error. `resume` (resumePlan) keeps the client for
   * the tab's next page, and resumes the one an earlier page kept, if any; should the server
   * refuse that one before it connects, the client goes on with `config`, its page's own.
   * With `sharing`, the client shares one connection with the other tabs of the browser that
   * run the application (see "One connection for the tabs of a browser" above).
   */
  function createClient(config, candidates, closeError, resume, sharing) {
    const handlers = {ready: [], message: [], error: [], reset: [], state: []};
    const stats = {received: 0, resets: 0, sent: 0};
    let resumed = Boolean(resume && resume.kept);
    if (resumed) {
      const kept = resume.kept;
      config = Object.assign({}, config,
        {clientId: kept.clientId, token: kept.token, cursor: kept.cursor, nextSeq: kept.nextSeq});
    }
    let state = 'connecting';
    let cursor = config ? config.cursor : '';
    let handedCursor = cursor;  // the cursor after what the application has been handed
    let bootstrapped = false;  // a transport has connected once
    let readyDone = false;     // ... and the ready callbacks have been called
    let sender = config ? newSender() : null;
    let share = null;           // the sharing of the tab's connection, when shared
    let leaderTransport = null; // (member) the transport of the leader's connection

    function newSender() {
      return createSender(config, stats, () => state === 'connected', () => {
        const transport = connection !== null ? connection.transport : null;
        return transport !== null && transport.canSend && transport.canSend() ? transport : null;
      });
    }

    // --- Dispatch to the application ------------------------------------------------------------
    // Application scripts load after this one and register their handlers when they run. Until
    // the document has loaded, events are queued in order, so that nothing (the ready call, the
    // first messages, an early error) happens before anyone listens. The transports connect at
    // once all the same.
    let gateOpen = false;
    const pending = [];

    function dispatch(fn) {
      if (gateOpen) {
        fn();
      } else {
        pending.push(fn);
      }
    }

    function openGate() {
      if (gateOpen) {
        return;
      }
      while (pending.length > 0) {  // events queued meanwhile go to the end, keeping order
        pending.shift()();
      }
      gateOpen = true;
    }

    function openGateWhenLoaded() {
      if (document.readyState === 'complete') {
        openGate();
        return;
      }
      // Deferred scripts have all run when DOMContentLoaded fires; one more task lets the
      // applications' own DOMContentLoaded listeners run first.
      const later = () => setTimeout(openGate, 0);
      document.addEventListener('DOMContentLoaded', later, {once: true});
      window.addEventListener('load', later, {once: true});
    }

    function emit(kind, ...args) {
      for (const fn of handlers[kind].slice()) {
        safeCall(fn, ...args);
      }
    }

    /** To the onError handlers, or, when there is none, to the user through the banner. */
    function emitError(report) {
      if (handlers.error.length > 0) {
        emit('error', report);
      } else {
        showErrorBanner(report);
      }
    }

    function reportError(error) {
      const report = {code: error.code, message: error.message};
      dispatch(() => emitError(report));
    }

    function setState(next) {
      if (next === state) {
        return;
      }
      state = next;
      dispatch(() => emit('state', next));
    }

    // --- What transports report ---------------------------------------------------------------
    function deliver(message, nextCursor) {
      // Handed over once, in order; the cursor moves only after, so a reconnection resumes
      // after this message and never brings it again.
      dispatch(() => {
        stats.received += 1;
        emit('message', message.data, {channel: message.channel, id: message.id});
      });
      if (nextCursor !== null && nextCursor !== undefined) {
        setCursor(nextCursor);
      }
    }

    function handleReset(info, nextCursor) {
      const reset = {
        channels: isObject(info) && Array.isArray(info.channels) ? info.channels : [],
        reason: isObject(info) && info.reason ? info.reason : 'history_lost',
      };
      dispatch(() => {
        stats.resets += 1;
        if (handlers.reset.length > 0) {
          emit('reset', reset);
        } else {
          // Never silent: without an onReset handler the loss is reported as an error.
          emitError({
            code: 'history_lost',
            message: 'Some messages were lost before they could be delivered.',
            channels: reset.channels,
          });
        }
      });
      if (nextCursor !== null && nextCursor !== undefined) {
        setCursor(nextCursor);
      }
    }

    function setCursor(next) {
      if (typeof next === 'string') {
        cursor = next;
        dispatch(() => {
          handedCursor = next;
        });
      }
    }

    // --- Kept for the tab's next page (see "Reloads" above) -----------------------------------
    function keep(live) {
      if (resume) {
        keepInTab(resume.key, state === 'closed' ? null : {clientId: config.clientId,
          token: config.token, cursor: handedCursor, nextSeq: sender.nextSeq(), live});
      }
    }

    /** The kept client was refused before it connected: go on with the page's own client. */
    function startAfresh(error) {
      console.warn('thywill: this tab\'s client from its earlier page was refused (' + error.code
        + ': ' + error.message + '); going on with a new client.');
      resumed = false;
      config = resume.fresh;
      cursor = handedCursor = config.cursor;
      publicConfig = frozenCopy(config);
      const held = sender.handOver();  // sends made meanwhile: none has gone out
      sender = newSender();
      sender.adopt(held);
      keep(true);
      if (share !== null && !share.leading) {
        share.rejoin();
        return;
      }
      tried.clear();
      candidateIndex = 0;
      failures = 0;
      openConnection();
    }

    if (resume) {
      keep(true);
      window.addEventListener('pagehide', () => keep(false));
      window.addEventListener('pageshow', (event) => event.persisted && keep(true));
    }

    // --- The reconnection machine, shared by all transports ----------------------------------
    // Negotiation (documentation/transports.md): the candidates are tried in the server's order;
    // one that does not get through is left for the next. The one that connected is kept for the
    // client's life, except that a better one is tried now and then on the side (an upgrade), and
    // that FALLBACK_AFTER failed attempts in a row move on to the next one.
    const reconnectBackoff = createBackoff((config ? config.limits.reconnectMaxDelay : 30) * 1000);
    let candidateIndex = 0;
    const tried = new Set();
    let connection = null;     // {transport, id} of the current attempt
    let connectionId = 0;
    let reconnectTimer = null;
    let failures = 0;          // attempts in a row on this transport that ended in an error
    let upgradeTimer = null;
    let upgradeDelay = UPGRADE_FIRST_MS;
    let probing = false;

    /**
     * The context of one connection attempt, which also carries `members` (the other tabs'
     * clients, when the connection is shared): reports from a stale attempt are ignored.
     */
    function contextFor(id, members) {
      const live = () => connection !== null && connection.id === id;
      return {
        config,
        cursor: () => cursor,
        opened: () => live() && onOpened(),
        deliver: (message, next) => live() && deliver(message, next),
        reset: (info, next) => live() && handleReset(info, next),
        setCursor: (next) => live() && setCursor(next),
        members: () => members,
        relay: (index, entry) => live() && share.relay(members[index - 1], entry),
      };
    }

    function openConnection() {
      const name = candidates[candidateIndex];
      tried.add(name);
      connectionId += 1;
      const id = connectionId;
      const members = share !== null ? share.members() : [];
      const transport = TRANSPORTS[name](contextFor(id, members));
      connection = {transport, id, members};
      transport.start().then(() => onEnded(id, null), (error) => onEnded(id, error));
    }

    /** (leader) The tabs sharing the connection changed: a new connection carries them. */
    function reconnectMembers() {
      if (connection !== null) {
        const current = connection;
        connection = null;
        current.transport.stop();
        openConnection();
      }
      // Otherwise a reconnection is waiting out its backoff: it takes the new members.
    }

    /** The bootstrap is complete: each ready callback runs once, later ones at once. */
    function runReady() {
      readyDone = true;
      for (const fn of handlers.ready.splice(0)) {
        safeCall(fn);
      }
    }

    function onOpened() {
      reconnectBackoff.reset();
      failures = 0;
      if (share !== null) {
        share.state('connected', candidates[candidateIndex]);
      }
      connected();
      scheduleUpgrade();
    }

    /** The client's messages flow: over its own connection, or its leading tab's. */
    function connected() {
      setState('connected');
      if (!bootstrapped) {
        bootstrapped = true;
        dispatch(runReady);
      }
      sender.pump();
    }

    // --- A tab that shares its connection (see createShare) -------------------------------
    let served = false;  // (member) a batch relayed by the leader was handed over

    function shareHooks() {
      return {
        identity: () => ({clientId: config.clientId, token: config.token, cursor}),
        maxClients: () => config.limits.maxClientsPerConnection,
        lead() {
          leaderTransport = null;
          tried.clear();
          candidateIndex = 0;
          failures = 0;
          openConnection();
        },
        follow: stopConnecting,
        leaderState(leaderState, transport) {
          if (leaderState === 'connected') {
            leaderTransport = typeof transport === 'string' ? transport : null;
            connected();
          } else if (state !== 'closed') {
            setState(bootstrapped ? 'reconnecting' : 'connecting');
          }
        },
        relayed: applyRelayed,
        refused(error) {
          if (resumed && !served && STALE_CLIENT.includes(error.code)) {
            startAfresh(error);
          } else {
            close(error);
          }
        },
        alone() {
          share = null;
          openConnection();
        },
        membersChanged: reconnectMembers,
      };
    }

    /** (member) A relayed batch, handed over when it follows on from the cursor. */
    function applyRelayed(batch) {
      if (batch.prev !== cursor || typeof batch.cursor !== 'string' || !Array.isArray(batch.messages)) {
        return false;
      }
      served = true;
      if (batch.reset) {
        handleReset(batch.reset, null);
      }
      for (const message of batch.messages) {
        deliver(message, null);
      }
      setCursor(batch.cursor);
      return true;
    }

    /** Ends the connection and every timer of the reconnection machine. */
    function stopConnecting() {
      if (connection !== null) {
        connection.transport.stop();
        connection = null;
      }
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      clearTimeout(upgradeTimer);
      upgradeTimer = null;
    }

    function onEnded(id, error) {
      if (connection === null || connection.id !== id) {
        return;  // stopped on purpose, or superseded
      }
      const ended = connection;
      ended.transport.stop();
      connection = null;
      if (error && error.index > 0 && error.index <= ended.members.length
          && !isRetryableStatus(error.status)) {
        // One of the other tabs' clients was refused: it is told, and the rest go on.
        share.refuse(ended.members[error.index - 1], error);
        openConnection();
        return;
      }
      failures = error ? failures + 1 : 0;
      const action = nextAction(error);
      if (action === 'close' && resumed && !bootstrapped && STALE_CLIENT.includes(error.code)) {
        startAfresh(error);
        return;
      }
      if (action === 'close') {
        close(error);
        return;
      }
      if (action === 'fallback') {
        candidateIndex = (candidateIndex + 1) % candidates.length;
        failures = 0;
        if (!tried.has(candidates[candidateIndex])) {
          openConnection();  // a transport not tried yet: no reason to wait
          return;
        }
      }
      scheduleReconnect();
    }

    /**
     * What to do after a connection ended: 'retry' (same transport, after a backoff),
     * 'fallback' (the next transport) or 'close' (final). A forced transport never falls back.
     *  - A refusal by thywill itself (4xx with its JSON error or close code: bad_token,
     *    token_expired, ...) is final: trying again or elsewhere would get the same answer.
     *  - A 4xx that is not thywill's (a proxy's) means this transport does not get through.
     *  - So does any other failure (network, timeout, a socket closed at once, a stream that
     *    never opens) until the client has connected once; after that, only FALLBACK_AFTER of
     *    them in a row: a connected client first retries what worked.
     *  - Otherwise (network, 5xx, a connection ended by the server) the same transport reconnects.
     */
    function nextAction(error) {
      const canFallBack = candidates.length > 1;
      if (error && error.status >= 400 && !isRetryableStatus(error.status)) {
        return error.fromServer || !canFallBack ? 'close' : 'fallback';
      }
      if (error && canFallBack && !error.fromServer
          && (!bootstrapped || failures >= FALLBACK_AFTER)) {
        return 'fallback';
      }
      return 'retry';
    }

    /** Connected on a transport worse than the first: try the better ones later, on the side. */
    function scheduleUpgrade() {
      if (candidateIndex === 0 || upgradeTimer !== null || probing) {
        return;
      }
      upgradeTimer = setTimeout(() => {
        upgradeTimer = null;
        probing = true;
        probe(0);
      }, upgradeDelay);
      upgradeDelay = Math.min(2 * upgradeDelay, UPGRADE_MAX_MS);
    }

    /**
     * Opens candidates[index] beside the connection in use, delivering nothing. When it opens,
     * the client moves to it (the new connection resumes from the cursor, so nothing is lost or
     * repeated); when it does not, the next better one is tried, then the next upgrade waits.
     */
    function probe(index) {
      if (state !== 'connected' || index >= candidateIndex) {
        probing = false;
        if (state === 'connected') {
          scheduleUpgrade();
        }
        return;
      }
      let opened = false;
      const trial = TRANSPORTS[candidates[index]]({
        config,
        cursor: () => cursor,
        opened: () => {
          opened = true;
          trial.stop();
        },
        deliver: () => {},
        reset: () => {},
        setCursor: () => {},
        members: () => [],
        relay: () => {},
      });
      const done = () => {
        trial.stop();
        if (opened && state === 'connected' && connection !== null) {
          probing = false;
          const current = connection;
          connection = null;
          current.transport.stop();
          candidateIndex = index;
          failures = 0;
          openConnection();
        } else {
          probe(index + 1);
        }
      };
      trial.start().then(done, done);
    }

    function scheduleReconnect() {
      setState(bootstrapped ? 'reconnecting' : 'connecting');
      if (share !== null) {
        share.state(state, candidates[candidateIndex]);
      }
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        openConnection();
      }, reconnectBackoff.next());
    }

    function close(error) {
      closeError = error;
      if (share !== null) {
        share.stop();
      }
      stopConnecting();
      setState('closed');
      keep(false);  // forgotten: the tab's next page starts with its own client
      reportError(error);
      if (sender) {
        sender.fail(error);  // rejects whatever is still queued, and every later send
      }
    }

    function send(data, options) {
      let timeout;
      try {
        timeout = sendTimeout(options);
      } catch (error) {
        return Promise.reject(error);
      }
      if (!sender) {
        return Promise.reject(new ThywillError(closeError.code, closeError.message));
      }
      return sender.send(data, timeout);
    }

    // The browser knows when the network comes back: no need to sit out the backoff.
    window.addEventListener('online', () => {
      if (reconnectTimer !== null) {
        clearTimeout(reconnectTimer);
        reconnectTimer = null;
        openConnection();
      }
      if (sender) {
        sender.retryNow();
      }
    });

    // A page that goes away for good (closed, reloaded, left; not one the browser keeps in
    // its back-forward cache) says bye, so that its client leaves now rather than when its
    // presence lease lapses. A keepalive request outlives the page; nobody is left to tell
    // if it fails, and the lease still lapses.
    window.addEventListener('pagehide', (event) => {
      if (event.persisted || state === 'closed' || !config || !config.endpoints.bye) {
        return;
      }
      fetch(config.endpoints.bye, {
        method: 'POST',
        keepalive: true,
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': config.csrfToken || ''},
        credentials: 'same-origin',
        cache: 'no-store',
        body: JSON.stringify({token: config.token}),
      }).catch(() => {});
    });

    // --- The client object -------------------------------------------------------------------
    function subscribe(kind) {
      return (fn) => {
        if (typeof fn !== 'function') {
          throw new TypeError('thywill: a handler must be a function');
        }
        handlers[kind].push(fn);
        return () => {
          const index = handlers[kind].indexOf(fn);
          if (index !== -1) {
            handlers[kind].splice(index, 1);
          }
        };
      };
    }

    function ready(fn) {
      if (typeof fn !== 'function') {
        throw new TypeError('thywill: ready() takes a function');
      }
      if (readyDone) {
        Promise.resolve().then(() => safeCall(fn));  // "at once", but never synchronously
      } else {
        handlers.ready.push(fn);
      }
    }

    let publicConfig = frozenCopy(config);

    /**
     * The client, as the application sees it (thywill.d.ts types it: ThywillClient).
     *
     * ready(fn)            fn() once the client has connected for the first time (at once,
     *                      asynchronously, when it already has)
     * send(data, options?) a Promise of the handler's return value (undefined when it returned
     *                      nothing, and for a duplicate); rejects with a ThywillError.
     *                      options.timeout: stop waiting after that many ms (ThywillError
     *                      'timeout'); the message stays queued and may still be handled
     * onMessage(fn)        fn(data, {channel, id}) for each message delivered to the client
     * onError(fn)          fn({code, message}) for errors not tied to a send (without any
     *                      onError handler, they show in a banner at the top of the page)
     * onReset(fn)          fn({channels, reason}) when history was lost (without any onReset
     *                      handler, it goes to onError as 'history_lost')
     * onStateChange(fn)    fn(state) when state changes
     * Each on*(fn) returns a function that removes fn. The properties: clientId, application,
     * transport (in use or being tried), state ('connecting', 'connected', 'reconnecting',
     * 'closed'), cursor, config (frozen), stats ({received, resets, sent}), resumed (whether
     * it is the client of this tab's earlier page, resumed: see "Reloads" above).
     */
    const api = Object.freeze({
      ready,
      send,
      onMessage: subscribe('message'),
      onError: subscribe('error'),
      onReset: subscribe('reset'),
      onStateChange: subscribe('state'),
      get clientId() {
        return config ? config.clientId : null;
      },
      get application() {
        return config ? config.application : null;
      },
      get transport() {
        if (share !== null && !share.leading && leaderTransport !== null) {
          return leaderTransport;
        }
        return candidates.length > 0 ? candidates[candidateIndex] : null;
      },
      // 'leader' (this tab holds the connection the browser's tabs share), 'member' (it
      // receives through the leading tab's), or 'off' (its own connection).
      get sharing() {
        if (share === null) {
          return 'off';
        }
        return share.leading ? 'leader' : 'member';
      },
      get state() {
        return state;
      },
      get cursor() {
        return cursor;
      },
      // The configuration as the server gave it; config.app holds the application's own
      // settings (its client_config()).
      get config() {
        return publicConfig;
      },
      get resumed() {
        return resumed;
      },
      stats,
    });

    // A tab that goes away leaves its shared connection now, not when the leader misses it.
    window.addEventListener('pagehide', (event) => {
      if (!event.persisted && share !== null) {
        share.stop();
      }
    });

    openGateWhenLoaded();
    if (closeError) {
      close(closeError);
    } else if (sharing) {
      share = createShare(shareName(config), shareHooks());
    } else {
      openConnection();
    }
    return api;
  }

  /** The options object of `what`, or {} for none; any name not in `names` is a TypeError. */
  function optionsOf(options, names, what) {
    if (options === undefined) {
      return {};
    }
    if (!isObject(options)) {
      throw new TypeError('thywill: the options of ' + what + ' must be an object');
    }
    for (const name of Object.keys(options)) {
      if (!names.includes(name)) {
        throw new TypeError('thywill: ' + what + ' has no option "' + name + '"');
      }
    }
    return options;
  }

  /** send()'s `timeout` option: undefined, or a positive finite number of milliseconds. */
  function sendTimeout(options) {
    const {timeout} = optionsOf(options, ['timeout'], 'send()');
    if (timeout !== undefined && !(typeof timeout === 'number' && Number.isFinite(timeout) && timeout > 0)) {
      throw new TypeError('thywill: the timeout of send() must be a positive finite number of'
        + ' milliseconds, not ' + String(timeout));
    }
    return timeout;
  }

  // ---------------------------------------------------------------------------------------------
  // 5. The clients of a page
  // ---------------------------------------------------------------------------------------------

  const clients = new Map();  // application name -> the client connect() made for it
  let pageDefault = null;     // defaultClient()'s client, once made

  /**
   * The client of an application: made on the first call, then the same object for every call,
   * until it is closed (after a final refusal, a later call makes a new one).
   *
   * Its configuration is `options.config` when given (the object an application fetched from
   * `POST <prefix><application>/session/`), or else the JSON of the page's element
   * #thywill-config-<application> (what `{% thywill_client "<application>" %}` puts in the
   * page). Each client has its own connection, send queue and handlers. A config given while
   * the application's client is open is ignored: the page keeps the client it has.
   *
   * Unless `options.resume` is false (or the server's THYWILL_RESUME is), the client is kept
   * for the tab's next page of the same address, and resumes the one its earlier page kept
   * (see "Reloads" above): a reload loses no message and is no new client to the server.
   *
   * @param {string} application the application's name, as in its configuration
   * @param {{config?: object, resume?: boolean}} [options]
   * @returns {object} the client (see createClient)
   * @throws {ThywillError} bad_config: no such element, or a configuration that is not valid
   *   or is for another application; bad_transport: none of its transports is usable here
   * @throws {TypeError} an application that is not a non-empty string, or an unknown option
   */
  function connect(application, options) {
    if (typeof application !== 'string' || application === '') {
      throw new TypeError('thywill: connect() takes the name of an application');
    }
    const given = optionsOf(options, ['config', 'resume', 'share'], 'connect()');
    for (const name of ['resume', 'share']) {
      if (given[name] !== undefined && typeof given[name] !== 'boolean') {
        throw new TypeError('thywill: the ' + name + ' option of connect() must be true or false');
      }
    }
    const existing = clients.get(application);
    if (existing !== undefined && existing.state !== 'closed') {
      return existing;
    }
    const id = 'thywill-config-' + application;
    const where = given.config !== undefined ? 'given to connect()' : 'in #' + id;
    const config = given.config !== undefined ? checkConfig(given.config, where) : readConfigElement(id);
    if (config.application !== application) {
      throw new ThywillError('bad_config', 'The thywill configuration ' + where
        + ' is for the application "' + config.application + '", not "' + application + '".');
    }
    const candidates = chooseCandidates(config);
    const client = createClient(config, candidates, null, resumePlan(config, given.resume !== false),
      sharingWanted(config, given.share !== false));
    clients.set(application, client);
    return client;
  }

  /**
   * The page's default client: the one of the configuration in #thywill-config, as the
   * bootstrap page (`<prefix>init/`) has it. Made on the first call, the same object after.
   * It resumes as connect()'s clients do, unless the server turned resuming off.
   * A missing or broken configuration does not throw: the client is closed from the start and
   * reports the error as any client does (onError, or the banner), and its sends reject.
   *
   * @returns {object} the client (see createClient)
   */
  function defaultClient() {
    if (pageDefault === null) {
      let config = null;
      let candidates = [];
      let error = null;
      try {
        config = readConfigElement('thywill-config');
        candidates = chooseCandidates(config);
      } catch (problem) {
        if (!(problem instanceof ThywillError)) {
          throw problem;
        }
        error = problem;
      }
      pageDefault = createClient(config, candidates, error, config ? resumePlan(config, true) : null,
        config !== null && sharingWanted(config, true));
    }
    return pageDefault;
  }

  // === end of module body ===

  // ---------------------------------------------------------------------------------------------
  // 6. The classic script's global
  // ---------------------------------------------------------------------------------------------

  const CLIENT_METHODS = ['ready', 'send', 'onMessage', 'onError', 'onReset', 'onStateChange'];
  const CLIENT_PROPERTIES = ['clientId', 'application', 'transport', 'state', 'cursor', 'config', 'stats',
    'resumed', 'sharing'];

  /**
   * `window.thywill`: connect(), and every member of the page's default client, forwarded to
   * defaultClient(). The default client is made at once when #thywill-config is in the page as
   * this script runs (the bootstrap page: the client connects while the application's scripts
   * load, as it always did); otherwise on first use of one of its members. So a page that only
   * embeds `{% thywill_client %}` configurations, and uses connect(), opens nothing and reports
   * nothing for a default client it never uses.
   */
  function pageGlobal() {
    const global = {connect};
    for (const name of CLIENT_METHODS) {
      global[name] = (...args) => defaultClient()[name](...args);
    }
    for (const name of CLIENT_PROPERTIES) {
      Object.defineProperty(global, name, {enumerable: true, get: () => defaultClient()[name]});
    }
    if (document.getElementById('thywill-config')) {
      defaultClient();
    }
    return Object.freeze(global);
  }

  window.thywill = pageGlobal();
})();

