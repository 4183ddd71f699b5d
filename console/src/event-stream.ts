/**
 * The tenant's live events (GET /v1/events as Server-Sent Events) read with fetch, because
 * EventSource cannot send the Authorization header and the key must not travel in a URL. Resumes
 * after the last sequence seen on reconnect; `stream.end` for a revoked or expired key signs out.
 */
import { REVOKED_MESSAGE, setApiDown, signOut } from './api.js';
import { loadSession } from './session.js';

export interface LiveEvent {
  readonly id: string;
  readonly sequence: number;
  readonly type: string;
  readonly consultationId: string | null;
  readonly at: string;
  readonly data: Record<string, unknown>;
}

export function followEvents(onEvent: (event: LiveEvent) => void, onState: (state: 'live' | 'reconnecting') => void): () => void {
  const controller = new AbortController();
  let after: number | undefined;
  let stopped = false;

  const run = async () => {
    let delay = 500;
    while (!stopped) {
      const credential = loadSession()?.credential;
      if (!credential) return;
      try {
        const response = await fetch(`/v1/events${after === undefined ? '' : `?after=${after}`}`, {
          headers: { authorization: `Bearer ${credential}`, accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (response.status === 401) return signOut(REVOKED_MESSAGE, credential);
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        setApiDown(false);
        onState('live');
        delay = 500;
        const ended = await readStream(response.body, (event) => {
          if (event.type === 'stream.end') return;
          after = event.sequence;
          onEvent(event);
        });
        if (ended === 'key-revoked' || ended === 'key-expired' || ended === 'key-removed') return signOut(REVOKED_MESSAGE, credential);
      } catch (error) {
        if (stopped) return;
        if (error instanceof TypeError) setApiDown(true);
      }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  };
  void run();
  return () => {
    stopped = true;
    controller.abort();
  };
}

/** Reads SSE frames until the stream closes; answers the `stream.end` reason, if one came. */
async function readStream(body: ReadableStream<Uint8Array>, onEvent: (event: LiveEvent) => void): Promise<string | undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    buffer += decoder.decode(value, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      let type = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line.startsWith('event:')) type = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (!data) continue;
      const parsed = JSON.parse(data) as LiveEvent & { reason?: string };
      if (type === 'stream.end') return parsed.reason;
      onEvent(parsed);
    }
  }
}
