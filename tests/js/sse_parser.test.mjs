// Unit tests of the event-stream parser in thywill/static/thywill/thywill.js, imported from its
// ES module build (thywill.mjs: the same text, see scripts/build-client-module.mjs).
// Run with: node --test tests/js/
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createSseParser} from '../../thywill/static/thywill/thywill.mjs';

/** Parses `chunks` (strings) and returns the events, as plain objects. */
function parse(chunks) {
  const events = [];
  const parser = createSseParser((event) => events.push({...event}));
  for (const chunk of chunks) {
    parser.push(chunk);
  }
  parser.end();
  return events;
}

/** Every way of cutting `text` in two, plus one character at a time. */
function splits(text) {
  const ways = [[...text]];
  for (let i = 0; i <= text.length; i += 1) {
    ways.push([text.slice(0, i), text.slice(i)]);
  }
  return ways;
}

const STREAM = ':' + ' '.repeat(2048) + '\n\n'
  + 'event: open\nid: c0\ndata: {"cursor": "c0"}\n\n'
  + 'event: message\nid: c1\ndata: {"channel": "client:a", "id": "1.1", "data": {"text": "hi"}}\n\n'
  + 'event: keepalive\ndata: {}\n\n'
  + 'event: reset\nid: c2\ndata: {"channels": ["client:a"], "reason": "history_lost"}\n\n';

const EXPECTED = [
  {type: 'open', data: '{"cursor": "c0"}', id: 'c0', lastEventId: 'c0'},
  {type: 'message', data: '{"channel": "client:a", "id": "1.1", "data": {"text": "hi"}}', id: 'c1', lastEventId: 'c1'},
  {type: 'keepalive', data: '{}', id: null, lastEventId: 'c1'},
  {type: 'reset', data: '{"channels": ["client:a"], "reason": "history_lost"}', id: 'c2', lastEventId: 'c2'},
];

test('a thywill stream, whole', () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
});

test('a thywill stream, split anywhere', () => {
  for (const chunks of splits(STREAM)) {
    assert.deepEqual(parse(chunks), EXPECTED, JSON.stringify(chunks.map((c) => c.length)));
  }
});

test('CRLF and CR line endings, split anywhere, even inside a CRLF', () => {
  for (const eol of ['\r\n', '\r']) {
    const text = STREAM.replaceAll('\n', eol);
    for (const chunks of splits(text)) {
      assert.deepEqual(parse(chunks), EXPECTED, JSON.stringify([eol, chunks.map((c) => c.length)]));
    }
  }
});

test('mixed line endings', () => {
  assert.deepEqual(parse(['data: a\r\ndata: b\rdata: c\n\r\n']), [
    {type: 'message', data: 'a\nb\nc', id: null, lastEventId: ''},
  ]);
});

test('a CR at the end of a chunk then a new line, not a LF', () => {
  assert.deepEqual(parse(['data: a\r', '\r', 'data: b\n\n']), [
    {type: 'message', data: 'a', id: null, lastEventId: ''},
    {type: 'message', data: 'b', id: null, lastEventId: ''},
  ]);
});

test('multi-line data and empty data lines', () => {
  assert.deepEqual(parse(['data: one\ndata:two\ndata\ndata:  three\n\n']), [
    {type: 'message', data: 'one\ntwo\n\n three', id: null, lastEventId: ''},
  ]);
});

test('an event without data is not dispatched; its type does not leak', () => {
  assert.deepEqual(parse(['event: open\n\ndata: x\n\n']), [
    {type: 'message', data: 'x', id: null, lastEventId: ''},
  ]);
});

test('comments, unknown fields and retry are ignored', () => {
  assert.deepEqual(parse([': hello\nretry: 10\nfoo: bar\n:\ndata: x\n\n']), [
    {type: 'message', data: 'x', id: null, lastEventId: ''},
  ]);
});

test('only one space after the colon is removed; a colon in the value stays', () => {
  assert.deepEqual(parse(['event:message\ndata:  a: b\n\n']), [
    {type: 'message', data: ' a: b', id: null, lastEventId: ''},
  ]);
});

test('an id containing NUL is ignored; an empty id is kept', () => {
  assert.deepEqual(parse(['id: a\0b\ndata: 1\n\nid\ndata: 2\n\n']), [
    {type: 'message', data: '1', id: null, lastEventId: ''},
    {type: 'message', data: '2', id: '', lastEventId: ''},
  ]);
});

test('a leading byte-order mark is skipped, only at the start', () => {
  // Later, "\uFEFFdata" is just an unknown field name.
  assert.deepEqual(parse(['\uFEFF', 'data: x\n\n\uFEFFdata: y\n\n']), [
    {type: 'message', data: 'x', id: null, lastEventId: ''},
  ]);
});

test('an unfinished event at the end is dropped', () => {
  assert.deepEqual(parse(['data: x\n\ndata: y\n']), [
    {type: 'message', data: 'x', id: null, lastEventId: ''},
  ]);
});

test('large data across many chunks', () => {
  const big = 'x'.repeat(100000);
  const text = 'event: message\nid: c9\ndata: ' + big + '\n\n';
  const chunks = [];
  for (let i = 0; i < text.length; i += 997) {
    chunks.push(text.slice(i, i + 997));
  }
  assert.deepEqual(parse(chunks), [{type: 'message', data: big, id: 'c9', lastEventId: 'c9'}]);
});
