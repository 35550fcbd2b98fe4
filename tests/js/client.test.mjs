// Behaviour of the thywill client (thywill/static/thywill/thywill.js) against a scripted fake server:
// transports, reconnection, fallback, errors, resets and the send queue.
// Run with: node --test tests/js/
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_CONFIG, createPage, errorResponse, jsonResponse, plain, recorder, settle, sseEvent, streamedResponse,
} from './harness.mjs';

const MESSAGE = (n) => ({channel: 'client:Qx3', id: 'e.' + n, data: {text: 'm' + n}});

function withConfig(changes) {
  return {...BASE_CONFIG, ...changes, limits: {...BASE_CONFIG.limits, ...(changes.limits || {})}};
}

/** A fake server whose SSE requests each get a new stream, kept in `streams`. */
function sseServer(extra = {}) {
  const streams = [];
  const server = {
    streams,
    posts: [],
    answerPost: (request) => jsonResponse(200, {
      results: request.body.messages.map((m) => ({seq: m.seq, status: 'ok'})),
    }),
    route(request) {
      if (request.path === '/thywill/sse/') {
        if (extra.sse) {
          return extra.sse(request);
        }
        const stream = streamedResponse();
        streams.push(stream);
        return stream;
      }
      if (request.path === '/thywill/send/') {
        server.posts.push(request);
        return server.answerPost(request);
      }
      if (request.path === '/thywill/longpoll/' && extra.longpoll) {
        return extra.longpoll(request);
      }
      throw new TypeError('no route for ' + request.path);
    },
  };
  return server;
}

async function openedSsePage(options = {}) {
  const server = sseServer(options.extra);
  const page = createPage({route: server.route, ...options.page});
  const seen = recorder(page.thywill);
  await settle();
  server.streams[0].write(':' + ' '.repeat(2048) + '\n\n' + sseEvent('open', {cursor: 'c0'}, 'c0'));
  await settle();
  return {server, page, seen, thywill: page.thywill};
}

test('sse: connects, delivers messages with their meta, follows the cursor', async () => {
  const {server, page, seen, thywill} = await openedSsePage();
  const [request] = page.requests;
  assert.equal(request.path, '/thywill/sse/');
  assert.deepEqual(request.params, {cursor: ''});  // never the token: URLs are logged
  assert.equal(request.headers.Accept, 'text/event-stream');
  assert.equal(request.headers['X-Thywill-Token'], 'tok');
  assert.equal(request.headers['Last-Event-ID'], undefined);
  assert.equal(thywill.state, 'connected');
  assert.equal(thywill.transport, 'sse');
  assert.equal(thywill.clientId, BASE_CONFIG.clientId);
  assert.equal(thywill.application, 'echo');
  assert.deepEqual(plain(thywill.config.app), {board: 3});
  assert.ok(Object.isFrozen(thywill.config.app));
  assert.equal(seen.ready, 1);
  assert.deepEqual(seen.states, ['connected']);

  server.streams[0].write(sseEvent('message', MESSAGE(1), 'c1') + sseEvent('keepalive', {}));
  server.streams[0].write(sseEvent('message', MESSAGE(2), 'c2').slice(0, 20));
  await settle();
  assert.deepEqual(seen.messages, [{data: {text: 'm1'}, meta: {channel: 'client:Qx3', id: 'e.1'}}]);
  assert.equal(thywill.cursor, 'c1');
  server.streams[0].write(sseEvent('message', MESSAGE(2), 'c2').slice(20));
  await settle();
  assert.equal(seen.messages.length, 2);
  assert.equal(thywill.cursor, 'c2');
  assert.equal(thywill.stats.received, 2);
});

test('sse: a broken stream reconnects from the cursor, without delivering twice', async () => {
  const {server, page, seen, thywill} = await openedSsePage();
  server.streams[0].write(sseEvent('message', MESSAGE(1), 'c1'));
  await settle();
  server.streams[0].fail();
  await settle();
  assert.equal(thywill.state, 'reconnecting');
  await page.clock.advance(250);
  const again = page.requests.at(-1);
  assert.equal(again.headers['Last-Event-ID'], 'c1');
  assert.equal(again.params.cursor, 'c1');
  server.streams[1].write(sseEvent('open', {cursor: 'c1'}, 'c1') + sseEvent('message', MESSAGE(2), 'c2'));
  await settle();
  assert.equal(thywill.state, 'connected');
  assert.deepEqual(seen.messages.map((m) => m.meta.id), ['e.1', 'e.2']);
  assert.deepEqual(seen.states, ['connected', 'reconnecting', 'connected']);
  assert.equal(seen.ready, 1, 'ready is called once');
});

test('sse: a stream the server ends is reopened at once, on the same transport', async () => {
  const {server, page, thywill} = await openedSsePage();
  server.streams[0].close();
  await settle();
  await page.clock.advance(250);
  assert.equal(server.streams.length, 2);
  server.streams[1].write(sseEvent('open', {cursor: 'c0'}, 'c0'));
  await settle();
  assert.equal(thywill.state, 'connected');
  assert.equal(thywill.transport, 'sse');
});

test('sse: no open within 5 s falls back to longpoll, which connects with wait=0', async () => {
  const polls = [];
  const server = sseServer({
    longpoll(request) {
      polls.push(request);
      if (polls.length === 1) {
        return jsonResponse(200, {messages: [MESSAGE(1), MESSAGE(2)], cursor: 'c2', reset: null});
      }
      return new Promise(() => {});  // the second poll waits
    },
  });
  const page = createPage({route: server.route});
  const seen = recorder(page.thywill);
  await settle();
  server.streams[0].write(':' + ' '.repeat(2048) + '\n\n');  // a buffering proxy: nothing more
  await page.clock.advance(4999);
  assert.equal(polls.length, 0);
  await page.clock.advance(1);
  assert.equal(server.streams[0].closed, true, 'the stalled stream is aborted');
  assert.equal(page.thywill.transport, 'longpoll');
  assert.equal(page.thywill.state, 'connected');
  assert.deepEqual(polls[0].params, {cursor: '', wait: '0'});
  assert.deepEqual(polls[1].params, {cursor: 'c2'});
  assert.ok(polls.every((poll) => poll.headers['X-Thywill-Token'] === 'tok'));
  assert.deepEqual(seen.messages.map((m) => m.data.text), ['m1', 'm2']);
  assert.equal(page.thywill.cursor, 'c2');
  assert.equal(seen.ready, 1);
});

test('sse: silence after open (no keepalive for 2*sseKeepalive+5 s) reconnects with sse', async () => {
  const {server, page, thywill} = await openedSsePage();
  await page.clock.advance(30000);
  server.streams[0].write(sseEvent('keepalive', {}));  // re-arms the watchdog
  await page.clock.advance(34999);
  assert.equal(server.streams.length, 1);
  await page.clock.advance(1);
  assert.equal(thywill.state, 'reconnecting');
  await page.clock.advance(250);
  assert.equal(server.streams.length, 2);
  assert.equal(thywill.transport, 'sse', 'no fallback once sse has worked');
});

test('sse: an answer that is not an event stream falls back to longpoll', async () => {
  const server = sseServer({
    sse: () => new Response('<html>portal</html>', {status: 200, headers: {'Content-Type': 'text/html'}}),
    longpoll: (request) => (request.params.wait === '0'
      ? jsonResponse(200, {messages: [], cursor: 'c0', reset: null}) : new Promise(() => {})),
  });
  const page = createPage({route: server.route});
  await settle();
  assert.equal(page.thywill.transport, 'longpoll');
  assert.equal(page.thywill.state, 'connected');
});

test('a 403 from thywill is final: closed, onError, sends rejected', async () => {
  const server = sseServer({sse: () => errorResponse(403, 'token_expired', 'The token has expired.')});
  const page = createPage({route: server.route});
  const seen = recorder(page.thywill);
  const sending = assert.rejects(page.thywill.send('x'), {code: 'token_expired', message: 'The token has expired.'});
  await settle();
  assert.equal(page.thywill.state, 'closed');
  assert.deepEqual(seen.errors, [{code: 'token_expired', message: 'The token has expired.'}]);
  assert.deepEqual(seen.states, ['closed']);
  await sending;
  await assert.rejects(page.thywill.send('y'), {code: 'token_expired'});
  await page.clock.advance(60000);
  assert.equal(page.requests.length, 1, 'no retry, no fallback');
  assert.equal(seen.ready, 0);
});

test('without an onError handler, an error shows a dismissable banner', async () => {
  const server = sseServer({sse: () => errorResponse(403, 'bad_token', 'The token is bad.')});
  const page = createPage({route: server.route});
  await settle();
  assert.equal(page.banners.length, 1);
  const banner = page.banners[0];
  assert.equal(banner.className, 'thywill-error');
  assert.equal(banner.attributes.role, 'alert');
  assert.match(banner.children[0].textContent, /The token is bad/);
  banner.children[1].listeners.click();
  assert.equal(banner.removed, true);
});

test('a bad configuration closes the client and says so', async () => {
  const page = createPage({config: null, route: () => { throw new Error('no request expected'); }});
  await settle();
  assert.equal(page.thywill.state, 'closed');
  assert.equal(page.requests.length, 0);
  assert.equal(page.banners.length, 1);
  await assert.rejects(page.thywill.send('x'), {code: 'bad_config'});
});

test('reset: onReset is called, then the messages that follow', async () => {
  const {server, seen, thywill} = await openedSsePage();
  server.streams[0].write(sseEvent('reset', {channels: ['client:Qx3'], reason: 'history_lost'}, 'c5')
    + sseEvent('message', MESSAGE(6), 'c6'));
  await settle();
  assert.deepEqual(seen.resets, [{channels: ['client:Qx3'], reason: 'history_lost'}]);
  assert.deepEqual(seen.errors, []);
  assert.equal(seen.messages.length, 1);
  assert.equal(thywill.stats.resets, 1);
  assert.equal(thywill.cursor, 'c6');
});

test('reset without onReset goes to onError as history_lost', async () => {
  const server = sseServer();
  const page = createPage({route: server.route});
  const errors = [];
  page.thywill.onError((error) => errors.push(error));
  await settle();
  server.streams[0].write(sseEvent('open', {cursor: ''}, '')
    + sseEvent('reset', {channels: ['client:Qx3'], reason: 'history_lost'}, 'c5'));
  await settle();
  assert.equal(errors.length, 1);
  assert.equal(errors[0].code, 'history_lost');
  assert.deepEqual(plain(errors[0].channels), ['client:Qx3']);
});

test('longpoll (forced): reset, messages in order, cursor; a timeout retries; no fallback', async () => {
  const polls = [];
  const page = createPage({
    config: withConfig({forcedTransport: 'longpoll'}),
    route(request) {
      polls.push(request);
      if (polls.length === 1) {
        return jsonResponse(200, {messages: [MESSAGE(1)], cursor: 'c1',
          reset: {channels: ['client:Qx3'], reason: 'history_lost'}});
      }
      if (polls.length === 2) {
        return new Promise(() => {});  // hangs: aborted after longpollTimeout + 10 s
      }
      if (polls.length === 3) {
        return errorResponse(503, 'unavailable');
      }
      if (polls.length === 4) {
        return jsonResponse(200, {messages: [], cursor: 'c1', reset: null});
      }
      return new Promise(() => {});
    },
  });
  const seen = recorder(page.thywill);
  await settle();
  assert.equal(page.thywill.transport, 'longpoll');
  assert.equal(page.thywill.state, 'connected');
  assert.equal(seen.resets.length, 1);
  assert.deepEqual(seen.messages.map((m) => m.data.text), ['m1']);
  assert.equal(page.thywill.cursor, 'c1');
  assert.equal(polls[1].params.wait, undefined);
  await page.clock.advance(34999);
  assert.equal(polls.length, 2);
  await page.clock.advance(1);
  assert.equal(polls[1].signal.aborted, true);
  assert.equal(page.thywill.state, 'reconnecting');
  await page.clock.advance(125);  // random() is 0.5: waits are half the backoff ceiling
  assert.equal(polls.length, 3);  // 503: retried after a longer wait
  await page.clock.advance(249);
  assert.equal(polls.length, 3);
  await page.clock.advance(1);
  assert.equal(polls.length, 5);  // a new connection (wait=0), then the next poll at once
  assert.deepEqual(polls[3].params, {cursor: 'c1', wait: '0'});
  assert.deepEqual(polls[4].params, {cursor: 'c1'});
  assert.equal(page.thywill.state, 'connected');
  assert.ok(polls.every((request) => request.path === '/thywill/longpoll/'));
});

test('send: queued while connecting, then one POST carrying them in order', async () => {
  const server = sseServer();
  const page = createPage({route: server.route});
  const results = [page.thywill.send({text: 'a'}), page.thywill.send('b'), page.thywill.send(3)];
  await settle();
  assert.equal(server.posts.length, 0, 'nothing is sent before the connection');
  server.streams[0].write(sseEvent('open', {cursor: ''}, ''));
  await settle();
  assert.equal(server.posts.length, 1);
  const [post] = server.posts;
  assert.equal(post.method, 'POST');
  assert.equal(post.headers['Content-Type'], 'application/json');
  assert.equal(post.headers['X-CSRFToken'], 'csrf');
  assert.equal(post.init.credentials, 'same-origin');
  assert.deepEqual(post.body, {token: 'tok', messages: [
    {seq: 1, data: {text: 'a'}}, {seq: 2, data: 'b'}, {seq: 3, data: 3}]});
  assert.deepEqual(await Promise.all(results), [undefined, undefined, undefined],
    'a handler that returns nothing: no value');
  assert.equal(page.thywill.stats.sent, 3);
});

test('send: one POST at a time; a 5xx or network error resends the same batch', async () => {
  const {server, page, thywill} = await openedSsePage();
  let failures = 2;
  server.answerPost = (request) => {
    if (failures === 2) {
      failures -= 1;
      return errorResponse(503, 'unavailable');
    }
    if (failures === 1) {
      failures -= 1;
      throw new TypeError('network down');
    }
    return jsonResponse(200, {results: request.body.messages.map((m) => ({seq: m.seq, status: 'duplicate'}))});
  };
  const first = thywill.send('a');
  const second = thywill.send('b');  // same task: same POST
  await settle();
  assert.equal(server.posts.length, 1);
  assert.deepEqual(server.posts[0].body.messages.map((m) => m.seq), [1, 2]);
  const third = thywill.send('c');
  await page.clock.advance(125);
  assert.equal(server.posts.length, 2);
  await page.clock.advance(250);
  assert.equal(server.posts.length, 4);
  assert.equal(server.posts[1].rawBody, server.posts[0].rawBody, 'same batch, same seqs');
  assert.equal(server.posts[2].rawBody, server.posts[0].rawBody);
  assert.deepEqual(server.posts[3].body.messages, [{seq: 3, data: 'c'}]);
  assert.equal(await first, undefined);
  assert.equal(await second, undefined);
  assert.equal(await third, undefined);
  assert.equal(thywill.stats.sent, 3);
});

test('send: a 4xx rejects the whole batch, then the queue goes on', async () => {
  const {server, thywill} = await openedSsePage();
  let refuse = true;
  const defaultAnswer = server.answerPost;
  server.answerPost = (request) => {
    if (refuse) {
      refuse = false;
      return errorResponse(403, 'csrf_failed', 'CSRF check failed.');
    }
    return defaultAnswer(request);
  };
  const refused = (error) => error.name === 'ThywillError' && typeof error.stack === 'string'
    && error.code === 'csrf_failed' && error.message === 'CSRF check failed.'
    && error.reason === 'CSRF check failed.';
  const first = assert.rejects(thywill.send('a'), refused);
  const second = assert.rejects(thywill.send('b'), refused);
  await Promise.resolve();  // the POST of a and b starts
  const third = thywill.send('c');
  await settle();
  await first;
  await second;
  assert.equal(await third, undefined);
  assert.deepEqual(server.posts.map((post) => post.body.messages.length), [2, 1]);
  assert.equal(thywill.state, 'connected');
});

test('send: a handler error rejects only its message, with its trace id', async () => {
  const {server, thywill} = await openedSsePage();
  server.answerPost = () => jsonResponse(200, {results: [
    {seq: 1, status: 'ok'},
    {seq: 2, status: 'error', reason: 'The handler failed.', traceId: '0123456789abcdef'}]});
  const first = thywill.send('a');
  const second = thywill.send('b');
  assert.equal(await first, undefined);
  await assert.rejects(second,
    {code: 'handler_error', message: 'The handler failed.', traceId: '0123456789abcdef'});
  assert.equal(thywill.stats.sent, 1);
});

test('send: fail(reason) rejects its message with the code, reason and retryAfter', async () => {
  const {server, thywill} = await openedSsePage();
  server.answerPost = () => jsonResponse(200, {results: [
    {seq: 1, status: 'failed', code: 'failed', reason: 'The room is full.'},
    {seq: 2, status: 'failed', code: 'rate_limited', reason: 'Too fast.', retryAfter: 0.5},
    {seq: 3, status: 'ok'}]});
  const first = thywill.send('a');
  const second = thywill.send('b');
  const third = thywill.send('c');
  await assert.rejects(first, {code: 'failed', message: 'The room is full.', reason: 'The room is full.'});
  await assert.rejects(second, {code: 'rate_limited', message: 'Too fast.', retryAfter: 0.5});
  assert.equal(await third, undefined);
  assert.equal(thywill.stats.sent, 1);
});

test('send: batches respect maxBatch and maxMessageBytes; too large alone is refused locally', async () => {
  const {server, thywill} = await openedSsePage({
    page: {config: withConfig({limits: {maxBatch: 2, maxMessageBytes: 200}})},
  });
  await assert.rejects(thywill.send('x'.repeat(200)), {code: 'too_large'});
  await assert.rejects(thywill.send(undefined), {code: 'bad_message'});
  const all = ['a', 'b', 'c', 'd'.repeat(100), 'e'.repeat(100)].map((text) => thywill.send(text));
  await Promise.all(all);
  const batches = server.posts.map((post) => post.body.messages.map((m) => m.seq));
  assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
  for (const post of server.posts) {
    assert.ok(Buffer.byteLength(post.rawBody) <= 200);
  }
});

test('a failing handler is logged and does not stop the others', async () => {
  const {server, page, seen, thywill} = await openedSsePage();
  thywill.onMessage(() => {
    throw new Error('boom');
  });
  const after = [];
  thywill.onMessage((data) => after.push(data));
  server.streams[0].write(sseEvent('message', MESSAGE(1), 'c1') + sseEvent('message', MESSAGE(2), 'c2'));
  await settle();
  assert.equal(seen.messages.length, 2);
  assert.equal(after.length, 2);
  assert.equal(page.consoleErrors.length, 2);
  assert.equal(thywill.cursor, 'c2');
});

test('ready after the bootstrap runs asynchronously, at once', async () => {
  const {thywill} = await openedSsePage();
  let called = false;
  thywill.ready(() => {
    called = true;
  });
  assert.equal(called, false);
  await Promise.resolve();
  assert.equal(called, true);
});

test('while the document loads, events wait for the application scripts', async () => {
  const server = sseServer();
  const page = createPage({route: server.route, readyState: 'loading'});
  await settle();
  server.streams[0].write(sseEvent('open', {cursor: ''}, '') + sseEvent('message', MESSAGE(1), 'c1'));
  await settle();
  assert.equal(page.thywill.state, 'connected');
  // The application's (deferred) script runs now, after the connection.
  const seen = {messages: [], ready: 0};
  page.thywill.ready(() => {
    seen.ready += 1;
    page.thywill.onMessage((data) => seen.messages.push(data));
  });
  page.fire('document', 'DOMContentLoaded');
  assert.equal(seen.ready, 0);
  await page.clock.advance(0);
  assert.equal(seen.ready, 1);
  assert.deepEqual(plain(seen.messages), [{text: 'm1'}], 'the early message is not lost');
});

test('the network coming back skips the backoff wait', async () => {
  const {server, page, thywill} = await openedSsePage();
  server.streams[0].fail();
  await settle();
  assert.equal(thywill.state, 'reconnecting');
  page.fire('window', 'online');
  await settle();
  assert.equal(server.streams.length, 2);
});

test('a page that goes away says bye: one keepalive POST of its token, with the CSRF header', async () => {
  const endpoints = {...BASE_CONFIG.endpoints, bye: '/thywill/bye/'};
  const {page} = await openedSsePage({page: {config: withConfig({endpoints})}});
  page.fire('window', 'pagehide');
  await settle();
  const byes = page.requests.filter((request) => request.path === '/thywill/bye/');
  assert.equal(byes.length, 1);
  const [bye] = byes;
  assert.equal(bye.method, 'POST');
  assert.equal(bye.init.keepalive, true);
  assert.equal(bye.headers['X-CSRFToken'], 'csrf');
  assert.deepEqual(plain(bye.body), {token: 'tok'});
});

test('no bye without its endpoint, nor from a closed client', async () => {
  const {page} = await openedSsePage();
  page.fire('window', 'pagehide');
  const server = sseServer({sse: () => errorResponse(403, 'bad_token')});
  const endpoints = {...BASE_CONFIG.endpoints, bye: '/thywill/bye/'};
  const closed = createPage({route: server.route, config: withConfig({endpoints})});
  await settle();
  assert.equal(closed.thywill.state, 'closed');
  closed.fire('window', 'pagehide');
  await settle();
  for (const requests of [page.requests, closed.requests]) {
    assert.deepEqual(requests.filter((request) => request.path === '/thywill/bye/'), []);
  }
});

test('backoff grows, capped at reconnectMaxDelay, and resets after a connection', async () => {
  const server = sseServer({sse: () => errorResponse(503, 'unavailable')});
  const page = createPage({
    route: server.route,
    config: withConfig({forcedTransport: 'sse', limits: {reconnectMaxDelay: 2}}),
    random: 0.999999,
  });
  await settle();
  const times = [];
  let count = page.requests.length;
  for (let i = 0; i < 6; i += 1) {
    const start = page.clock.now;
    while (page.requests.length === count) {
      await page.clock.advance(1);
    }
    count = page.requests.length;
    times.push(page.clock.now - start);
  }
  assert.deepEqual(times, [250, 500, 1000, 2000, 2000, 2000]);
});

test('send: out_of_order results stay queued and are resent; a forgotten record renumbers them', async () => {
  const {server, page, thywill} = await openedSsePage();
  let record = 0;  // the server's highest handled seq
  server.answerPost = (request) => jsonResponse(200, {results: request.body.messages.map((m) => {
    if (m.seq <= record) {
      return {seq: m.seq, status: 'duplicate'};
    }
    if (m.seq > record + 1) {
      return {seq: m.seq, status: 'out_of_order', expected: record + 1};
    }
    record = m.seq;
    return {seq: m.seq, status: 'ok', value: m.data};
  })});
  assert.deepEqual(await Promise.all([thywill.send('a'), thywill.send('b')]), ['a', 'b']);
  record = 0;  // the server forgot the client's record (max_age of silence)
  const later = [thywill.send('c'), thywill.send('d')];
  await settle();
  assert.deepEqual(server.posts[1].body.messages.map((m) => m.seq), [3, 4]);
  await page.clock.advance(250);
  assert.equal(server.posts.length, 3, 'resent after a backoff');
  assert.deepEqual(server.posts[2].body.messages, [{seq: 1, data: 'c'}, {seq: 2, data: 'd'}]);
  assert.deepEqual(await Promise.all(later), ['c', 'd']);
  await thywill.send('e');
  assert.deepEqual(server.posts[3].body.messages, [{seq: 3, data: 'e'}], 'numbered on');
});

test('send: resolves with the value the handler returned; undefined without one or for a duplicate', async () => {
  const {server, thywill} = await openedSsePage();
  server.answerPost = () => jsonResponse(200, {results: [
    {seq: 1, status: 'ok', value: {score: 3, names: ['a']}},
    {seq: 2, status: 'ok', value: null},
    {seq: 3, status: 'ok', value: 0},
    {seq: 4, status: 'ok'},
    {seq: 5, status: 'duplicate'}]});
  const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((text) => thywill.send(text)));
  assert.deepEqual(plain(answers[0]), {score: 3, names: ['a']});
  assert.deepEqual(answers.slice(1), [null, 0, undefined, undefined]);
  assert.equal(thywill.stats.sent, 5);
});

test('send: {timeout} rejects when no answer came in time; the message still goes, with its seq', async () => {
  const server = sseServer();
  const page = createPage({route: server.route});
  const {thywill} = page;
  const late = thywill.send('a', {timeout: 1000});
  const settled = [];
  late.then((value) => settled.push(['resolved', value]), (error) => settled.push(['rejected', error]));
  await page.clock.advance(999);
  assert.deepEqual(settled, []);
  await page.clock.advance(1);
  assert.equal(settled.length, 1);
  const [outcome, error] = settled[0];
  assert.equal(outcome, 'rejected');
  assert.equal(error.name, 'ThywillError');
  assert.equal(error.code, 'timeout');
  assert.equal(error.seq, 1);
  assert.match(error.message, /^No answer within 1000 ms/);

  const next = thywill.send('b', {timeout: 1000});
  server.streams[0].write(sseEvent('open', {cursor: ''}, ''));
  await settle();
  assert.deepEqual(server.posts.map((post) => post.body.messages), [[{seq: 1, data: 'a'}, {seq: 2, data: 'b'}]],
    'the timed-out message is sent all the same, with the seq it had: no gap');
  assert.equal(await next, undefined);
  assert.equal(thywill.stats.sent, 2);
  assert.equal(settled.length, 1, 'the late answer settles nothing more');
  await page.clock.advance(5000);
  assert.equal(settled.length, 1);
});

test('send: a timeout that is not a positive finite number, or an unknown option, is a TypeError', async () => {
  const {server, thywill} = await openedSsePage();
  for (const timeout of [0, -1, NaN, Infinity, '100', null]) {
    await assert.rejects(thywill.send('x', {timeout}), (error) => error.name === 'TypeError'
      && /timeout of send\(\) must be a positive finite number/.test(error.message), String(timeout));
  }
  await assert.rejects(thywill.send('x', {timout: 10}), {name: 'TypeError', message: 'thywill: send() has no option "timout"'});
  await assert.rejects(thywill.send('x', 10), {name: 'TypeError'});
  assert.equal(await thywill.send('y', {timeout: 0.5}), undefined);
  assert.deepEqual(server.posts.map((post) => post.body.messages), [[{seq: 1, data: 'y'}]],
    'refused calls take no seq');
});
