/*
 * /together/: two applications on one page of the site. The page's template rendered a
 * client of each with {% thywill_client "echo" %} and {% thywill_client "chat" %};
 * thywill.connect(name) connects the client whose configuration is in
 * #thywill-config-<name>, and each is then used as window.thywill is on a bootstrap page.
 */
(function () {
  'use strict';

  const ROOM = 'Lobby';  // made by the chat application when its first client connects

  function append(list, text, className) {
    const item = document.createElement('li');
    item.textContent = text;
    if (className) {
      item.className = className;
    }
    list.append(item);
  }

  /** Shows a client's state in its panel's heading, and its errors in its log. */
  function watch(client, stateId, log) {
    const state = document.getElementById(stateId);
    const show = (value) => {
      state.textContent = value;
      state.dataset.state = value;
    };
    show(client.state);
    client.onStateChange(show);
    client.onError((error) => append(log, error.message, 'error'));
  }

  /** Runs a form's action on submit with its input's text, then empties the input. */
  function onSubmit(formId, inputId, action) {
    const form = document.getElementById(formId);
    const input = document.getElementById(inputId);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (text) {
        action(text);
        input.value = '';
      }
    });
  }

  // Echo: what this tab sends comes back to it.
  const echo = thywill.connect('echo');
  const echoLog = document.getElementById('echo-log');
  watch(echo, 'echo-state', echoLog);
  echo.onMessage((data) => {
    if (data && typeof data.text === 'string') {
      append(echoLog, data.text);
    }
  });
  onSubmit('echo-form', 'echo-text', (text) => {
    echo.send({text}).catch((error) => append(echoLog, error.message, 'error'));
  });

  // Chat: take a nickname, join the Lobby, then talk with everyone in it.
  const chat = thywill.connect('chat');
  const chatLog = document.getElementById('chat-log');
  watch(chat, 'chat-state', chatLog);
  const refused = (error) => append(chatLog, error.message, 'error');
  chat.onMessage((data) => {
    switch (data && data.type) {
      case 'chat.nick':
        append(chatLog, 'You are ' + data.nick + '.');
        chat.send({type: 'chat.join', room: ROOM}).catch(refused);
        break;
      case 'chat.joined':
        append(chatLog, 'You are in the ' + data.room + '.');
        document.getElementById('chat-nick-form').hidden = true;
        document.getElementById('chat-say-form').hidden = false;
        document.getElementById('chat-text').focus();
        break;
      case 'chat.said':
        append(chatLog, data.nick + ': ' + data.text, 'said');
        break;
      default:
        break;  // rooms made, people coming and going: not shown on this page
    }
  });
  onSubmit('chat-nick-form', 'chat-nick', (nick) => {
    chat.send({type: 'chat.nick', nick}).catch(refused);
  });
  onSubmit('chat-say-form', 'chat-text', (text) => {
    chat.send({type: 'chat.say', text}).catch(refused);
  });

  // For the browser tests, and for trying things in the console.
  window.together = {echo, chat};
})();
