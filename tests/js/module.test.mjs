// The ES module build of the client (thywill/static/thywill/thywill.mjs) and the npm package
// around it: built from thywill.js, importable without a page, its named exports working.
// Run with: node --test tests/js/
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, existsSync} from 'node:fs';
import {EXPORTS, MODULE, SCRIPT, buildModule} from '../../scripts/build-client-module.mjs';

const ROOT = new URL('../../', import.meta.url);

test('the committed thywill.mjs is what scripts/build-client-module.mjs makes of thywill.js', () => {
  assert.equal(readFileSync(MODULE, 'utf8'), buildModule(readFileSync(SCRIPT, 'utf8')),
    'thywill.mjs is stale: run node scripts/build-client-module.mjs');
});

test('the build refuses a thywill.js whose module body markers are missing', () => {
  assert.throws(() => buildModule('(function () {})();'), /module body marker/);
});

test('import "thywill" (the package.json exports) works without a page and exports the API', async () => {
  assert.equal(typeof globalThis.document, 'undefined');
  const thywill = await import('thywill');
  assert.deepEqual(Object.keys(thywill).sort(), [...EXPORTS].sort());
  assert.equal(thywill.connect, (await import('../../thywill/static/thywill/thywill.mjs')).connect,
    'the package name resolves to the module file');
  assert.equal(typeof globalThis.thywill, 'undefined', 'no global');
});

test('createSseParser and ThywillError from the module', async () => {
  const {createSseParser, ThywillError} = await import('thywill');
  const events = [];
  const parser = createSseParser((event) => events.push(event));
  parser.push('event: open\nid: c0\ndata: {"cursor": "c0"}\n\ndata: a\r');
  parser.push('\ndata: b\n\n');
  parser.end();
  assert.deepEqual(events, [
    {type: 'open', data: '{"cursor": "c0"}', id: 'c0', lastEventId: 'c0'},
    {type: 'message', data: 'a\nb', id: null, lastEventId: 'c0'},
  ]);
  const error = new ThywillError('timeout', 'No answer.', {seq: 3});
  assert.ok(error instanceof Error);
  assert.deepEqual([error.name, error.code, error.message, error.reason, error.seq],
    ['ThywillError', 'timeout', 'No answer.', 'No answer.', 3]);
});

test('connect() from the module reads the page only when called, and throws its ThywillError', async () => {
  const {connect, ThywillError} = await import('thywill');
  assert.throws(() => connect(''), TypeError);
  const looked = [];
  globalThis.document = {getElementById: (id) => looked.push(id) && null};
  try {
    assert.throws(() => connect('chat'), (error) => error instanceof ThywillError
      && error.code === 'bad_config' && error.message.includes('#thywill-config-chat'));
  } finally {
    delete globalThis.document;
  }
  assert.deepEqual(looked, ['thywill-config-chat']);
});

test('package.json: the version of the Python package, no dependencies, every file it names exists', () => {
  const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8'));
  const init = readFileSync(new URL('thywill/__init__.py', ROOT), 'utf8');
  assert.equal(pkg.version, /^__version__ = "(.+)"$/m.exec(init)[1]);
  assert.equal(pkg.name, 'thywill');
  assert.equal(pkg.private, undefined);
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    assert.equal(pkg[field], undefined, field);
  }
  const named = [pkg.types, ...Object.values(pkg.exports['.']), ...pkg.files];
  for (const path of named) {
    assert.ok(existsSync(new URL(path, ROOT)), path);
  }
  assert.ok(pkg.files.includes('thywill/static/thywill/thywill.mjs'));
  assert.ok(pkg.files.includes('thywill/static/thywill/thywill.d.ts'));
});
