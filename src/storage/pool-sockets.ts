/**
 * The sockets of a pool's connections, so that ending the pool is bounded. pg's and mysql2's
 * end() say goodbye to the server (Terminate, COM_QUIT) and wait for it to close the socket: a
 * server behind a silent partition never does, and a SIGTERM would then wait out the shutdown
 * timeout (exit 1) with nothing in flight — and a half-closed socket keeps a worker thread alive.
 * Past the grace the sockets still open are destroyed; the drivers then drop those connections.
 */
import type { Socket } from 'node:net';

/** How long end() may wait for the server's goodbye before the sockets are cut. */
export const POOL_END_GRACE_MS = 1000;

export class PoolSockets {
  readonly #open = new Set<Socket>();

  /** Tracks a connection's socket until it closes (undefined: nothing to track). */
  add(socket: Socket | undefined): void {
    if (!socket || socket.destroyed) return;
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
  }

  /**
   * Runs the pool's end() and waits for every socket to close; past `graceMs` the sockets still
   * open are destroyed. pg-pool's end() resolves once it has asked its idle clients to end, not
   * when their sockets closed: a half-closed socket would keep the thread (or process) alive.
   */
  async end(end: () => Promise<void>, graceMs = POOL_END_GRACE_MS): Promise<void> {
    const timer = setTimeout(() => {
      for (const socket of this.#open) socket.destroy();
    }, graceMs);
    try {
      await end();
      await Promise.all([...this.#open].map((socket) => new Promise((resolve) => socket.once('close', resolve))));
    } finally {
      clearTimeout(timer);
    }
  }
}
