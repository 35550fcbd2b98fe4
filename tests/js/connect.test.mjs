// thywill.connect(application, options): several clients on one page, each with its own
// configuration, connection, send queue and handlers; and the page's default client, made only
// when the page has #thywill-config or uses it.
// Run with: node --test tests/js/
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {BASE_CONFIG, createPage, jsonResponse, plain, recorder, settle, sseEvent, streamedResponse} from './harness.mjs';

/** The configuration `{% thywill_client application %}` would embed, with its own endpoints. */
function appConfig(application, token) {
  const prefix = '/rt/' + application + '/';
  return {
    ...BASE_CONFIG,
    clientId: 'client-of-' + application,
    token,
    application,
    transports: ['sse'],
    endpoints: {send: prefix + 'send/', sse: prefix + 'sse/'},
  };
}

/** A fake server that keeps each SSE stream and POST by the token it was made with. */
function server() {
  const fake = {
    streams: {},
    posts: {},
    route(request) {
      const token = request.headers['X-Thywill-Token'] || (request.body && request.body.token);
      if (request.path.endsWith('/sse/')) {
        const stream = streamedResponse();
        (fake.streams[token] ||= []).push(stream);
        return stream;
      }
      if (request.path.endsWith('/send/')) {
        (fake.posts[token] ||= []).push(request);
        return jsonResponse(200, {results: request.body.messages.map(
          (m) => ({seq: m.seq, status: 'ok', value: {from: token, seq: m.seq}}))});
      }
      throw new TypeError('no route for ' + request.path);
    },
  };
  return fake;
}

/** A page that embeds the configurations of "chat" and "game", and no #thywill-config. */
function taggedPage() {
  const fake = server();
  const page = createPage({
    config: null,
    elements: {
      'thywill-config-chat': appConfig('chat', 'chat-token'),
      'thywill-config-game': appConfig('game', 'game-token'),
    },
    route: fake.route,
  });
  return {fake, page};
}

test('a page with only tag configurations opens nothing and reports nothing by itself', async () => {
  const {page} = taggedPage();
  await settle();
  await page.clock.advance(60000);
  assert.deepEqual(page.requests, []);
  assert.deepEqual(page.banners, []);
  assert.deepEqual(page.consoleErrors, []);
  assert.equal(typeof page.thywill.connect, 'function');
});

test('connect() gives each application its own client: endpoints, token, deliveries, sends', async () => {
  const {fake, page} = taggedPage();
  const chat = page.thywill.connect('chat');
  const game = page.thywill.connect('game');
  assert.notEqual(chat, game);
  const chatSeen = recorder(chat);
  const gameSeen = recorder(game);
  await settle();
  assert.deepEqual(page.requests.map((r) => [r.path, r.headers['X-Thywill-Token']]).sort(), [
    ['/rt/chat/sse/', 'chat-token'], ['/rt/game/sse/', 'game-token']]);
  assert.equal(chat.clientId, 'client-of-chat');
  assert.equal(game.application, 'game');
  assert.equal(chat.state, 'connecting');

  fake.streams['chat-token'][0].write(sseEvent('open', {cursor: 'a0'}, 'a0')
    + sseEvent('message', {channel: 'client:chat', id: '1', data: 'for chat'}, 'a1'));
  await settle();
  assert.equal(chat.state, 'connected');
  assert.equal(game.state, 'connecting', 'one client connecting does not connect the other');
  fake.streams['game-token'][0].write(sseEvent('open', {cursor: 'b0'}, 'b0')
    + sseEvent('message', {channel: 'client:game', id: '1', data: 'for game'}, 'b1'));
  await settle();
  assert.deepEqual(chatSeen.messages.map((m) => m.data), ['for chat']);
  assert.deepEqual(gameSeen.messages.map((m) => m.data), ['for game']);
  assert.equal(chat.cursor, 'a1');
  assert.equal(game.cursor, 'b1');
  assert.deepEqual([chatSeen.ready, gameSeen.ready], [1, 1]);

  // Each has its own queue, numbered from 1, posted with its own token to its own endpoint.
  const answers = await Promise.all([chat.send('x'), game.send('y'), chat.send('z')]);
  assert.deepEqual(plain(answers), [
    {from: 'chat-token', seq: 1}, {from: 'game-token', seq: 1}, {from: 'chat-token', seq: 2}]);
  assert.deepEqual(fake.posts['chat-token'].map((r) => [r.path, r.body.messages]),
    [['/rt/chat/send/', [{seq: 1, data: 'x'}, {seq: 2, data: 'z'}]]]);
  assert.deepEqual(fake.posts['game-token'].map((r) => [r.path, r.body.messages]),
    [['/rt/game/send/', [{seq: 1, data: 'y'}]]]);
  assert.deepEqual(page.banners, [], 'the default client was never made');
});

test('connect() twice for one application gives the same client, and one connection', async () => {
  const {page} = taggedPage();
  const chat = page.thywill.connect('chat');
  assert.equal(page.thywill.connect('chat'), chat);
  assert.equal(page.thywill.connect('chat', {config: appConfig('chat', 'another')}), chat,
    'a config given while the client is open is ignored');
  await settle();
  assert.equal(page.requests.length, 1);
});

test('connect() for an application the page has no configuration of throws bad_config', () => {
  const {page} = taggedPage();
  assert.throws(() => page.thywill.connect('poll'), {
    name: 'ThywillError', code: 'bad_config',
    message: 'The page has no thywill configuration: no element #thywill-config-poll.',
  });
  assert.deepEqual(page.requests, []);
});

test('connect() with a config: no element needed; checked; a copy is kept', async () => {
  const fake = server();
  const page = createPage({config: null, route: fake.route});
  const fetched = appConfig('chat', 'fetched-token');
  const chat = page.thywill.connect('chat', {config: fetched});
  fetched.token = 'changed';
  await settle();
  assert.deepEqual(page.requests.map((r) => r.headers['X-Thywill-Token']), ['fetched-token']);
  assert.equal(chat.config.token, 'fetched-token');

  assert.throws(() => page.thywill.connect('game', {config: fetched}), {
    code: 'bad_config',
    message: 'The thywill configuration given to connect() is for the application "chat", not "game".',
  });
  assert.throws(() => page.thywill.connect('game', {config: {token: 1}}), {
    code: 'bad_config', message: 'The thywill configuration given to connect() is incomplete.',
  });
  assert.throws(() => page.thywill.connect('game', {config: {...appConfig('game', 't'), transports: ['carrier-pigeon']}}),
    {code: 'bad_transport'});
  assert.throws(() => page.thywill.connect(''), {name: 'TypeError'});
  assert.throws(() => page.thywill.connect('game', {confg: {}}), {
    name: 'TypeError', message: 'thywill: connect() has no option "confg"',
  });
  assert.equal(page.requests.length, 1);
});

test('a closed client is not kept: connect() makes a new one', async () => {
  const fake = server();
  fake.route = () => new Response(JSON.stringify({error: {code: 'token_expired', message: 'Expired.'}}),
    {status: 403, headers: {'Content-Type': 'application/json'}});
  const page = createPage({config: null, route: (request) => fake.route(request)});
  const first = page.thywill.connect('chat', {config: appConfig('chat', 'old')});
  first.onError(() => {});
  await settle();
  assert.equal(first.state, 'closed');
  const working = server();
  fake.route = working.route;
  const second = page.thywill.connect('chat', {config: appConfig('chat', 'new')});
  assert.notEqual(second, first);
  assert.equal(page.thywill.connect('chat'), second);
  await settle();
  assert.deepEqual(page.requests.map((r) => r.headers['X-Thywill-Token']), ['old', 'new']);
});

test('the default client: made at once from #thywill-config, beside connect() clients', async () => {
  const fake = server();
  const page = createPage({
    config: appConfig('echo', 'page-token'),
    elements: {'thywill-config-chat': appConfig('chat', 'chat-token')},
    route: fake.route,
  });
  await settle();
  assert.deepEqual(page.requests.map((r) => r.headers['X-Thywill-Token']), ['page-token'],
    'the bootstrap page connects before anything uses the client');
  const chat = page.thywill.connect('chat');
  await settle();
  assert.deepEqual(page.requests.map((r) => r.headers['X-Thywill-Token']), ['page-token', 'chat-token']);
  assert.equal(page.thywill.application, 'echo');
  assert.notEqual(chat.clientId, page.thywill.clientId);
  assert.ok(Object.isFrozen(page.thywill));
});

test('the default client on a page without #thywill-config: bad_config on first use', async () => {
  const {page} = taggedPage();
  await settle();
  assert.deepEqual(page.banners, []);
  await assert.rejects(page.thywill.send('x'), {
    code: 'bad_config', message: 'The page has no thywill configuration: no element #thywill-config.',
  });
  assert.equal(page.thywill.state, 'closed');
  assert.equal(page.banners.length, 1);
  assert.deepEqual(page.requests, []);
});
