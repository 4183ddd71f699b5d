/**
 * The live streams (SSE responses, WebSockets) open on this instance. A stop ends them all
 * first: until they end, the HTTP server cannot close and the process cannot exit.
 */
export class OpenStreams {
  readonly #ends = new Set<() => void>();

  /** Registers how to end one stream; returns its removal (call it when the stream closes). */
  add(end: () => void): () => void {
    this.#ends.add(end);
    return () => this.#ends.delete(end);
  }

  get size(): number {
    return this.#ends.size;
  }

  endAll(): void {
    const ends = [...this.#ends];
    this.#ends.clear();
    for (const end of ends) end();
  }
}
