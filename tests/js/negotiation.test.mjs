// The WebSocket transport of the client and the negotiation between transports
// (documentation/transports.md), against a scripted fake server and fake sockets.
// Run with: node --test tests/js/
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_CONFIG, createPage, jsonResponse, plain, recorder, settle, sseEvent, streamedResponse,
} from './harness.mjs';

const MESSAGE = (n) => ({channel: 'client:Qx3', id: 'e.' + n, data: {text: 'm' + n}});
const ENDPOINTS = {...BASE_CONFIG.endpoints, websocket: '/thywill/websocket/'};
const CONFIG = {...BASE_CONFIG, transports: ['websocket', 'sse', 'longpoll'], endpoints: ENDPOINTS};
const PADDING = ':' + ' '.repeat(2048) + '\n\n';

/** A fake server for every transport; SSE streams and long-polls are kept to be answered. */
function server() {
  const state = {streams: [], polls: [], posts: []};
  state.route = (request) => {
    if (request.path === '/thywill/sse/') {
      const stream = streamedResponse();
      state.streams.push(stream);
      return stream;
    }
    if (request.path === '/thywill/longpoll/') {
      return new Promise((resolve) => state.polls.push({request, resolve}));
    }
    if (request.path === '/thywill/send/') {
      state.posts.push(request);
      return jsonResponse(200, {results: request.body.messages.map((m) => ({seq: m.seq, status: 'ok'}))});
    }
    throw new TypeError('no route for ' + request.path);
  };
  return state;
}

function page(config = CONFIG) {
  const fake = server();
  const created = createPage({config, route: fake.route});
  const seen = recorder(created.thywill);
  return {...created, fake, seen};
}

/** Lets `ms` pass on a connected SSE stream, which keeps writing keepalives. */
async function keptAlive(stream, clock, ms) {
  for (let passed = 0; passed < ms; passed += 10000) {
    stream.write(sseEvent('keepalive', {}));
    await clock.advance(Math.min(10000, ms - passed));
  }
}

function sendFrames(socket) {
  return socket.sent.filter((frame) => frame.type === 'send');
}

test('websocket: first choice; opens on the open frame, delivers batches, follows the cursor', async () => {
  const {thywill, sockets, seen, requests} = page();
  await settle();
  assert.equal(sockets.length, 1);
  const [socket] = sockets;
  assert.equal(socket.url.protocol, 'wss:');
  assert.equal(socket.url.pathname, '/thywill/websocket/');
  assert.deepEqual(Object.fromEntries(socket.url.searchParams), {cursor: ''});  // no token
  assert.deepEqual(socket.sent, [{type: 'auth', token: 'tok', sentInBatch: true}], 'the first frame proves who it is');
  assert.equal(thywill.state, 'connecting');

  socket.frame({type: 'open', cursor: 'c0'});
  await settle();
  assert.equal(thywill.state, 'connected');
  assert.equal(thywill.transport, 'websocket');
  assert.equal(seen.ready, 1);

  socket.frame({type: 'batch', messages: [MESSAGE(1), MESSAGE(2)], cursor: 'c2', reset: null});
  socket.frame({type: 'keepalive'});
  await settle();
  assert.deepEqual(seen.messages.map((m) => m.data.text), ['m1', 'm2']);
  assert.equal(thywill.cursor, 'c2');
  assert.deepEqual(requests, []);  // nothing over HTTP at all
});

test('websocket: sends go over the socket in order, one frame in flight, same seqs', async () => {
  const {thywill, sockets, fake} = page();
  await settle();
  const [socket] = sockets;
  const early = thywill.send('queued while connecting');
  socket.frame({type: 'open', cursor: ''});
  await settle();
  assert.deepEqual(sendFrames(socket), [
    {type: 'send', messages: [{seq: 1, data: 'queued while connecting'}]},
  ]);
  const second = thywill.send('a');
  const third = thywill.send('b');
  await settle();
  assert.equal(sendFrames(socket).length, 1);  // the first is not answered yet
  socket.frame({type: 'sent', results: [{seq: 1, status: 'ok', value: {echoed: 1}}]});
  await settle();
  assert.deepEqual(plain(await early), {echoed: 1}, 'the handler\'s return value');
  assert.deepEqual(sendFrames(socket)[1], {type: 'send', messages: [{seq: 2, data: 'a'}, {seq: 3, data: 'b'}]});
  socket.frame({type: 'sent', results: [{seq: 2, status: 'ok'}, {seq: 3, status: 'duplicate'}]});
  assert.equal(await second, undefined);
  assert.equal(await third, undefined);
  assert.deepEqual(fake.posts, []);
});

test('websocket: an answer that rides in a batch (sentInBatch) settles its send, then the batch is delivered', async () => {
  const {thywill, sockets, seen} = page();
  await settle();
  const [socket] = sockets;
  socket.frame({type: 'open', cursor: 'c0'});
  const first = thywill.send('a');
  await settle();
  socket.frame({type: 'batch', sent: {results: [{seq: 1, status: 'ok', value: {echoed: 1}}]},
    messages: [MESSAGE(1)], cursor: 'c1', reset: null});
  assert.deepEqual(plain(await first), {echoed: 1});
  assert.deepEqual(seen.messages.map((m) => m.data.text), ['m1']);
  assert.equal(thywill.cursor, 'c1');
  const second = thywill.send('b');
  await settle();
  assert.deepEqual(sendFrames(socket)[1], {type: 'send', messages: [{seq: 2, data: 'b'}]});
  // A batch without an answer settles nothing; the next answer may come in a frame of its own.
  socket.frame({type: 'batch', messages: [MESSAGE(2)], cursor: 'c2', reset: null});
  socket.frame({type: 'batch', sent: {status: 400, error: {code: 'bad_message', message: 'no'}},
    messages: [], cursor: 'c2', reset: null});
  await assert.rejects(second, (error) => error.code === 'bad_message' && error.status === 400);
  assert.deepEqual(seen.messages.map((m) => m.data.text), ['m1', 'm2']);
});

test('websocket: a refused send (400) rejects its batch; a 503 resends it', async () => {
  const {thywill, sockets, clock} = page();
  await settle();
  const [socket] = sockets;
  socket.frame({type: 'open', cursor: ''});
  const refused = thywill.send('bad');
  await settle();
  socket.frame({type: 'sent', status: 400, error: {code: 'bad_message', message: 'no'}});
  await assert.rejects(refused, (error) => error.code === 'bad_message' && error.status === 400);

  const retried = thywill.send('later');
  await settle();
  socket.frame({type: 'sent', status: 503, error: {code: 'unavailable', message: 'down'}});
  await clock.advance(30000);
  const frames = sendFrames(socket);
  assert.deepEqual(frames.slice(-2), [
    {type: 'send', messages: [{seq: 2, data: 'later'}]},
    {type: 'send', messages: [{seq: 2, data: 'later'}]},
  ]);
  socket.frame({type: 'sent', results: [{seq: 2, status: 'ok'}]});
  assert.equal(await retried, undefined);
});

test('websocket: a drop with a send in flight reconnects from the cursor and resends the same seq', async () => {
  const {thywill, sockets, seen, clock} = page();
  await settle();
  sockets[0].frame({type: 'open', cursor: 'c0'});
  sockets[0].frame({type: 'batch', messages: [MESSAGE(1)], cursor: 'c1', reset: null});
  const pending = thywill.send('in flight');
  await settle();
  sockets[0].drop();
  await settle();
  assert.equal(thywill.state, 'reconnecting');
  await clock.advance(1000);  // the backoff: 125 ms with this page's Math.random
  assert.equal(sockets.length, 2);  // the same transport again: it worked before
  assert.equal(sockets[1].url.searchParams.get('cursor'), 'c1');
  sockets[1].frame({type: 'open', cursor: 'c1'});
  await clock.advance(1000);
  assert.deepEqual(sendFrames(sockets[1]), [{type: 'send', messages: [{seq: 1, data: 'in flight'}]}]);
  sockets[1].frame({type: 'sent', results: [{seq: 1, status: 'duplicate'}]});
  assert.equal(await pending, undefined);
  assert.deepEqual(seen.states, ['connected', 'reconnecting', 'connected']);
  assert.equal(seen.messages.length, 1);
});

test('negotiation: a socket refused at once falls back to SSE at once; sends made meanwhile go by POST', async () => {
  const {thywill, sockets, fake, seen} = page();
  const sent = thywill.send('during the switch');
  await settle();
  sockets[0].drop();  // a proxy refused the upgrade: the browser reports close 1006
  await settle();
  assert.equal(fake.streams.length, 1);
  assert.equal(thywill.state, 'connecting');
  fake.streams[0].write(PADDING + sseEvent('open', {cursor: ''}, ''));
  await settle();
  assert.equal(thywill.transport, 'sse');
  assert.equal(thywill.state, 'connected');
  assert.equal(await sent, undefined);
  assert.deepEqual(fake.posts.map((p) => p.body.messages), [[{seq: 1, data: 'during the switch'}]]);
  assert.deepEqual(seen.states, ['connected']);
  assert.deepEqual(seen.errors, []);
});

test('negotiation: a socket that never opens, then a buffered stream, end on long-poll', async () => {
  const {thywill, sockets, fake, clock} = page();
  await settle();
  await clock.advance(5000);  // no open frame within 5 s
  assert.ok(sockets[0].closedByPage);
  assert.equal(fake.streams.length, 1);
  fake.streams[0].write(PADDING);  // a buffering proxy: the open event never comes through
  await clock.advance(5000);
  assert.equal(fake.polls.length, 1);
  assert.equal(fake.polls[0].request.params.wait, '0');
  fake.polls[0].resolve(jsonResponse(200, {messages: [], cursor: '', reset: null}));
  await settle();
  assert.equal(thywill.transport, 'longpoll');
  assert.equal(thywill.state, 'connected');
});

test('negotiation: a long-poll hanging past its deadline is given up and retried', async () => {
  const config = {...CONFIG, forcedTransport: 'longpoll'};
  const {thywill, fake, clock} = page(config);
  await settle();
  fake.polls[0].resolve(jsonResponse(200, {messages: [], cursor: 'c0', reset: null}));
  await settle();
  assert.equal(thywill.state, 'connected');
  await clock.advance((25 + 10) * 1000);  // the second poll never answers
  assert.equal(thywill.state, 'reconnecting');
  assert.ok(fake.polls[1].request.signal.aborted);
  await clock.advance(30000);
  assert.equal(fake.polls.length, 3);
  assert.equal(fake.polls[2].request.params.cursor, 'c0');
});

test('negotiation: a socket closed normally before its open frame counts as not getting through', async () => {
  const {thywill, sockets, fake} = page();
  await settle();
  sockets[0].serverClose(1000);
  await settle();
  assert.equal(fake.streams.length, 1);
  assert.equal(thywill.transport, 'sse');
});

test('websocket: a refusal (error frame, close 4403) is final', async () => {
  const {thywill, sockets, seen, fake} = page();
  const sent = thywill.send('x').catch((error) => error);
  await settle();
  sockets[0].frame({type: 'error', error: {code: 'bad_origin', message: 'Not from here.'}});
  sockets[0].serverClose(4403, '');  // Daphne sends no reason: the error frame names it
  await settle();
  assert.equal(thywill.state, 'closed');
  assert.deepEqual(seen.errors, [{code: 'bad_origin', message: 'Not from here.'}]);
  const error = await sent;
  assert.deepEqual([error.code, error.status], ['bad_origin', 403]);
  assert.equal(fake.streams.length, 0);  // no other transport would be let in either
});

test('websocket: a 4503 close (push backend down) reconnects on the same transport', async () => {
  const {thywill, sockets, clock, seen} = page();
  await settle();
  sockets[0].frame({type: 'open', cursor: ''});
  sockets[0].frame({type: 'error', error: {code: 'unavailable', message: 'down'}});
  sockets[0].serverClose(4503, 'unavailable');
  await settle();
  assert.equal(thywill.state, 'reconnecting');
  await clock.advance(1000);
  assert.equal(sockets.length, 2);
  sockets[1].frame({type: 'open', cursor: ''});
  await settle();
  assert.equal(thywill.state, 'connected');
  assert.deepEqual(seen.errors, []);
});

test('websocket: a 4408 close (no auth frame in time) is not final: it reconnects and authenticates again', async () => {
  const {thywill, sockets, clock, seen} = page();
  await settle();
  assert.deepEqual(sockets[0].sent, [{type: 'auth', token: 'tok', sentInBatch: true}]);
  sockets[0].frame({type: 'error', error: {code: 'auth_timeout', message: 'No auth frame.'}});
  sockets[0].serverClose(4408, 'auth_timeout');
  await settle();
  assert.equal(thywill.state, 'connecting');  // not closed: never connected yet, it tries again
  await clock.advance(1000);
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1].url.pathname, '/thywill/websocket/');  // the same transport
  assert.deepEqual(sockets[1].sent, [{type: 'auth', token: 'tok', sentInBatch: true}]);
  sockets[1].frame({type: 'open', cursor: ''});
  await settle();
  assert.equal(thywill.state, 'connected');
  assert.deepEqual(seen.errors, []);
});

test('websocket: silence past 2*keepalive+5 s is a dead network: it reconnects', async () => {
  const {thywill, sockets, clock} = page();
  await settle();
  sockets[0].frame({type: 'open', cursor: ''});
  await clock.advance(34000);
  sockets[0].frame({type: 'keepalive'});
  await clock.advance(34000);
  assert.equal(thywill.state, 'connected');
  await clock.advance(2000);
  assert.ok(sockets[0].closedByPage);
  assert.equal(thywill.state, 'reconnecting');
});

test('websocket: a malformed frame ends the connection and it reconnects', async () => {
  const {thywill, sockets, seen, clock} = page();
  await settle();
  sockets[0].frame({type: 'open', cursor: 'c0'});
  sockets[0].frame('not json');
  await settle();
  assert.equal(thywill.state, 'reconnecting');
  await clock.advance(30000);
  assert.equal(sockets[1].url.searchParams.get('cursor'), 'c0');
  assert.deepEqual(seen.messages, []);
});

test('negotiation: a connected page retries its transport, and moves on after 3 failures in a row', async () => {
  const {thywill, sockets, fake, clock} = page();
  await settle();
  sockets[0].frame({type: 'open', cursor: ''});
  await settle();
  for (let attempt = 0; attempt < 3; attempt += 1) {
    sockets[sockets.length - 1].drop();
    await clock.advance(1000);  // within the backoff ceiling of each attempt
  }
  assert.equal(sockets.length, 3);
  assert.equal(fake.streams.length, 1);
  assert.equal(thywill.transport, 'sse');
});

test('negotiation: connected on SSE, it tries WebSocket later on the side and moves to it when it opens', async () => {
  const {thywill, sockets, fake, clock, seen} = page();
  await settle();
  sockets[0].drop();
  await settle();
  fake.streams[0].write(PADDING + sseEvent('open', {cursor: 'c0'}, 'c0'));
  await settle();
  assert.equal(thywill.transport, 'sse');

  await keptAlive(fake.streams[0], clock, 60000);  // the first upgrade attempt: still refused
  assert.equal(sockets.length, 2);
  sockets[1].drop();
  await settle();
  assert.equal(thywill.transport, 'sse');
  assert.equal(fake.streams.length, 1);  // the probe did not disturb the stream

  fake.streams[0].write(sseEvent('message', MESSAGE(1), 'c1'));
  await keptAlive(fake.streams[0], clock, 120000);  // twice as long later: now it opens
  assert.equal(sockets.length, 3);
  sockets[2].frame({type: 'open', cursor: 'c1'});
  await settle();
  assert.ok(sockets[2].closedByPage);  // the probe itself is closed ...
  assert.equal(sockets.length, 4);     // ... and the client connects anew, from its cursor
  assert.equal(sockets[3].url.searchParams.get('cursor'), 'c1');
  assert.ok(fake.streams[0].closed);   // the stream it leaves is closed
  sockets[3].frame({type: 'open', cursor: 'c1'});
  sockets[3].frame({type: 'batch', messages: [MESSAGE(2)], cursor: 'c2', reset: null});
  await settle();
  assert.equal(thywill.transport, 'websocket');
  assert.deepEqual(seen.messages.map((m) => m.data.text), ['m1', 'm2']);
  assert.deepEqual(seen.states, ['connected']);
});

test('negotiation: a forced transport is never left, nor upgraded', async () => {
  const {thywill, sockets, fake, clock} = page({...CONFIG, forcedTransport: 'sse'});
  await settle();
  fake.streams[0].write(PADDING + sseEvent('open', {cursor: ''}, ''));
  await keptAlive(fake.streams[0], clock, 700000);
  assert.equal(sockets.length, 0);
  for (let attempt = 0; attempt < 4; attempt += 1) {
    fake.streams[fake.streams.length - 1].fail();
    await clock.advance(30000);
  }
  assert.equal(thywill.transport, 'sse');
  assert.equal(fake.polls.length, 0);
});

test('the order comes from the server: longpoll first is tried first', async () => {
  const {thywill, fake, sockets} = page({...CONFIG, transports: ['longpoll', 'websocket']});
  await settle();
  assert.equal(fake.polls.length, 1);
  assert.equal(sockets.length, 0);
  assert.equal(thywill.transport, 'longpoll');
});
