// The deployment self-test page's verdicts (thywill/static/thywill/selftest.js), in node: the
// script runs, as the page's classic script, in a fresh V8 context (node:vm) with a fake page,
// a scripted fetch() and a scripted WebSocket, so that each verdict, and what it advises, can be
// checked for answers a real proxy gives and the browser tests cannot easily make (a 504, a
// stream delivered in bunches, a clock a minute off, a refusal by thywill itself).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import {readFileSync} from 'node:fs';

const SOURCE = readFileSync(
  new URL('../../thywill/static/thywill/selftest.js', import.meta.url), 'utf8');

const CONFIG = {
  endpoints: {
    websocket: '/thywill/websocket/selftest/', sse: '/thywill/sse/selftest/',
    longpoll: '/thywill/longpoll/selftest/', clock: '/thywill/selftest/clock/',
  },
  transports: ['websocket', 'sse', 'longpoll'],
  limits: {longpollTimeout: 25, sseKeepalive: 15, maxHold: 60},
  sse: {events: 5, interval: 0.05},
  longpollHold: 0.05,
  idle: {longpoll: 30, stream: 20, requested: 0.05},
  clockWarning: 30,
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fakeElement() {
  const element = {
    dataset: {},
    textContent: '',
    className: '',
    parts: {},
    querySelector(selector) {
      element.parts[selector] ||= fakeElement();
      return element.parts[selector];
    },
    append(...parts) {
      element.textContent += parts.map((p) => (typeof p === 'string' ? p : p.textContent)).join('');
    },
  };
  return element;
}

function sseBlock(type, data) {
  return 'event: ' + type + '\ndata: ' + JSON.stringify(data) + '\n\n';
}

/** A Response whose event-stream body arrives in `chunks`, each [delay ms, text]. */
function streamResponse(chunks) {
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async start(controller) {
      for (const [delay, text] of chunks) {
        await sleep(delay);
        controller.enqueue(encoder.encode(text));
      }
      controller.close();
    },
  });
  return new Response(body, {headers: {'content-type': 'text/event-stream'}});
}

/** The stream the self-test's endpoint sends, spaced as it sends it. */
function spacedStream(url) {
  const query = new URL(url).searchParams;
  const count = Number(query.get('events'));
  const interval = Number(query.get('interval')) * 1000;
  const chunks = [[0, ':' + ' '.repeat(2048) + '\n\n' + sseBlock('open', {now: 0})]];
  chunks.push([Number(query.get('idle') || 0) * 1000, '']);
  for (let n = 0; n < count; n += 1) {
    chunks.push([interval, sseBlock('tick', {n})]);
  }
  chunks.push([0, sseBlock('done', {})]);
  return chunks;
}

/** What a proxy that passes everything on answers, with the server `skew` ms off. */
function goodServer(skew = 0) {
  return {
    async clock() {
      return Response.json({now: Date.now() + skew});
    },
    async longpoll(url) {
      const hold = Number(new URL(url).searchParams.get('hold'));
      await sleep(hold * 1000);
      return Response.json({held: hold, drained: false});
    },
    async sse(url) {
      return streamResponse(spacedStream(url));
    },
    socket: 'echo',
  };
}

/** A WebSocket class that plays `behaviour`: 'echo', 'refuse' or 'origin'. */
function fakeSocketClass(behaviour) {
  return class FakeWebSocket {
    constructor(url) {
      this.url = url;
      const idle = Number(new URL(url).searchParams.get('idle') || 0);
      setTimeout(() => {
        if (behaviour === 'refuse') {
          this.onclose({code: 1006});
          return;
        }
        this.onmessage({data: JSON.stringify({type: 'open'})});
        if (behaviour === 'origin') {
          const error = {code: 'bad_origin', message: 'The origin may not open this socket.'};
          this.onmessage({data: JSON.stringify({type: 'error', error})});
          this.onclose({code: 4403});
        } else if (idle) {
          setTimeout(() => this.onmessage({data: JSON.stringify({type: 'idle'})}), idle * 1000);
        }
      }, 5);
    }

    send(data) {
      setTimeout(() => this.onmessage({data: JSON.stringify({type: 'echo', data})}), 5);
    }

    close() {}
  };
}

/** Run the page's script against `server`; resolve with its results and summary. */
async function runPage(server, config = CONFIG) {
  const elements = {
    'thywill-selftest-config': {textContent: JSON.stringify(config)},
  };
  const document = {
    getElementById(id) {
      elements[id] ||= fakeElement();
      return elements[id];
    },
    createElement() {
      return fakeElement();
    },
  };
  const origin = 'https://chat.example.com';
  const fetch = async (url) => {
    const path = new URL(url, origin).pathname;
    const name = Object.keys(config.endpoints).find((key) => config.endpoints[key] === path);
    return server[name](new URL(url, origin).toString());
  };
  const context = {
    document, fetch, URL, AbortController, TextDecoder, performance, setTimeout,
    clearTimeout, console, WebSocket: fakeSocketClass(server.socket),
    location: {href: origin + '/thywill/selftest/', origin},
  };
  context.window = context;
  vm.createContext(context);
  vm.runInContext(SOURCE, context);
  for (let i = 0; i < 400 && !context.thywillSelftest.done; i += 1) {
    await sleep(10);
  }
  assert.ok(context.thywillSelftest.done, 'the checks end within 4 s');
  assert.equal(context.thywillSelftest.error, undefined);
  const summary = elements['selftest-summary'];
  return {
    results: JSON.parse(JSON.stringify(context.thywillSelftest.results)),
    summary: {status: summary.dataset.status, text: summary.textContent},
    shown: (name) => elements['check-' + name],
  };
}

function statuses(results) {
  return Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.status]));
}

test('a way that passes everything is all clear, and the page shows each verdict', async () => {
  const {results, summary, shown} = await runPage(goodServer());
  assert.deepEqual(statuses(results), {
    clock: 'ok', websocket: 'ok', sse: 'ok', longpoll: 'ok', idle: 'ok',
  });
  assert.deepEqual(summary, {status: 'ok', text: 'All clear: every check passed.'});
  assert.equal(shown('sse').dataset.status, 'ok');
  assert.equal(shown('sse').parts['.verdict'].textContent, results.sse.verdict);
  assert.match(results.idle.verdict, /a long-poll 0.05 s, an event stream 0.05 s, a WebSocket/);
  assert.match(results.idle.verdict, /shorter than/);
});

test('a clock a minute off is a warning that names NTP', async () => {
  const {results, summary} = await runPage(goodServer(60000));
  assert.equal(results.clock.status, 'warn');
  assert.match(results.clock.verdict, /^The server's clock is 60\.\d s ahead of this browser's/);
  assert.match(results.clock.advice, /NTP/);
  assert.match(results.clock.advice, /deployment\.md#the-clock-check/);
  assert.equal(summary.text, '1 warning: see below.');
});

test('an event stream delivered in bunches is a warning, all at the end a problem', async () => {
  const bunched = goodServer();
  bunched.sse = async (url) => {
    const chunks = spacedStream(url);
    // The open event at once, every tick together 40% of the way through the 0.5 s.
    const ticks = chunks.slice(1).map(([, text]) => text).join('');
    return streamResponse([chunks[0], [200, ticks]]);
  };
  const warned = await runPage(bunched, {...CONFIG, sse: {events: 5, interval: 0.1}});
  assert.equal(warned.results.sse.status, 'warn');
  assert.match(warned.results.sse.verdict, /arrived bunched together/);
  assert.match(warned.results.sse.advice, /proxy_buffering off;/);

  const buffered = goodServer();
  buffered.sse = async (url) => {
    const text = spacedStream(url).map(([, chunk]) => chunk).join('');
    return streamResponse([[300, text]]);
  };
  const failed = await runPage(buffered);
  assert.equal(failed.results.sse.status, 'fail');
  assert.match(failed.results.sse.verdict, /arrived all at once at the end/);
});

test('a proxy answering 504 in place of thywill fails the long-poll and idle checks', async () => {
  const server = goodServer();
  server.longpoll = async () => new Response('<html>504 Gateway Time-out</html>', {status: 504});
  const {results} = await runPage(server);
  assert.equal(results.longpoll.status, 'fail');
  assert.match(results.longpoll.verdict, /was answered 504 after .* by something other than thywill/);
  assert.equal(results.idle.status, 'fail');
  assert.match(results.idle.verdict, /A silent long-poll held 0.05 s was answered 504/);
  assert.match(results.idle.advice, /proxy_read_timeout 60s;/);
  assert.match(results.idle.advice, /THYWILL_LIMITS\["LONGPOLL_TIMEOUT"\] is 25 s/);
});

test('a stream cut before it ends fails the event-stream check', async () => {
  const server = goodServer();
  server.sse = async (url) => streamResponse(spacedStream(url).slice(0, 3));
  const {results} = await runPage(server);
  assert.equal(results.sse.status, 'fail');
  assert.match(results.sse.verdict, /^1 event of 5 arrived, then the stream was cut/);
});

test('a refused upgrade fails, or only warns when no client uses WebSocket', async () => {
  const server = {...goodServer(), socket: 'refuse'};
  const used = await runPage(server);
  assert.equal(used.results.websocket.status, 'fail');
  assert.match(used.results.websocket.verdict, /refused before it opened \(close code 1006\)/);
  assert.match(used.results.websocket.advice, /proxy_set_header Upgrade \$http_upgrade;/);
  assert.equal(used.results.idle.status, 'ok');
  assert.doesNotMatch(used.results.idle.verdict, /WebSocket/);  // not tried

  const unused = await runPage(server, {...CONFIG, transports: ['sse', 'longpoll']});
  assert.equal(unused.results.websocket.status, 'warn');
  assert.match(unused.results.websocket.verdict, /not in THYWILL_TRANSPORTS/);
});

test('a socket refused by thywill for its origin says to trust the public origin', async () => {
  const {results} = await runPage({...goodServer(), socket: 'origin'});
  assert.equal(results.websocket.status, 'fail');
  assert.match(results.websocket.verdict, /thywill refused the self-test socket \(bad_origin/);
  assert.match(results.websocket.advice, /CSRF_TRUSTED_ORIGINS/);
  assert.match(results.websocket.advice, /https:\/\/chat\.example\.com/);
});
