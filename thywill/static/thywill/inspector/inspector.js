/*
 * thywill's inspector page. Every server process pushes a snapshot of itself to this page
 * about once a second (inspector.snapshot: its open connections by transport, messages in
 * and out, its latest errors, and what the push backend says of groups and presence).
 * The page keeps the latest snapshot of each process, drops one not refreshed for
 * `stale` seconds (a stopped process), and shows the sums. The sparkline is drawn on a
 * <canvas> by this script: no library, nothing inline (the page runs under thywill's CSP).
 *
 * summarize() is pure, and exported as window.ThywillInspector for the tests.
 */
(function (root) {
  'use strict';

  const TRANSPORTS = ['websocket', 'sse', 'longpoll'];
  const HISTORY = 60;  // seconds of rates the sparkline shows
  const ERRORS_SHOWN = 50;

  /**
   * The sums over the processes whose snapshot is fresh.
   * @param {Map<string, {snapshot: object, seen: number, errors: object[]}>} processes
   * @param {number} now  milliseconds, as `seen`
   * @param {number} stale  seconds after which a process no longer counts
   */
  function summarize(processes, now, stale) {
    const sum = {
      processes: 0,
      connections: {websocket: 0, sse: 0, longpoll: 0, total: 0},
      messagesIn: 0, messagesOut: 0, rateIn: 0, rateOut: 0,
      present: null, groups: null, errors: [],
    };
    let newest = -Infinity;
    for (const [process, entry] of processes) {
      if (now - entry.seen > stale * 1000) {
        continue;
      }
      const snapshot = entry.snapshot;
      sum.processes += 1;
      for (const transport of Object.keys(snapshot.connections || {})) {
        const open = Number(snapshot.connections[transport]) || 0;
        sum.connections[transport] = (sum.connections[transport] || 0) + open;
        sum.connections.total += open;
      }
      sum.messagesIn += Number(snapshot.messagesIn) || 0;
      sum.messagesOut += Number(snapshot.messagesOut) || 0;
      sum.rateIn += Number(snapshot.rateIn) || 0;
      sum.rateOut += Number(snapshot.rateOut) || 0;
      // Groups and presence are the push backend's, the same from every process: the
      // newest reading wins.
      if (entry.seen > newest) {
        newest = entry.seen;
        sum.present = snapshot.present === undefined ? null : snapshot.present;
        sum.groups = snapshot.groups || null;
      }
      for (const error of entry.errors || []) {
        sum.errors.push(Object.assign({process}, error));
      }
    }
    sum.errors.sort((a, b) => b.at - a.at);
    sum.errors = sum.errors.slice(0, ERRORS_SHOWN);
    return sum;
  }

  /** Forgets the processes not heard of for `stale` seconds; keeps memory bounded. */
  function prune(processes, now, stale) {
    for (const [process, entry] of processes) {
      if (now - entry.seen > stale * 1000) {
        processes.delete(process);
      }
    }
  }

  /** Records a snapshot: it replaces the process's last one (errors kept if absent). */
  function record(processes, snapshot, now) {
    const previous = processes.get(snapshot.process);
    const errors = Array.isArray(snapshot.errors) ? snapshot.errors
      : (previous ? previous.errors : []);
    processes.set(snapshot.process, {snapshot, seen: now, errors});
  }

  root.ThywillInspector = {summarize, prune, record};

  if (typeof document === 'undefined' || !root.thywill) {
    return;  // loaded by the tests, or without thywill.js
  }
  const thywill = root.thywill;

  const processes = new Map();
  const history = {in: [], out: []};
  let ui = null;

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function figure(id, label) {
    const box = element('div', {class: 'inspector-figure'});
    const value = element('span', {id, class: 'inspector-value'}, '–');
    box.append(value, element('span', {class: 'inspector-label'}, label));
    return {box, value};
  }

  function buildUi() {
    if (ui) {
      return ui;
    }
    const main = document.getElementById('thywill-app') || document.body;
    const status = element('p', {id: 'inspector-status', class: 'inspector-status', role: 'status'});
    const figures = {};
    const grid = element('div', {class: 'inspector-grid'});
    const shown = [
      ['connections', 'connections open'],
      ...TRANSPORTS.map((t) => ['conn-' + t, t]),
      ['rate-in', 'messages in /s'], ['rate-out', 'messages out /s'],
      ['messages-in', 'messages in (total)'], ['messages-out', 'messages out (total)'],
      ['present', 'clients present'], ['processes', 'server processes'],
    ];
    for (const [key, label] of shown) {
      figures[key] = figure('inspector-' + key, label);
      grid.append(figures[key].box);
    }
    const canvas = element('canvas', {id: 'inspector-sparkline', class: 'inspector-sparkline',
      width: '600', height: '80', role: 'img', 'aria-label': 'Messages per second, last minute'});
    const legend = element('p', {class: 'inspector-legend'});
    legend.append(element('span', {class: 'inspector-key-in'}, 'in'), ' and ',
      element('span', {class: 'inspector-key-out'}, 'out'), ', messages per second, last minute');
    const groups = element('tbody', {id: 'inspector-groups'});
    const groupTable = element('table', {class: 'inspector-table'});
    const groupHead = element('thead');
    groupHead.append(row(['application', 'groups', 'first groups (members)'], 'th'));
    groupTable.append(groupHead, groups);
    const errors = element('tbody', {id: 'inspector-errors'});
    const errorTable = element('table', {class: 'inspector-table'});
    const errorHead = element('thead');
    errorHead.append(row(['time', 'code', 'client', 'trace', 'process'], 'th'));
    errorTable.append(errorHead, errors);
    main.append(
      element('h1', {}, 'Inspector'),
      status, grid, canvas, legend,
      element('h2', {}, 'Groups'), groupTable,
      element('h2', {}, 'Latest errors'), errorTable,
    );
    ui = {status, figures, canvas, groups, errors};
    thywill.onStateChange(showState);
    showState(thywill.state);
    return ui;
  }

  function row(cells, tag) {
    const tr = element('tr');
    for (const cell of cells) {
      tr.append(element(tag || 'td', {}, cell === null || cell === undefined ? '–' : String(cell)));
    }
    return tr;
  }

  function showState(state) {
    ui.status.dataset.state = state;
    ui.status.textContent = 'Status: ' + state + (thywill.transport ? ' (' + thywill.transport + ')' : '');
  }

  function number(value, digits) {
    return value === null || value === undefined ? '–'
      : Number(value).toLocaleString('en', {maximumFractionDigits: digits || 0});
  }

  function render() {
    const config = (thywill.config && thywill.config.app) || {};
    const stale = Number(config.stale) || 5;
    const now = Date.now();
    prune(processes, now, stale);
    const sum = summarize(processes, now, stale);
    const f = ui.figures;
    f.connections.value.textContent = number(sum.connections.total);
    for (const transport of TRANSPORTS) {
      f['conn-' + transport].value.textContent = number(sum.connections[transport]);
    }
    f['rate-in'].value.textContent = number(sum.rateIn, 1);
    f['rate-out'].value.textContent = number(sum.rateOut, 1);
    f['messages-in'].value.textContent = number(sum.messagesIn);
    f['messages-out'].value.textContent = number(sum.messagesOut);
    f.present.value.textContent = number(sum.present);
    f.processes.value.textContent = number(sum.processes);
    ui.figures['messages-in'].value.dataset.value = String(sum.messagesIn);
    ui.figures.connections.value.dataset.value = String(sum.connections.total);
    renderGroups(sum.groups);
    renderErrors(sum.errors);
    return sum;
  }

  function renderGroups(groups) {
    const rows = [];
    for (const [application, info] of Object.entries(groups || {})) {
      const shown = (info.shown || []).map(([name, size]) => name + ' (' + size + ')');
      const more = info.count > shown.length ? ', …' : '';
      rows.push(row([application, info.count, shown.join(', ') + more]));
    }
    ui.groups.replaceChildren(...rows);
  }

  function renderErrors(errors) {
    ui.errors.replaceChildren(...errors.map((error) => row([
      new Date(error.at * 1000).toLocaleTimeString('en-GB'),
      error.code, error.client, error.trace, error.process,
    ])));
  }

  function tick() {
    const sum = render();
    history.in.push(sum.rateIn);
    history.out.push(sum.rateOut);
    for (const series of [history.in, history.out]) {
      while (series.length > HISTORY) {
        series.shift();
      }
    }
    draw();
  }

  function draw() {
    const canvas = ui.canvas;
    const ratio = root.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 80;
    if (canvas.width !== Math.round(width * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const context = canvas.getContext('2d');
    if (!context) {
      return;
    }
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const top = Math.max(1, ...history.in, ...history.out);
    const style = getComputedStyle(canvas);
    const line = (series, colour) => {
      if (series.length < 2) {
        return;
      }
      context.beginPath();
      context.strokeStyle = colour;
      context.lineWidth = 1.5;
      series.forEach((value, index) => {
        const x = width - (series.length - 1 - index) * (width / (HISTORY - 1));
        const y = height - 2 - (value / top) * (height - 4);
        if (index === 0) {
          context.moveTo(x, y);
        } else {
          context.lineTo(x, y);
        }
      });
      context.stroke();
    };
    line(history.in, style.getPropertyValue('--inspector-in').trim() || '#1a5fb4');
    line(history.out, style.getPropertyValue('--inspector-out').trim() || '#c64600');
    context.fillStyle = style.color || '#555';
    context.font = '11px system-ui, sans-serif';
    context.fillText(number(top, 1) + ' /s', 4, 12);
  }

  function onMessage(data) {
    if (data && data.type === 'inspector.snapshot' && typeof data.process === 'string') {
      record(processes, data, Date.now());
      render();
    }
  }

  function start() {
    buildUi();
    thywill.onMessage(onMessage);
    tick();
    setInterval(tick, 1000);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', buildUi);
  } else {
    buildUi();
  }
  thywill.ready(start);
})(typeof window !== 'undefined' ? window : globalThis);
