/*
 * chat: the page. Pick a nickname, pick or create a room, talk; see who is here.
 *
 * The server is the truth; the page asks it and shows the answers (README.md gives the
 * messages both ways). What the person chose, the nickname and the room, is kept in this
 * tab's sessionStorage: a reloaded page is a new thywill client, so when the server greets
 * it (chat.hello), and after a reset, the page tells the server both again. A new tab
 * starts from the last nickname typed in this browser (localStorage), as a "fresh" one:
 * the server gives it "Alice 2" while another tab is Alice.
 *
 * Right after joining a room the page asks for its history and its people: asked then,
 * after the join took effect, nothing said or done around the join is missed. Messages
 * carry ids, so one seen twice (in the history and live) is shown once, in id order. The
 * list of people is asked again whenever someone joins or leaves the room (thywill's own
 * thywill.join / thywill.leave events on the room's group), at most one request at a time.
 */
(function () {
  'use strict';

  if (!window.thywill) {
    console.error('chat: thywill.js is not loaded');
    return;
  }
  const SAVED = 'thywill.chat';          // sessionStorage: {nick, room} of this tab
  const LAST_NICK = 'thywill.chat.nick'; // localStorage: the last nickname typed, for new tabs

  const state = {
    nick: null,      // as the server confirmed it
    room: null,      // the room the server says we are in, and its group
    group: null,
    rooms: [],
    people: null,    // who is in the room, once known
    renaming: false,
  };
  let ui = null;

  // --- Building the page ----------------------------------------------------------------

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  /** A form of one text field and a button, with the line that shows its refusals. */
  function textForm(id, label, placeholder, button, maxLength) {
    const input = element('input', {
      id: id + '-input', type: 'text', autocomplete: 'off', 'aria-label': label,
      placeholder, maxlength: String(maxLength),
    });
    const error = element('p', {id: id + '-error', class: 'chat-error', role: 'alert'});
    const form = element('form', {id: id + '-form', class: 'chat-form'},
      element('div', {class: 'chat-form-row'}, input,
        element('button', {type: 'submit'}, button)),
      error);
    return {form, input, error};
  }

  function buildUi() {
    const limits = thywill.config.app;
    const root = document.getElementById('thywill-app') || document.body;
    const status = element('p', {id: 'chat-status', class: 'chat-status', role: 'status'});
    const me = element('strong', {id: 'chat-me'});
    const rename = element('button', {id: 'chat-rename', type: 'button', class: 'chat-link'},
      'Change');
    const nick = textForm('chat-nick', 'Nickname', 'Your nickname', 'Save', limits.maxNick);
    const cancel = element('button', {id: 'chat-nick-cancel', type: 'button',
      class: 'chat-link'}, 'Cancel');
    const roomList = element('ul', {id: 'chat-room-list', class: 'chat-room-list'});
    const create = textForm('chat-create', 'New room', 'New room', 'Create', limits.maxRoom);
    const roomName = element('h2', {id: 'chat-room-name'});
    const leave = element('button', {id: 'chat-leave', type: 'button', class: 'chat-link'},
      'Leave');
    const people = element('ul', {id: 'chat-people', class: 'chat-people',
      'aria-label': 'People in the room'});
    const log = element('ol', {id: 'chat-log', class: 'chat-log', 'aria-live': 'polite'});
    const say = textForm('chat-say', 'Message', 'Say something', 'Send', limits.maxText);

    root.append(
      element('header', {class: 'chat-header'},
        element('h1', {}, 'Chat'),
        status,
        element('p', {class: 'chat-me'}, 'You are ', me, ' ', rename)),
      element('section', {id: 'chat-nick', class: 'chat-nick'},
        element('h2', {}, 'Choose a nickname'),
        element('p', {class: 'chat-hint'}, 'It is how the others will see you.'),
        nick.form,
        cancel),
      element('div', {class: 'chat-main'},
        element('section', {id: 'chat-rooms', class: 'chat-rooms'},
          element('h2', {}, 'Rooms'), roomList, create.form),
        element('section', {id: 'chat-room', class: 'chat-room'},
          element('div', {class: 'chat-room-header'}, roomName, leave),
          people,
          log,
          say.form),
        element('p', {id: 'chat-pick', class: 'chat-pick chat-hint'},
          'Pick a room, or create one.')),
    );
    ui = {root, status, me, nick, roomList, create, roomName, people, log, say};

    nick.form.addEventListener('submit', (event) => {
      const typed = nick.input.value.trim().split(/\s+/).join(' ');  // as the server cleans it
      submitText(nick, event, (text) => ({type: 'chat.nick', nick: text})).then((accepted) => {
        if (accepted) {
          remember(LAST_NICK, typed);
        }
      });
    });
    rename.addEventListener('click', () => {
      state.renaming = true;
      nick.input.value = state.nick || '';
      render();
      nick.input.focus();
    });
    cancel.addEventListener('click', () => {
      state.renaming = false;
      nick.error.textContent = '';
      render();
    });
    create.form.addEventListener('submit', (event) =>
      submitText(create, event, (text) => ({type: 'chat.create', room: text})));
    roomList.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-room]');
      if (button && button.dataset.room !== state.room) {
        attempt(create, {type: 'chat.join', room: button.dataset.room});
      }
    });
    leave.addEventListener('click', () => attempt(say, {type: 'chat.leave'}));
    say.form.addEventListener('submit', (event) =>
      submitText(say, event, (text) => ({type: 'chat.say', text})));

    thywill.onStateChange(showState);
    showState(thywill.state);
    render();
  }

  /**
   * Sends `data` for `form`; a refusal is shown under the form, in the words of the server's
   * pipe or handler ("A message can have at most 500 characters; this one has 612.").
   * Resolves to whether the server accepted it.
   */
  function attempt(form, data) {
    form.error.textContent = '';
    return thywill.send(data).then(() => true, (error) => {
      form.error.textContent = error.message || error.code;
      return false;
    });
  }

  /**
   * Sends the text of a form's field, emptied at once: the person may type the next one
   * while this one travels. A refused text comes back into the field, if it is still empty.
   */
  function submitText(form, event, toData) {
    event.preventDefault();
    const text = form.input.value;
    form.input.value = '';
    return attempt(form, toData(text)).then((accepted) => {
      if (!accepted && form.input.value === '') {
        form.input.value = text;
      }
      return accepted;
    });
  }

  /**
   * A request the page makes by itself (rooms, history, people); the answer comes as a
   * message. The server refuses one only when the room was left meanwhile (the answer no
   * longer matters) or when the connection is closed for good (thywill's banner says so).
   */
  function request(data) {
    return thywill.send(data).catch(() => {});
  }

  function showState(connection) {
    ui.status.dataset.state = connection;
    ui.status.textContent = connection + ' (' + thywill.transport + ')';
  }

  /** Shows the step the person is at: choosing a nickname, picking a room, or in one. */
  function render() {
    ui.root.dataset.step = !state.nick || state.renaming ? 'nick' : state.room ? 'room' : 'rooms';
    ui.root.dataset.renaming = String(state.renaming);
    ui.me.textContent = state.nick || '';
    ui.roomName.textContent = state.room || '';
    ui.roomList.replaceChildren(...state.rooms.map((name) => element('li', {},
      element('button', {type: 'button', class: 'chat-room-button', 'data-room': name,
        'aria-current': String(name === state.room)}, name))));
  }

  // --- Remembering what the person chose --------------------------------------------------

  /** What this tab chose ({nick, room}); a new tab has no nickname of its own yet, and
   * starts from the last one typed in the browser (`fresh`). */
  function saved() {
    try {
      const stored = JSON.parse(sessionStorage.getItem(SAVED) || '{}');
      if (stored.nick) {
        return {nick: stored.nick, room: stored.room || null, fresh: false};
      }
      return {nick: localStorage.getItem(LAST_NICK), room: stored.room || null, fresh: true};
    } catch (ignored) {
      return {nick: null, room: null, fresh: false};  // storage disabled, or not ours
    }
  }

  function save() {
    remember(SAVED, JSON.stringify({nick: state.nick, room: state.room}), 'session');
  }

  /** Stores `value` in localStorage, or in sessionStorage when `where` is 'session'. */
  function remember(key, value, where) {
    try {
      (where === 'session' ? sessionStorage : localStorage).setItem(key, value);
    } catch (ignored) {
      // Storage disabled: a reload starts afresh, nothing else changes.
    }
  }

  /** Tells the server what this tab chose: at its greeting, and after a reset. */
  function resync() {
    const choice = saved();
    if (choice.nick) {
      attempt(ui.nick, {type: 'chat.nick', nick: choice.nick, fresh: choice.fresh});
    }
    request({type: 'chat.rooms'});
    if (choice.room) {
      thywill.send({type: 'chat.join', room: choice.room}).catch(() => {
        state.room = null;  // the room is gone (or the name no longer fits): pick another
        save();
        render();
      });
    }
  }

  /** Shows the rooms (the list asked for, and any created since), once each, sorted. */
  function showRooms(names) {
    state.rooms = [...new Set(names)].sort(
      (a, b) => a.localeCompare(b, undefined, {sensitivity: 'base'}));
    render();
  }

  // --- The room --------------------------------------------------------------------------

  function enterRoom(room, group) {
    if (room !== state.room) {
      ui.log.replaceChildren();
      ui.say.error.textContent = '';
    }
    state.room = room;
    state.group = group;
    state.people = null;
    save();
    render();
    request({type: 'chat.history'});
    askPeople();
    ui.say.input.focus();
  }

  function leftRoom() {
    state.room = null;
    state.group = null;
    state.people = null;
    ui.people.replaceChildren();
    save();
    render();
  }

  /** Shows a message in id order, once. */
  function addMessage(message) {
    if (ui.log.querySelector('li[data-id="' + message.id + '"]')) {
      return;
    }
    const at = new Date(message.at);
    const item = element('li', {class: 'chat-message', 'data-id': String(message.id)},
      element('span', {class: 'chat-author'}, message.nick),
      element('time', {datetime: message.at},
        at.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'})),
      element('div', {class: 'chat-text'}, message.text));
    if (message.nick === state.nick) {
      item.classList.add('chat-mine');
    }
    const later = [...ui.log.querySelectorAll('li[data-id]')]
      .find((other) => Number(other.dataset.id) > message.id);
    appendToLog(item, later);
  }

  function addNotice(text) {
    appendToLog(element('li', {class: 'chat-notice'}, text));
  }

  function appendToLog(item, before) {
    const log = ui.log;
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.insertBefore(item, before || null);
    if (atBottom) {
      log.scrollTop = log.scrollHeight;
    }
  }

  // --- Who is here -----------------------------------------------------------------------

  let askingPeople = false;
  let askAgain = false;

  /** Asks who is in the room; while an answer is awaited, asks once more after it. */
  function askPeople() {
    if (askingPeople) {
      askAgain = true;
      return;
    }
    askingPeople = true;
    request({type: 'chat.people'}).finally(() => {
      askingPeople = false;
      if (askAgain) {
        askAgain = false;
        askPeople();
      }
    });
  }

  /** Shows the people, with a notice for each arrival and departure since the last list. */
  function showPeople(people) {
    if (state.people !== null) {
      for (const name of without(people, state.people)) {
        addNotice(name + ' joined');
      }
      for (const name of without(state.people, people)) {
        addNotice(name + ' left');
      }
    }
    state.people = people;
    ui.people.replaceChildren(...people.map((name) =>
      element('li', name === state.nick ? {class: 'chat-you'} : {}, name)));
  }

  /** The names of `names` not in `others`, counting repeated names (two Alices). */
  function without(names, others) {
    const rest = [...others];
    return names.filter((name) => {
      const index = rest.indexOf(name);
      if (index === -1) {
        return true;
      }
      rest.splice(index, 1);
      return false;
    });
  }

  // --- What the server sends -------------------------------------------------------------

  const handlers = {
    'chat.hello': resync,
    'chat.nick': (data) => {
      state.nick = data.nick;
      state.renaming = false;
      save();
      render();
    },
    // Rooms are never deleted: what is known stays, whichever of these comes first.
    'chat.rooms': (data) => showRooms([...state.rooms, ...data.rooms]),
    'chat.created': (data) => showRooms([...state.rooms, data.room]),
    'chat.joined': (data) => enterRoom(data.room, data.group),
    'chat.left': leftRoom,
    'chat.history': (data) => data.room === state.room && data.messages.forEach(addMessage),
    'chat.said': (data) => data.room === state.room && addMessage(data),
    'chat.people': (data) => data.room === state.room && showPeople(data.people),
    'chat.renamed': (data) => {
      if (data.room === state.room) {
        addNotice(data.from + ' is now ' + data.to);
        if (state.people !== null) {
          state.people = [...without(state.people, [data.from]), data.to];
        }
        askPeople();
      }
    },
    'thywill.join': (data) => data.group === state.group && askPeople(),
    'thywill.leave': (data) => data.group === state.group && askPeople(),
  };

  // Scripts are deferred: the document is parsed, <main id="thywill-app"> is there. thywill
  // delivers nothing before the document has loaded, so no message comes before this runs.
  buildUi();
  thywill.onMessage((data) => {
    const handler = data && handlers[data.type];
    if (handler) {
      handler(data);
    }
  });
  // Messages were lost (the server restarted, say): ask for everything again.
  thywill.onReset(resync);
})();
