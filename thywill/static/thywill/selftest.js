/*
 * selftest.js: the deployment self-test page's checks (documentation/deployment.md,
 * "Self-test"), run in the browser against the self-test endpoints of thywill.urls.
 *
 * Every check has a bound on its time and ends with a verdict: 'ok' (green), 'warn' (amber)
 * or 'fail' (red), a sentence in plain words and, when something is wrong, what to change.
 * The results are also in window.thywillSelftest ({done, results}), for tests.
 */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('thywill-selftest-config').textContent);
  const state = {done: false, results: {}};
  window.thywillSelftest = state;

  const DOCS = 'documentation/deployment.md';
  const WEBSOCKET_TIMEOUT = 5000;   // to open and echo, as thywill.js's own open timeout
  const STREAM_GRACE = 10000;       // beyond what a stream or a hold should take
  const CLOCK_SAMPLES = 3;

  // -------------------------------------------------------------------------------------------
  // Helpers
  // -------------------------------------------------------------------------------------------

  const now = () => performance.now();
  const seconds = (ms) => (ms / 1000).toFixed(1) + ' s';
  const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's');

  function report(name, status, verdict, advice, docAnchor) {
    const doc = advice && docAnchor ? DOCS + '#' + docAnchor : '';
    const result = {status, verdict, advice: advice ? advice + (doc ? ' See ' + doc + '.' : '') : ''};
    state.results[name] = result;
    const item = document.getElementById('check-' + name);
    item.dataset.status = status;
    item.querySelector('.verdict').textContent = verdict;
    const adviceNode = item.querySelector('.advice');
    adviceNode.textContent = advice || '';
    if (doc) {
      const code = document.createElement('code');
      code.className = 'doc';
      code.textContent = doc;
      adviceNode.append(' See ', code, '.');
    }
    return result;
  }

  /** fetch() with a bound: rejects with an AbortError after `ms`. */
  async function boundedFetch(url, ms, handle) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), ms);
    try {
      const response = await fetch(url, {
        signal: controller.signal, cache: 'no-store', credentials: 'same-origin',
      });
      return await handle(response);
    } finally {
      clearTimeout(timer);
    }
  }

  function withQuery(path, params) {
    const url = new URL(path, location.href);
    for (const [key, value] of Object.entries(params)) {
      url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  function socketUrl(path, params) {
    const url = new URL(withQuery(path, params || {}));
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  /**
   * Read an event stream with fetch; resolve with the events, each {type, data, at} (`at`:
   * performance.now() of the chunk that completed it), and how it ended: 'done' (a `done`
   * event), 'ended' (the response ended before one), 'timeout' or 'error'.
   */
  async function readStream(url, ms) {
    const events = [];
    const started = now();
    let ended = 'ended';
    let status = null;
    let contentType = '';
    try {
      await boundedFetch(url, ms, async (response) => {
        status = response.status;
        contentType = response.headers.get('content-type') || '';
        if (!response.ok || !contentType.startsWith('text/event-stream')) {
          ended = 'not-a-stream';
          return;
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const {value, done} = await reader.read();
          if (done) {
            return;
          }
          const at = now();
          buffer += decoder.decode(value, {stream: true});
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const type = /^event: (.*)$/m.exec(block);
            const data = /^data: (.*)$/m.exec(block);
            if (type) {
              events.push({type: type[1], data: data ? JSON.parse(data[1]) : null, at});
              if (type[1] === 'done') {
                ended = 'done';
                reader.cancel().catch(() => {});
                return;
              }
            }
          }
        }
      });
    } catch (error) {
      ended = error.name === 'AbortError' ? 'timeout' : 'error';
    }
    return {events, ended, status, contentType, elapsed: now() - started};
  }

  /** GET a hold endpoint; resolve with {outcome: 'ok'|'status'|'cut'|'timeout', ...}. */
  async function hold(url, holdMs, ms) {
    const started = now();
    try {
      return await boundedFetch(url, ms, async (response) => {
        const text = await response.text();
        const elapsed = now() - started;
        let body = null;
        try {
          body = JSON.parse(text);
        } catch (error) {
          body = null;  // not thywill's answer: a proxy's page
        }
        if (response.ok && body && typeof body.held === 'number') {
          if (body.drained) {
            return {outcome: 'drained', elapsed};  // the server process was stopping
          }
          if (elapsed >= holdMs * 0.9) {
            return {outcome: 'ok', elapsed};
          }
        }
        return {outcome: 'status', status: response.status, elapsed, body};
      });
    } catch (error) {
      const elapsed = now() - started;
      return {outcome: error.name === 'AbortError' ? 'timeout' : 'cut', elapsed};
    }
  }

  /**
   * Open the self-test WebSocket; resolve once it echoed (`echo`), said `idle` (with
   * `idle`), or failed. {outcome: 'ok'|'refused'|'hung'|'thywill'|'closed'|'silent', ...}
   */
  function probeSocket(params, ms) {
    return new Promise((resolve) => {
      const started = now();
      const token = 'ping-' + Math.random().toString(36).slice(2);
      let opened = false;
      let error = null;
      let settled = false;
      let socket;
      const finish = (result) => {
        if (settled) {
          return;
        }
        settled = true;
        clearTimeout(timer);
        result.elapsed = now() - started;
        try {
          socket.close(1000);
        } catch (ignored) {
          // already closed
        }
        resolve(result);
      };
      const timer = setTimeout(
        () => finish({outcome: opened ? 'silent' : 'hung'}), ms);
      try {
        socket = new WebSocket(socketUrl(config.endpoints.websocket, params));
      } catch (failure) {
        finish({outcome: 'refused', code: null, detail: String(failure)});
        return;
      }
      socket.onmessage = (event) => {
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch (ignored) {
          return;
        }
        if (frame.type === 'open') {
          opened = true;
          if (!params.idle) {
            socket.send(token);
          }
        } else if (frame.type === 'echo' && frame.data === token) {
          finish({outcome: 'ok'});
        } else if (frame.type === 'idle') {
          finish({outcome: 'ok'});
        } else if (frame.type === 'error') {
          error = frame.error;
        }
      };
      socket.onclose = (event) => {
        if (error) {
          finish({outcome: 'thywill', code: event.code, error});
        } else {
          finish({outcome: opened ? 'closed' : 'refused', code: event.code});
        }
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // The checks
  // -------------------------------------------------------------------------------------------

  const UPGRADE_ADVICE = 'Pass WebSocket upgrades through every proxy on the way to ' +
    config.endpoints.websocket.replace(/selftest\/$/, '') + ': in nginx, ' +
    'proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; ' +
    'proxy_set_header Connection "upgrade"; in that location (load balancers and CDNs: ' +
    'turn their WebSocket support on). Until then browsers fall back to event streams or ' +
    'long-polling, which cost a request for every message sent.';

  async function checkWebsocket() {
    const used = config.transports.includes('websocket');
    const result = await probeSocket({}, WEBSOCKET_TIMEOUT);
    const bad = used ? 'fail' : 'warn';
    const unused = used ? '' : ' (WebSocket is not in THYWILL_TRANSPORTS, so no client uses it.)';
    if (result.outcome === 'ok') {
      return report('websocket', 'ok',
        'A WebSocket opened and echoed a message in ' + Math.round(result.elapsed) +
        ' ms: upgrades get through.' + unused);
    }
    if (result.outcome === 'refused') {
      return report('websocket', bad,
        'The WebSocket was refused before it opened (close code ' + result.code + '): ' +
        'something between this browser and thywill strips the upgrade.' + unused,
        UPGRADE_ADVICE, 'the-websocket-check');
    }
    if (result.outcome === 'hung') {
      return report('websocket', bad,
        'The WebSocket neither opened nor failed within ' + seconds(WEBSOCKET_TIMEOUT) +
        ': a proxy holds the upgrade without passing it on.' + unused,
        UPGRADE_ADVICE, 'the-websocket-check');
    }
    if (result.outcome === 'thywill') {
      const origin = result.error.code === 'bad_origin'
        ? 'Add the public origin (' + location.origin + ') to CSRF_TRUSTED_ORIGINS, or ' +
          'make the proxy pass the Host header on (proxy_set_header Host $host;).'
        : 'Reload the page, logged in as a staff user.';
      return report('websocket', 'fail',
        'The upgrade got through, but thywill refused the self-test socket (' +
        result.error.code + ': ' + result.error.message + ').', origin, 'the-websocket-check');
    }
    return report('websocket', 'warn',
      'The WebSocket opened, but the echo did not come back (' +
      (result.outcome === 'closed' ? 'closed with code ' + result.code : 'no answer in ' +
        seconds(WEBSOCKET_TIMEOUT)) + '): a proxy may pass the upgrade but not the frames.',
      UPGRADE_ADVICE, 'the-websocket-check');
  }

  const BUFFER_ADVICE = 'Turn response buffering off for ' +
    config.endpoints.sse.replace(/selftest\/$/, '') + ': in nginx, proxy_buffering off; ' +
    'in that location. thywill sends X-Accel-Buffering: no with every event stream, which ' +
    'nginx obeys; another proxy or a CDN on the way ignores it, or strips it before nginx, ' +
    'and needs its own switch. Until then browsers fall back to long-polling.';

  async function checkSse() {
    const {events: count, interval} = config.sse;
    const sentSpan = count * interval * 1000;
    const result = await readStream(
      withQuery(config.endpoints.sse, {events: count, interval}), sentSpan + STREAM_GRACE);
    const opened = result.events.find((event) => event.type === 'open');
    const ticks = result.events.filter((event) => event.type === 'tick');
    if (result.ended === 'not-a-stream') {
      return report('sse', 'fail',
        'The event stream was answered ' + result.status + ' (' +
        (result.contentType || 'no content type') + ') instead of a stream: something ' +
        'between this browser and thywill answers in its place.',
        'Check that ' + config.endpoints.sse + ' reaches thywill (the proxy\'s location ' +
        'and error log).', 'the-event-stream-check');
    }
    if (!opened || ticks.length < count || result.ended !== 'done') {
      const what = result.ended === 'timeout'
        ? 'nothing more arrived within ' + seconds(sentSpan + STREAM_GRACE)
        : 'the stream was cut';
      return report('sse', 'fail',
        plural(ticks.length, 'event') + ' of ' + count + ' arrived, then ' + what +
        (opened ? '' : ', and not even the first event arrived') +
        ': a proxy holds event streams back (it buffers them) or cuts them.',
        BUFFER_ADVICE, 'the-event-stream-check');
    }
    const arrivedSpan = ticks[ticks.length - 1].at - opened.at;
    const ratio = arrivedSpan / sentSpan;
    const sent = count + ' events sent ' + Math.round(interval * 1000) + ' ms apart (' +
      seconds(sentSpan) + ' in all)';
    if (ratio >= 0.6) {
      return report('sse', 'ok',
        'The ' + sent + ' arrived as they were sent, over ' + seconds(arrivedSpan) +
        ': event streams are not buffered.');
    }
    if (ratio < 0.2) {
      return report('sse', 'fail',
        'The ' + sent + ' arrived all at once at the end (within ' +
        Math.round(arrivedSpan) + ' ms): a proxy buffers event streams.',
        BUFFER_ADVICE, 'the-event-stream-check');
    }
    return report('sse', 'warn',
      'The ' + sent + ' arrived bunched together, over ' + seconds(arrivedSpan) +
      ': something on the way holds parts of event streams back.',
      BUFFER_ADVICE, 'the-event-stream-check');
  }

  function cutAdvice(setting, value, elapsed, location) {
    const raise = 'Raise the idle (read) timeout of every proxy and load balancer on the ' +
      'way to ' + location + ' above ' + value + ' s: in nginx, proxy_read_timeout ' +
      Math.max(60, Math.ceil(value * 2)) + 's; in that location (cloud load balancers have ' +
      'an idle timeout of their own, often 60 s).';
    // Lowering thywill's own silence below the cut helps only when it leaves room for one.
    const below = Math.floor(elapsed / 1000) - 5;
    return below >= 5
      ? raise + ' Or lower THYWILL_LIMITS["' + setting + '"] (now ' + value + ' s) below ' +
        below + ' s.'
      : raise + ' THYWILL_LIMITS["' + setting + '"] is ' + value + ' s; a cut this early ' +
        'is no idle timeout thywill can stay under: look for what drops connections.';
  }

  const RESTARTED = 'The server process answering was stopping (a restart) during the ' +
    'check, and answered early: open the page again.';

  async function checkLongpoll() {
    const holdMs = config.longpollHold * 1000;
    const result = await hold(
      withQuery(config.endpoints.longpoll, {hold: config.longpollHold}), holdMs,
      holdMs + STREAM_GRACE);
    if (result.outcome === 'ok') {
      return report('longpoll', 'ok',
        'A long-poll held ' + seconds(holdMs) + ' by thywill arrived after ' +
        seconds(result.elapsed) + ', whole.');
    }
    if (result.outcome === 'drained') {
      return report('longpoll', 'warn', RESTARTED);
    }
    if (result.outcome === 'timeout') {
      return report('longpoll', 'fail',
        'A long-poll held ' + seconds(holdMs) + ' had no answer after ' +
        seconds(result.elapsed) + ': a proxy holds the answers back.',
        'Turn response buffering off for ' + config.endpoints.longpoll.replace(/selftest\/$/, '') +
        ' (nginx: proxy_buffering off;).', 'the-long-poll-check');
    }
    const how = result.outcome === 'cut'
      ? 'was cut after ' + seconds(result.elapsed)
      : 'was answered ' + result.status + ' after ' + seconds(result.elapsed) +
        ' by something other than thywill';
    return report('longpoll', 'fail',
      'A long-poll held ' + seconds(holdMs) + ' ' + how + '.',
      cutAdvice('LONGPOLL_TIMEOUT', config.limits.longpollTimeout, result.elapsed,
        config.endpoints.longpoll.replace(/selftest\/$/, '')), 'the-long-poll-check');
  }

  async function checkIdle(websocketWorks) {
    const {limits, idle} = config;
    const requested = idle.requested;
    const longpollHold = requested !== null ? requested : idle.longpoll;
    const streamHold = requested !== null ? requested : idle.stream;
    const probes = [
      hold(withQuery(config.endpoints.longpoll, {hold: longpollHold}), longpollHold * 1000,
        longpollHold * 1000 + STREAM_GRACE).then((result) => ({
        name: 'long-poll', held: longpollHold, result, setting: 'LONGPOLL_TIMEOUT',
        value: limits.longpollTimeout, location: config.endpoints.longpoll,
      })),
      readStream(withQuery(config.endpoints.sse, {idle: streamHold, events: 1, interval: 0}),
        streamHold * 1000 + STREAM_GRACE).then((stream) => ({
        name: 'event stream', held: streamHold, setting: 'SSE_KEEPALIVE',
        value: limits.sseKeepalive, location: config.endpoints.sse,
        result: stream.ended === 'done' ? {outcome: 'ok', elapsed: stream.elapsed}
          : {outcome: stream.ended === 'timeout' ? 'timeout' : 'cut',
            elapsed: stream.elapsed, status: stream.status},
      })),
    ];
    if (websocketWorks) {
      probes.push(probeSocket({idle: streamHold}, streamHold * 1000 + STREAM_GRACE)
        .then((result) => ({
          name: 'WebSocket', held: streamHold, setting: 'SSE_KEEPALIVE',
          value: limits.sseKeepalive, location: config.endpoints.websocket,
          result: result.outcome === 'ok' ? result
            : {outcome: result.outcome === 'silent' ? 'timeout' : 'cut',
              elapsed: result.elapsed},
        })));
    }
    const done = await Promise.all(probes);
    const failed = done.filter((probe) => !['ok', 'drained'].includes(probe.result.outcome));
    if (!failed.length && done.some((probe) => probe.result.outcome === 'drained')) {
      return report('idle', 'warn', RESTARTED);
    }
    const needs = 'thywill holds a long-poll up to LONGPOLL_TIMEOUT (' + limits.longpollTimeout +
      ' s) and leaves a stream or socket silent up to SSE_KEEPALIVE (' + limits.sseKeepalive +
      ' s) between heartbeats';
    if (!failed.length) {
      const names = done.map((probe) => (/^[aeiou]/i.test(probe.name) ? 'an ' : 'a ') +
        probe.name + ' ' + probe.held + ' s').join(', ');
      const short = done.some((probe) => probe.held < probe.value)
        ? ' These holds were shorter than ' + needs + ' (?idle=' + requested + '): they ' +
          'show no cut within that time only. Open the page without ?idle= for the full check.'
        : ' ' + needs[0].toUpperCase() + needs.slice(1) + ': these holds cover both.';
      return report('idle', 'ok', 'Idle connections stayed open: ' + names + '.' + short);
    }
    const lines = failed.map((probe) => {
      const {outcome, elapsed, status} = probe.result;
      const how = outcome === 'timeout' ? 'had no answer within ' + seconds(elapsed)
        : outcome === 'status' ? 'was answered ' + status + ' after ' + seconds(elapsed)
          : 'was cut after ' + seconds(elapsed);
      return 'A silent ' + probe.name + ' held ' + probe.held + ' s ' + how + '.';
    });
    const advice = failed.map((probe) => cutAdvice(probe.setting, probe.value,
      probe.result.elapsed, probe.location.replace(/selftest\/$/, '')));
    return report('idle', 'fail', lines.join(' ') + ' (' + needs + '.)',
      [...new Set(advice)].join(' '), 'the-idle-connection-check');
  }

  async function checkClock() {
    const samples = [];
    for (let i = 0; i < CLOCK_SAMPLES; i += 1) {
      const before = Date.now();
      try {
        const body = await boundedFetch(config.endpoints.clock, 5000, (r) => r.json());
        const after = Date.now();
        samples.push({offset: body.now - (before + after) / 2, rtt: after - before});
      } catch (error) {
        break;
      }
    }
    if (!samples.length) {
      return report('clock', 'warn', 'The server\'s clock could not be read.', '', null);
    }
    const best = samples.reduce((a, b) => (a.rtt <= b.rtt ? a : b));
    const offsets = samples.map((sample) => sample.offset);
    const spread = Math.max(...offsets) - Math.min(...offsets);
    const warnMs = config.clockWarning * 1000;
    const direction = best.offset >= 0 ? 'ahead of' : 'behind';
    const difference = 'The server\'s clock is ' + seconds(Math.abs(best.offset)) + ' ' +
      direction + ' this browser\'s (± ' + seconds(best.rtt / 2) + ')';
    const ntp = 'thywill\'s tokens carry the time they were issued, and every server process ' +
      'judges their age by its own clock: keep the servers\' clocks synchronised (NTP: ' +
      'chrony or systemd-timesyncd). If only this computer\'s clock is wrong, nothing needs ' +
      'changing on the server.';
    if (spread > warnMs) {
      return report('clock', 'warn',
        'The server clocks of ' + samples.length + ' answers differ by ' + seconds(spread) +
        ': behind a load balancer, the server processes disagree about the time.', ntp,
        'the-clock-check');
    }
    if (Math.abs(best.offset) > warnMs) {
      return report('clock', 'warn', difference + ', more than ' + config.clockWarning +
        ' s.', ntp, 'the-clock-check');
    }
    return report('clock', 'ok', difference + ': close enough.');
  }

  async function run() {
    const pending = (name) => {
      const item = document.getElementById('check-' + name);
      item.dataset.status = 'running';
      item.querySelector('.verdict').textContent = 'Checking…';
    };
    ['websocket', 'sse', 'longpoll', 'clock'].forEach(pending);
    await checkClock();
    const [websocket] = await Promise.all([checkWebsocket(), checkSse(), checkLongpoll()]);
    pending('idle');
    await checkIdle(websocket.status === 'ok');
    const results = Object.values(state.results);
    const failures = results.filter((result) => result.status === 'fail').length;
    const warnings = results.filter((result) => result.status === 'warn').length;
    const summary = document.getElementById('selftest-summary');
    summary.dataset.status = failures ? 'fail' : warnings ? 'warn' : 'ok';
    const found = [];
    if (failures) {
      found.push(plural(failures, 'problem'));
    }
    if (warnings) {
      found.push(plural(warnings, 'warning'));
    }
    summary.textContent = found.length
      ? found.join(' and ') + ': see below.'
      : 'All clear: every check passed.';
    state.done = true;
  }

  run().catch((error) => {
    const summary = document.getElementById('selftest-summary');
    summary.dataset.status = 'fail';
    summary.textContent = 'The self-test itself failed: ' + error;
    state.error = String(error);
    state.done = true;
  });
}());
