// Reloads: a tab keeps its client in sessionStorage and its next page resumes it (its id, token,
// cursor and seq), unless another page of the tab holds it (a duplicated tab), the server refuses
// it (then the page's own client goes on), or resuming is off (documentation/transports.md).
// Run with: node --test tests/js/
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE_CONFIG, FakeStorage, createPage, errorResponse, jsonResponse, settle, sseEvent,
  streamedResponse,
} from './harness.mjs';

const KEY = 'thywill.client:echo:/thywill/init/';

/** The configuration of a page whose server resumes, for a client issued to it. */
function pageConfig(clientId, token) {
  return {...BASE_CONFIG, clientId, token, transports: ['sse'], resume: true};
}

/** A fake server: SSE streams kept by token; each POST answered ok, or as `refuse` says. */
function server(refuse = {}) {
  const fake = {
    streams: {},
    posts: [],
    route(request) {
      const token = request.headers['X-Thywill-Token'] || (request.body && request.body.token);
      if (refuse[token]) {
        return errorResponse(403, refuse[token], 'The token belongs to another session.');
      }
      if (request.path.endsWith('/sse/')) {
        const stream = streamedResponse();
        (fake.streams[token] ||= []).push(stream);
        return stream;
      }
      fake.posts.push(request);
      return jsonResponse(200, {results: request.body.messages.map(
        (m) => ({seq: m.seq, status: 'ok'}))});
    },
  };
  return fake;
}

function kept(storage) {
  return JSON.parse(storage.getItem(KEY));
}

/** A first page of a tab: connected, one message delivered, one message sent. */
async function firstPage(storage, refuse = {}) {
  const fake = server(refuse);
  const page = createPage({config: pageConfig('first', 'first-token'), route: fake.route,
    sessionStorage: storage});
  await settle();
  fake.streams['first-token'][0].write(sseEvent('open', {cursor: 'c0'}, 'c0')
    + sseEvent('message', {channel: 'client:first', id: '1', data: 'hello'}, 'c1'));
  await settle();
  await page.thywill.send('one');
  return {fake, page};
}

test('a page keeps its client in the tab, live; pagehide leaves it for the next page', async () => {
  const storage = new FakeStorage();
  const {page} = await firstPage(storage);
  assert.deepEqual(kept(storage),
    {clientId: 'first', token: 'first-token', cursor: '', nextSeq: 1, live: true});
  page.fire('window', 'pagehide');
  assert.deepEqual(kept(storage),
    {clientId: 'first', token: 'first-token', cursor: 'c1', nextSeq: 2, live: false});
  assert.equal(page.thywill.resumed, false);
});

test('the reloaded page resumes the kept client: its token, cursor and seqs', async () => {
  const storage = new FakeStorage();
  (await firstPage(storage)).page.fire('window', 'pagehide');
  const fake = server();
  const page = createPage({config: pageConfig('second', 'second-token'), route: fake.route,
    sessionStorage: storage});
  await settle();
  const [request] = page.requests;
  assert.equal(request.headers['X-Thywill-Token'], 'first-token');
  assert.equal(request.headers['Last-Event-ID'], 'c1');
  assert.equal(page.thywill.clientId, 'first');
  assert.equal(page.thywill.resumed, true);
  assert.equal(kept(storage).live, true, 'held by this page now');
  fake.streams['first-token'][0].write(sseEvent('open', {cursor: 'c1'}, 'c1'));
  await settle();
  await page.thywill.send('two');
  assert.deepEqual(fake.posts.map((r) => [r.body.token, r.body.messages]),
    [['first-token', [{seq: 2, data: 'two'}]]]);
  assert.equal(page.requests.some((r) => r.headers['X-Thywill-Token'] === 'second-token'), false);
});

test('a duplicated tab, whose copied record is live, keeps its own new client', async () => {
  const storage = new FakeStorage();
  await firstPage(storage);
  const copy = storage.copy();
  const fake = server();
  const page = createPage({config: pageConfig('dup', 'dup-token'), route: fake.route,
    sessionStorage: copy});
  await settle();
  assert.equal(page.requests[0].headers['X-Thywill-Token'], 'dup-token');
  assert.equal(page.thywill.clientId, 'dup');
  assert.equal(page.thywill.resumed, false);
  assert.equal(kept(copy).clientId, 'dup');
  assert.equal(kept(storage).clientId, 'first', 'the original tab keeps its own');
});

test('a kept client the server refuses gives way to the page\'s own, sends included', async () => {
  const storage = new FakeStorage();
  (await firstPage(storage)).page.fire('window', 'pagehide');
  const fake = server({'first-token': 'session_mismatch'});
  const page = createPage({config: pageConfig('second', 'second-token'), route: fake.route,
    sessionStorage: storage});
  const sent = page.thywill.send('early');
  await settle();
  assert.deepEqual(page.requests.map((r) => r.headers['X-Thywill-Token']), ['first-token', 'second-token']);
  assert.equal(page.thywill.clientId, 'second');
  assert.equal(page.thywill.resumed, false);
  assert.equal(page.thywill.state, 'connecting');
  assert.match(String(page.consoleWarnings[0]), /refused \(session_mismatch: /);
  assert.deepEqual(kept(storage),
    {clientId: 'second', token: 'second-token', cursor: '', nextSeq: 2, live: true});
  fake.streams['second-token'][0].write(sseEvent('open', {cursor: 'd0'}, 'd0'));
  await sent;
  assert.deepEqual(fake.posts.map((r) => [r.body.token, r.body.messages]),
    [['second-token', [{seq: 1, data: 'early'}]]]);
  assert.deepEqual(page.banners, []);
});

test('with resuming off, by the server or by connect(), a page uses its own client', async () => {
  for (const [config, options] of [
    [{...pageConfig('second', 'second-token'), resume: false}, undefined],
    [pageConfig('second', 'second-token'), {resume: false}],
  ]) {
    const storage = new FakeStorage();
    (await firstPage(storage)).page.fire('window', 'pagehide');
    const before = storage.getItem(KEY);
    const fake = server();
    const page = createPage({config: null, elements: {'thywill-config-echo': config},
      route: fake.route, sessionStorage: storage});
    const client = page.thywill.connect('echo', options);
    await settle();
    assert.deepEqual(page.requests.map((r) => r.headers['X-Thywill-Token']), ['second-token']);
    assert.equal(client.resumed, false);
    assert.equal(storage.getItem(KEY), before, 'the kept client is left alone');
  }
});

test('a client closed by a refusal is forgotten: the next page starts afresh', async () => {
  const storage = new FakeStorage();
  const refuse = {};
  const {fake, page} = await firstPage(storage, refuse);
  refuse['first-token'] = 'token_expired';
  fake.streams['first-token'][0].close();
  await page.clock.advance(60000);
  assert.equal(page.thywill.state, 'closed');
  assert.equal(storage.getItem(KEY), null);
});

test('connect() refuses a resume option that is not a boolean', () => {
  const page = createPage({config: null, elements: {'thywill-config-echo': BASE_CONFIG},
    route: () => jsonResponse(200, {})});
  assert.throws(() => page.thywill.connect('echo', {resume: 'no'}), {name: 'TypeError'});
});
