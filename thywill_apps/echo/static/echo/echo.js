/*
 * echo: the round-trip proof of concept. Each text sent goes to the server, whose handler
 * sends the same data back to this client only; the page shows it when it comes back.
 *
 * The page is built at once (so that it is never blank), with its status line following
 * thywill's state; the rest is set up by start(), which thywill calls once it is connected.
 */
(function () {
  'use strict';

  const EXCERPT = 200;  // the most characters of a refused message shown

  let ui = null;
  let started = false;

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

  /** Builds the page inside <main id="thywill-app"> (once). */
  function buildUi() {
    if (ui) {
      return ui;
    }
    const root = document.getElementById('thywill-app') || document.body;
    const status = element('p', {id: 'echo-status', class: 'echo-status', role: 'status'});
    const input = element('input', {
      id: 'echo-input', type: 'text', name: 'text', autocomplete: 'off', autofocus: '',
      'aria-label': 'Message', placeholder: 'Type a message',
    });
    const button = element('button', {type: 'submit'}, 'Send');
    const form = element('form', {id: 'echo-form', class: 'echo-form'});
    form.append(input, button);
    const error = element('p', {id: 'echo-error', class: 'echo-error', role: 'alert'});
    const log = element('ol', {id: 'echo-log', class: 'echo-log', 'aria-live': 'polite'});
    root.append(
      element('h1', {}, 'Echo'),
      element('p', {class: 'echo-intro'},
        'Each message you send makes the round trip to the server and comes back to this tab only.'),
      status,
      form,
      error,
      log,
    );
    form.addEventListener('submit', onSubmit);
    input.focus();  // autofocus is not honoured for elements added after the page loaded
    ui = {status, input, button, error, log};
    if (window.thywill) {
      // Watched from the start, not from start(): if the connection never comes (a refused
      // token...), start() never runs and the status must still say 'closed'.
      thywill.onStateChange(showState);
      showState(thywill.state);
    } else {
      showState('closed');
    }
    return ui;
  }

  function showState(state) {
    const transport = window.thywill && window.thywill.transport;
    ui.status.dataset.state = state;
    ui.status.textContent = 'Status: ' + state + (transport ? ' (' + transport + ')' : '');
    ui.button.disabled = state === 'closed';
  }

  function addLine(className, text) {
    const item = element('li', {class: className}, text);
    ui.log.append(item);
    item.scrollIntoView({block: 'nearest'});
  }

  /**
   * A message the server refused: the reason first, then the message, cut to EXCERPT
   * characters with its length when longer (a 100,000-character one would fill screens).
   */
  function addRefused(text, reason) {
    const item = element('li', {class: 'echo-failed'});
    item.append(element('span', {class: 'echo-reason'}, 'Not sent: ' + reason));
    const characters = Array.from(text);  // code points, as the length is counted
    if (characters.length > EXCERPT) {
      const excerpt = characters.slice(0, EXCERPT).join('') + '\u2026';
      const length = characters.length.toLocaleString('en') + ' characters in all';
      item.append(element('span', {class: 'echo-text'}, excerpt),
        element('span', {class: 'echo-length'}, length));
    } else {
      item.append(element('span', {class: 'echo-text'}, text));
    }
    ui.log.append(item);
    item.scrollIntoView({block: 'nearest'});
  }

  function onSubmit(event) {
    event.preventDefault();  // never a real form submission, even before start()
    const text = ui.input.value;
    if (!started) {
      ui.error.textContent = 'Not connected yet: try again in a moment.';
      return;
    }
    if (text.trim() === '') {
      ui.error.textContent = 'A message cannot be empty: type something first.';
      ui.input.focus();
      return;
    }
    ui.error.textContent = '';
    ui.input.value = '';
    ui.input.focus();
    thywill.send({text}).catch((error) => addRefused(text, error.message || error.code));
  }

  function onMessage(data) {
    if (data && typeof data.text === 'string') {
      addLine('echo-message', data.text);
    }
  }

  /** Called by thywill once connected: from now on, messages go and come back. */
  function start() {
    buildUi();
    started = true;
    thywill.onMessage(onMessage);
    showState(thywill.state);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', buildUi);
  } else {
    buildUi();
  }
  if (window.thywill) {
    thywill.ready(start);
  } else {
    console.error('echo: thywill.js is not loaded');
  }
})();
