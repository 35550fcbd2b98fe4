// Test harness for thywill/static/thywill/thywill.js: loads it, as a page's classic script, in a
// fresh V8 context (node:vm) with a fake page, a scripted fetch() and a fake clock, so that the
// client's behaviour can be checked without a server or a browser. (Its ES module build,
// thywill.mjs, is imported as it is by the tests that need no page.)
import vm from 'node:vm';
import {readFileSync} from 'node:fs';

const SOURCE = readFileSync(new URL('../../thywill/static/thywill/thywill.js', import.meta.url), 'utf8');

export const BASE_CONFIG = {
  clientId: 'Qx3abcdefghijklmnopqrs',
  token: 'tok',
  application: 'echo',
  cursor: '',
  transports: ['sse', 'longpoll'],
  forcedTransport: null,
  csrfToken: 'csrf',
  endpoints: {send: '/thywill/send/', sse: '/thywill/sse/', longpoll: '/thywill/longpoll/'},
  limits: {maxMessageBytes: 65536, maxBatch: 100, longpollTimeout: 25.0, sseKeepalive: 15.0,
    reconnectMaxDelay: 30.0},
  app: {board: 3},
};

/** Lets every pending promise chain run (the fake fetch has no real I/O). */
export async function settle(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A clock whose setTimeout only fires when the test advances time. */
export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.nextId = 1;
    this.setTimeout = (fn, ms = 0) => {
      const id = this.nextId++;
      this.timers.set(id, {at: this.now + Math.max(0, ms), fn});
      return id;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
  }

  /** Moves time forward by ms, firing due timers in order and settling promises after each. */
  async advance(ms) {
    const end = this.now + ms;
    await settle();
    for (;;) {
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next[1].at)) {
          next = [id, timer];
        }
      }
      if (next === null) {
        break;
      }
      this.timers.delete(next[0]);
      this.now = next[1].at;
      next[1].fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

function abortError() {
  return new DOMException('The operation was aborted.', 'AbortError');
}

/**
 * A streamed answer the test writes to: {response, write(text), close(), fail()}.
 * Aborting the request errors the stream, as fetch() does.
 */
export function streamedResponse(init = {}) {
  let controller;
  const encoder = new TextEncoder();
  const body = new ReadableStream({start: (c) => { controller = c; }});
  const response = new Response(body, {
    status: 200,
    headers: {'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache'},
    ...init,
  });
  const stream = {
    response,
    closed: false,
    write(text) {
      if (!stream.closed) {
        controller.enqueue(encoder.encode(text));
      }
    },
    close() {
      if (!stream.closed) {
        stream.closed = true;
        controller.close();
      }
    },
    fail(error = new TypeError('network error')) {
      if (!stream.closed) {
        stream.closed = true;
        controller.error(error);
      }
    },
  };
  return stream;
}

export function jsonResponse(status, body) {
  return new Response(JSON.stringify(body), {status, headers: {'Content-Type': 'application/json'}});
}

export function errorResponse(status, code, message = code) {
  return jsonResponse(status, {error: {code, message}});
}

/**
 * The page's WebSocket class, scripted by the test: every socket the page opens is appended
 * to `sockets`. It opens by itself (`onopen`, in a microtask, as a browser's does once the
 * handshake is done). The test plays the server with frame(object), serverClose(code, reason)
 * and drop() (the network fails: close 1006); `sent` holds the frames the page sent, parsed.
 */
function webSocketClass(sockets) {
  return class FakeWebSocket {
    constructor(url) {
      this.url = new URL(url);
      this.sent = [];
      this.closedByPage = false;
      this.closed = false;
      sockets.push(this);
      queueMicrotask(() => {
        if (!this.closed && this.onopen) {
          this.onopen({});
        }
      });
    }

    send(text) {
      if (this.closed) {
        throw new Error('send() on a closed socket');
      }
      this.sent.push(JSON.parse(text));
    }

    close() {
      this.closedByPage = true;
      this.closed = true;
    }

    frame(value) {
      if (!this.closed && this.onmessage) {
        this.onmessage({data: typeof value === 'string' ? value : JSON.stringify(value)});
      }
    }

    serverClose(code, reason = '') {
      if (!this.closed) {
        this.closed = true;
        if (this.onclose) {
          this.onclose({code, reason, wasClean: code !== 1006});
        }
      }
    }

    drop() {
      this.serverClose(1006);
    }
  };
}

/** One SSE event as the server writes it. */
export function sseEvent(type, data, id) {
  return 'event: ' + type + '\n' + (id === undefined ? '' : 'id: ' + id + '\n')
    + 'data: ' + JSON.stringify(data) + '\n\n';
}

/**
 * A page running thywill.js. `config` is the JSON of its #thywill-config element (none when
 * null); `elements` maps the ids of more configuration elements (`thywill-config-<app>`) to
 * their JSON. `route(request)` answers each fetch: request is
 * {url (URL), path, params, method, headers, body (parsed JSON or null), signal}; it returns
 * a Response, a streamedResponse() object, a Promise of either, or throws (network error).
 * `sessionStorage` is the tab's (a FakeStorage), none when undefined.
 * Returns {thywill, requests, sockets, clock, window, document, banners, consoleErrors,
 * consoleWarnings,
 * fire(target, type)}; `sockets` are the page's WebSockets (see webSocketClass).
 */
export function createPage({
  config = BASE_CONFIG, elements = {}, route, readyState = 'complete', random = 0.5,
  sessionStorage = undefined,
} = {}) {
  const clock = new FakeClock();
  const requests = [];
  const listeners = {window: new Map(), document: new Map()};
  const banners = [];
  const consoleErrors = [];
  const consoleWarnings = [];
  const sockets = [];

  const addListener = (where) => (type, fn) => {
    if (!listeners[where].has(type)) {
      listeners[where].set(type, []);
    }
    listeners[where].get(type).push(fn);
  };

  const configElements = new Map(Object.entries(elements).map(
    ([id, value]) => [id, {textContent: JSON.stringify(value)}]));
  if (config !== null) {
    configElements.set('thywill-config', {textContent: JSON.stringify(config)});
  }
  const document = {
    readyState,
    getElementById: (id) => configElements.get(id) || null,
    addEventListener: addListener('document'),
    querySelector: () => banners.find((banner) => !banner.removed) || null,
    createElement: (tag) => fakeElement(tag),
    documentElement: null,
  };
  document.body = fakeElement('body');
  document.body.prepend = (element) => banners.push(element);

  async function fetch(input, init = {}) {
    const url = new URL(input, 'https://example.test');
    const request = {
      url,
      path: url.pathname,
      params: Object.fromEntries(url.searchParams),
      method: init.method || 'GET',
      headers: init.headers || {},
      body: init.body ? JSON.parse(init.body) : null,
      rawBody: init.body || null,
      signal: init.signal,
      init,
    };
    requests.push(request);
    if (init.signal && init.signal.aborted) {
      throw abortError();
    }
    const answer = await new Promise((resolve, reject) => {
      if (init.signal) {
        init.signal.addEventListener('abort', () => reject(abortError()));
      }
      Promise.resolve().then(() => route(request)).then(resolve, reject);
    });
    const response = answer instanceof Response ? answer : answer.response;
    if (!(answer instanceof Response) && init.signal) {
      init.signal.addEventListener('abort', () => answer.fail(abortError()));
    }
    return response;
  }

  const sandbox = {
    console: {
      log: console.log,
      warn: (...args) => consoleWarnings.push(args),
      error: (...args) => consoleErrors.push(args),
    },
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    queueMicrotask,
    TextEncoder,
    TextDecoder,
    AbortController,
    URLSearchParams,
    URL,
    DOMException,
    WebSocket: webSocketClass(sockets),
    location: {href: 'https://example.test/thywill/init/', pathname: '/thywill/init/', search: ''},
    sessionStorage,
    fetch,
    document,
    addEventListener: addListener('window'),
  };
  sandbox.window = sandbox;
  vm.createContext(sandbox);
  vm.runInContext('Math.random = () => ' + random + ';', sandbox);
  vm.runInContext(SOURCE, sandbox, {filename: 'thywill.js'});

  return {
    thywill: sandbox.thywill,
    window: sandbox,
    document,
    requests,
    sockets,
    clock,
    banners,
    consoleErrors,
    consoleWarnings,
    fire(where, type) {
      for (const fn of listeners[where].get(type) || []) {
        fn({type});
      }
    },
  };
}

/** The sessionStorage of a tab; copy() is what a browser gives a duplicated tab. */
export class FakeStorage {
  constructor(entries = []) {
    this.items = new Map(entries);
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }

  copy() {
    return new FakeStorage(this.items);
  }
}

function fakeElement(tag) {
  const element = {
    tag,
    children: [],
    attributes: {},
    style: {},
    textContent: '',
    removed: false,
    listeners: {},
    setAttribute(name, value) {
      element.attributes[name] = value;
    },
    append(...children) {
      element.children.push(...children);
    },
    addEventListener(type, fn) {
      element.listeners[type] = fn;
    },
    remove() {
      element.removed = true;
    },
    get firstChild() {
      return element.children[0];
    },
  };
  return element;
}

/** A copy made of this realm's objects (the page's have another Object.prototype). */
export function plain(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** Records what the page's application sees. */
export function recorder(thywill) {
  const seen = {messages: [], errors: [], resets: [], states: [], ready: 0};
  thywill.onMessage((data, meta) => seen.messages.push(plain({data, meta})));
  thywill.onError((error) => seen.errors.push(plain(error)));
  thywill.onReset((reset) => seen.resets.push(plain(reset)));
  thywill.onStateChange((state) => seen.states.push(state));
  thywill.ready(() => {
    seen.ready += 1;
  });
  return seen;
}
