// A front-end project's use of the client, type-checked by `tsc -p tests/js/types` (./dev lint).
// It is never run: it shows that thywill.d.ts types what the documentation says.
import {connect, createSseParser, defaultClient, ThywillError} from 'thywill';
import type {ClientState, MessageMeta, ThywillClient, ThywillConfig, ThywillGlobal} from 'thywill';

interface ChatSettings {
  room: string;
}

interface Said {
  type: 'chat.said';
  text: string;
}

interface Posted {
  id: number;
}

export async function chat(fetched: ThywillConfig<ChatSettings>): Promise<number | undefined> {
  const client: ThywillClient<ChatSettings> = connect<ChatSettings>('chat', {config: fetched});
  const room: string | undefined = client.config?.app.room;
  const off = client.onMessage<Said>((data: Said, meta: MessageMeta) => {
    console.log(data.text.toUpperCase(), meta.channel, meta.id, room);
  });
  client.onStateChange((state: ClientState) => console.log(state === 'connected'));
  client.onError((error) => console.log(error.code, error.message, error.channels));
  client.onReset((reset) => console.log(reset.channels.length, reset.reason));
  client.ready(() => off());
  const fresh: ThywillClient = connect('echo', {resume: false});
  console.log(client.resumed === fresh.resumed);
  try {
    const posted = await client.send<Posted>({type: 'chat.say', text: 'hi'}, {timeout: 5000});
    return posted?.id;
  } catch (error) {
    if (error instanceof ThywillError && error.code === 'timeout') {
      return error.seq;
    }
    if (error instanceof ThywillError && error.code === 'rate_limited') {
      return error.retryAfter;
    }
    throw error;
  }
}

export function page(): [string | null, number] {
  const client = defaultClient();
  const parser = createSseParser((event) => console.log(event.type, event.data, event.id ?? event.lastEventId));
  parser.push('data: 1\n\n');
  parser.end();
  return [client.transport, client.stats.received];
}

// The classic script's global, as a page without a bundler declares it.
declare const thywill: ThywillGlobal;
export const sameApi: ThywillClient = thywill.connect('game');

// What the types refuse.
// @ts-expect-error: the timeout is a number of milliseconds
void thywill.send('x', {timeout: '5s'});
// @ts-expect-error: send() has no such option
void thywill.send('x', {timout: 5});
// @ts-expect-error: the configuration is read-only
thywill.config!.token = 'other';
// @ts-expect-error: a state the client never has
export const never: ClientState = 'open';
