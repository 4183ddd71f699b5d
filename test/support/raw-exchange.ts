/**
 * One exchange over a raw TCP socket: bytes written as given (in pieces, with pauses, if asked),
 * and what came back — the status line, the whole answer, and whether and when the server
 * answered and closed — with a bound on the wait, so a server that hangs is seen to hang.
 */
import net from 'node:net';

export interface RawExchange {
  readonly answer: string;
  /** The status of the first HTTP answer, 0 if none. */
  readonly status: number;
  /** Milliseconds from the first byte sent to the first byte answered / the server closing. */
  readonly answeredAfterMs: number | undefined;
  readonly closedAfterMs: number | undefined;
  /** Neither answered nor closed within the bound. */
  readonly hung: boolean;
}

export function rawExchange(
  port: number,
  request: string | Buffer | { readonly pieces: readonly (string | Buffer)[]; readonly everyMs: number },
  boundMs: number,
  /** Stop this long after the first answer byte, closed or not (default: wait for the close or the bound). */
  afterAnswerMs?: number,
): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const started = Date.now();
    let answer = '';
    let answeredAfterMs: number | undefined;
    let closedAfterMs: number | undefined;
    let trickle: NodeJS.Timeout | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(bound);
      clearInterval(trickle);
      socket.destroy();
      resolve({
        answer,
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1] ?? 0),
        answeredAfterMs,
        closedAfterMs,
        hung: answeredAfterMs === undefined && closedAfterMs === undefined,
      });
    };
    const bound = setTimeout(finish, boundMs);
    socket.on('data', (chunk) => {
      if (answeredAfterMs === undefined && afterAnswerMs !== undefined) setTimeout(finish, afterAnswerMs).unref();
      answeredAfterMs ??= Date.now() - started;
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closedAfterMs = Date.now() - started;
      finish();
    });
    socket.on('connect', () => {
      if (typeof request === 'string' || Buffer.isBuffer(request)) return void socket.write(request);
      let next = 0;
      const send = () => {
        if (next < request.pieces.length && !socket.destroyed) socket.write(request.pieces[next++]!);
      };
      send();
      trickle = setInterval(send, request.everyMs);
    });
  });
}
