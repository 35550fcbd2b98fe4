/*
 * tictactoe: the page of one room. The room is named in the address (?room=...; a new page
 * gets a random one), so the address is the invitation. The page asks to join the room as a
 * player; when the room's hook scripts refuse ("Room full: you are watching.") it watches
 * instead, and offers a seat that frees up (its player gone). Every move is sent to the
 * server, which alone decides: a refused move shows the reason the hook gave. The server's
 * ttt.state messages are the only thing drawn.
 *
 * A seat is this tab's: the page names the tab with a key kept in sessionStorage, the same
 * across reloads (a reloaded page is a new thywill client) and different in another tab.
 */
(function () {
  'use strict';

  const ROOM_NAME = /^[a-z0-9-]{1,32}$/;
  const TAB_KEY = 'thywill.tictactoe.tab';  // sessionStorage: this tab's key
  const LAYOUT = `
    <header class="ttt-header">
      <h1>Tic-tac-toe</h1>
      <p id="ttt-connection" class="ttt-connection" role="status"></p>
    </header>
    <p id="ttt-message" class="ttt-message" aria-live="polite">Joining the room…</p>
    <div id="ttt-board" class="ttt-board" role="group" aria-label="Board"></div>
    <p id="ttt-notice" class="ttt-notice" role="alert" hidden></p>
    <p class="ttt-actions">
      <button id="ttt-rematch" class="ttt-rematch" type="button" hidden>New game</button>
      <button id="ttt-sit" class="ttt-rematch" type="button" hidden>Take the free seat</button>
    </p>
    <section class="ttt-room" aria-label="Room">
      <p class="ttt-room-line">Room <strong id="ttt-room-name"></strong>
        <span id="ttt-seats" class="ttt-seats"></span></p>
      <label class="ttt-invite">Invite a friend with this link
        <span class="ttt-invite-row">
          <input id="ttt-invite" type="text" readonly>
          <button id="ttt-copy" type="button">Copy</button>
        </span>
      </label>
      <p><a id="ttt-new-room" href="">Play in a new room</a></p>
    </section>`;

  let ui = null;
  let room = null;
  let tab = null;
  let you = null;      // 'X', 'O', or null when watching
  let current = null;  // the newest ttt.state drawn

  function randomName(length) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    return Array.from(bytes, (b) => 'abcdefghijkmnpqrstuvwxyz23456789'[b % 32]).join('');
  }

  function randomRoom() {
    return randomName(6);
  }

  /**
   * This tab's key: kept for its reloads, new otherwise. A tab the browser duplicated
   * starts with a copy of the sessionStorage of its original, whose seat is not its own.
   */
  function tabKey() {
    const [navigation] = performance.getEntriesByType('navigation');
    const reloaded = navigation !== undefined && navigation.type === 'reload';
    try {
      let key = sessionStorage.getItem(TAB_KEY);
      if (!reloaded || !key || !/^[a-z0-9]{16}$/.test(key)) {
        key = randomName(16);
        sessionStorage.setItem(TAB_KEY, key);
      }
      return key;
    } catch (ignored) {
      return randomName(16);  // storage disabled: a reload is a new player
    }
  }

  /** The room the address names (cleaned), or a new one written into the address. */
  function roomFromAddress() {
    const params = new URLSearchParams(location.search);
    const asked = (params.get('room') || '').toLowerCase().replace(/[^a-z0-9-]/g, '').slice(0, 32);
    const name = ROOM_NAME.test(asked) ? asked : randomRoom();
    if (params.get('room') !== name) {
      params.set('room', name);
      history.replaceState(null, '', location.pathname + '?' + params.toString());
    }
    return name;
  }

  /** This page's address with another room (the forced transport, if any, kept). */
  function addressOf(name, keepTransport) {
    const params = new URLSearchParams(keepTransport ? location.search : '');
    params.set('room', name);
    return location.pathname + '?' + params.toString();
  }

  function buildUi() {
    if (ui) {
      return;
    }
    room = roomFromAddress();
    tab = tabKey();
    const root = document.getElementById('thywill-app') || document.body;
    root.innerHTML = LAYOUT;
    const byId = (id) => document.getElementById(id);
    ui = {
      connection: byId('ttt-connection'),
      message: byId('ttt-message'),
      board: byId('ttt-board'),
      notice: byId('ttt-notice'),
      rematch: byId('ttt-rematch'),
      sit: byId('ttt-sit'),
      seats: byId('ttt-seats'),
      invite: byId('ttt-invite'),
      copy: byId('ttt-copy'),
      cells: [],
    };
    for (let cell = 0; cell < 9; cell += 1) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'ttt-cell';
      button.dataset.cell = String(cell);
      button.addEventListener('click', () => act({type: 'ttt.move', room, cell}));
      ui.cells.push(button);
      ui.board.append(button);
    }
    byId('ttt-room-name').textContent = room;
    ui.invite.value = new URL(addressOf(room, false), location.href).href;
    ui.invite.addEventListener('focus', () => ui.invite.select());
    ui.copy.addEventListener('click', copyInvite);
    byId('ttt-new-room').href = addressOf(randomRoom(), true);
    ui.rematch.addEventListener('click', () => act({type: 'ttt.rematch', room}));
    ui.sit.addEventListener('click', enter);
    drawCells(null);
    if (window.thywill) {
      thywill.onStateChange(showConnection);
      showConnection(thywill.state);
    } else {
      showConnection('closed');
    }
  }

  function showConnection(state) {
    const transport = window.thywill && window.thywill.transport;
    ui.connection.dataset.state = state;
    ui.connection.textContent = state + (transport ? ' · ' + transport : '');
  }

  function copyInvite() {
    ui.invite.select();
    const done = () => {
      ui.copy.textContent = 'Copied';
      setTimeout(() => { ui.copy.textContent = 'Copy'; }, 1500);
    };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(ui.invite.value).then(done, () => {});
    }
  }

  function showNotice(text, kind) {
    ui.notice.textContent = text;
    ui.notice.dataset.kind = kind;
    ui.notice.hidden = false;
  }

  function clearNotice() {
    ui.notice.hidden = true;
    ui.notice.textContent = '';
  }

  /** Send a move or a new game; the server's refusal, if any, is shown as it gave it. */
  function act(data) {
    if (!window.thywill) {
      return;
    }
    thywill.send(data).then(clearNotice, (error) => showNotice(error.message, 'refused'));
  }

  /** Join as a player, or, when the room is full, watch (saying why). */
  function enter() {
    thywill.send({type: 'ttt.join', room, tab}).then(clearNotice, (error) => {
      if (error.code !== 'room_full') {
        throw error;
      }
      showNotice(error.message, 'info');
      return thywill.send({type: 'ttt.watch', room});
    }).catch((error) => showNotice(error.message, 'refused'));
  }

  function headline(state) {
    const {status, turn, winner} = state;
    if (status === 'waiting') {
      return you ? 'You are ' + you + '. Waiting for an opponent: send them the link below.'
        : 'Waiting for players: a seat is free.';
    }
    if (status === 'won') {
      if (!you) {
        return winner + ' wins.';
      }
      return winner === you ? 'You win!' : 'You lose: ' + winner + ' wins.';
    }
    if (status === 'draw') {
      return 'Draw: nobody wins.';
    }
    const fresh = state.board.every((mark) => mark === '');
    if (!you) {
      return 'You are watching. ' + turn + (fresh ? ' starts.' : ' to play.');
    }
    if (turn === you) {
      return 'You are ' + you + '. ' + (fresh ? 'You start.' : 'Your turn.');
    }
    return 'You are ' + you + '. ' + turn + (fresh ? ' starts.' : ' to play.');
  }

  function drawCells(state) {
    const line = state && state.line ? state.line : [];
    ui.cells.forEach((button, cell) => {
      const mark = state ? state.board[cell] : '';
      button.textContent = mark;
      button.dataset.mark = mark;
      button.classList.toggle('ttt-line', line.includes(cell));
      const row = Math.floor(cell / 3) + 1;
      const column = (cell % 3) + 1;
      button.setAttribute('aria-label',
        'Row ' + row + ', column ' + column + ': ' + (mark || 'empty'));
    });
  }

  function draw() {
    const state = current;
    const root = document.getElementById('thywill-app');
    root.dataset.status = state.status;
    root.dataset.you = you || 'watching';
    root.dataset.turn = state.turn;
    ui.message.textContent = headline(state);
    const yourTurn = state.status === 'playing' && state.turn === you;
    ui.board.classList.toggle('ttt-your-turn', yourTurn);
    drawCells(state);
    const over = state.status === 'won' || state.status === 'draw';
    ui.rematch.hidden = !(over && you);
    ui.rematch.textContent = 'New game (' + (state.starter === 'X' ? 'O' : 'X') + ' starts)';
    ui.sit.hidden = Boolean(you) || (state.seats.X && state.seats.O);
    const seat = (mark) => mark + (mark === you ? ' (you)' : state.seats[mark] ? '' : ' (free)');
    ui.seats.textContent = '· ' + seat('X') + ' vs ' + seat('O') + ' · game ' + state.round;
  }

  function onMessage(data) {
    if (!data || data.type !== 'ttt.state' || data.room !== room) {
      return;
    }
    if ('you' in data) {
      you = data.you;  // this page's own answer to its join or watch
    }
    // A room's state and this page's own answer travel on different channels: never
    // draw an older state over a newer one.
    if (!current || data.version >= current.version) {
      current = data;
    }
    draw();
  }

  function start() {
    buildUi();
    thywill.onMessage(onMessage);
    // Back after a reset (history lost), or after any reconnection (away long enough, a
    // client leaves its groups): ask for the room's game again. A join is idempotent.
    thywill.onReset(enter);
    let previous = thywill.state;
    thywill.onStateChange((state) => {
      if (state === 'connected' && previous === 'reconnecting') {
        enter();
      }
      previous = state;
    });
    showConnection(thywill.state);
    enter();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', buildUi);
  } else {
    buildUi();
  }
  if (window.thywill) {
    thywill.ready(start);
  } else {
    console.error('tictactoe: thywill.js is not loaded');
  }
})();
