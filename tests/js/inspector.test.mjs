// The inspector page's sums over server processes (thywill/static/thywill/inspector/
// inspector.js), loaded as the page loads it but without a page: it then only exports
// its pure functions.
import test from 'node:test';
import assert from 'node:assert/strict';
import vm from 'node:vm';
import {readFileSync} from 'node:fs';

const SOURCE = readFileSync(
  new URL('../../thywill/static/thywill/inspector/inspector.js', import.meta.url), 'utf8');

function load() {
  const context = vm.createContext({});
  vm.runInContext(SOURCE, context);
  return context.ThywillInspector;
}

function snapshot(process, fields) {
  return {
    type: 'inspector.snapshot', process,
    connections: {websocket: 0, sse: 0, longpoll: 0},
    messagesIn: 0, messagesOut: 0, rateIn: 0, rateOut: 0, present: 0, groups: {},
    ...fields,
  };
}

test('the page sums every fresh process and takes groups from the newest', () => {
  const {summarize, record} = load();
  const processes = new Map();
  record(processes, snapshot('a:1', {
    connections: {websocket: 2, sse: 1, longpoll: 0}, messagesIn: 10, messagesOut: 20,
    rateIn: 1.5, rateOut: 3, present: 4, groups: {echo: {count: 1, shown: [['x', 1]]}},
    errors: [{n: 1, code: 'refused', client: 'c1', trace: null, at: 100}],
  }), 1000);
  record(processes, snapshot('b:2', {
    connections: {websocket: 1, sse: 0, longpoll: 3}, messagesIn: 5, messagesOut: 7,
    rateIn: 0.5, rateOut: 1, present: 5, groups: {echo: {count: 2, shown: []}},
    errors: [{n: 1, code: 'error', client: 'c2', trace: 't', at: 200}],
  }), 2000);
  const sum = summarize(processes, 2500, 5);
  assert.equal(sum.processes, 2);
  assert.deepEqual({...sum.connections},
    {websocket: 3, sse: 1, longpoll: 3, total: 7});
  assert.equal(sum.messagesIn, 15);
  assert.equal(sum.messagesOut, 27);
  assert.equal(sum.rateIn, 2);
  assert.equal(sum.rateOut, 4);
  assert.equal(sum.present, 5);
  assert.equal(sum.groups.echo.count, 2);
  // (JSON: the script's arrays are of another realm, which deepEqual tells apart.)
  assert.deepEqual(JSON.parse(JSON.stringify(sum.errors.map((e) => [e.process, e.code]))),
    [['b:2', 'error'], ['a:1', 'refused']]);
});

test('a newer snapshot of a process replaces its last one, keeping its errors', () => {
  const {summarize, record} = load();
  const processes = new Map();
  record(processes, snapshot('a:1', {messagesIn: 10,
    errors: [{n: 1, code: 'refused', client: null, trace: null, at: 1}]}), 1000);
  record(processes, snapshot('a:1', {messagesIn: 12}), 2000);
  const sum = summarize(processes, 2000, 5);
  assert.equal(sum.processes, 1);
  assert.equal(sum.messagesIn, 12);
  assert.equal(sum.errors.length, 1);
});

test('a process not refreshed for `stale` seconds no longer counts, and is pruned', () => {
  const {summarize, record, prune} = load();
  const processes = new Map();
  record(processes, snapshot('gone:1', {messagesIn: 100, connections: {websocket: 9}}), 1000);
  record(processes, snapshot('live:2', {messagesIn: 1, connections: {websocket: 1}}), 6500);
  const sum = summarize(processes, 7000, 5);
  assert.equal(sum.processes, 1);
  assert.equal(sum.messagesIn, 1);
  assert.equal(sum.connections.total, 1);
  prune(processes, 7000, 5);
  assert.deepEqual([...processes.keys()], ['live:2']);
});

test('the errors shown are the newest 50 of all processes', () => {
  const {summarize, record} = load();
  const processes = new Map();
  const errors = (base) => Array.from({length: 40}, (_, i) => (
    {n: i + 1, code: 'refused', client: null, trace: null, at: base + i}));
  record(processes, snapshot('a:1', {errors: errors(0)}), 1000);
  record(processes, snapshot('b:2', {errors: errors(1000)}), 1000);
  const sum = summarize(processes, 1000, 5);
  assert.equal(sum.errors.length, 50);
  assert.equal(sum.errors[0].at, 1039);
  assert.equal(sum.errors[49].at, 30);
});
