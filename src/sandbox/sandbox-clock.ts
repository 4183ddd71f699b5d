/**
 * The emulator's notion of now: an injected clock (or the system's) plus an offset that the
 * control API moves, so tests and developers can jump over an empty-room timeout or make
 * durations non-zero without waiting.
 */
export class SandboxClock {
  private offsetMs = 0;

  constructor(private readonly base: () => Date = () => new Date()) {}

  now(): Date {
    return new Date(this.base().getTime() + this.offsetMs);
  }

  /** Moves time forward (never backward: Timestamps of one room must not go back). */
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('advance needs a non-negative number of milliseconds');
    this.offsetMs += ms;
    return this.now();
  }

  /** Sets now to a given instant; refused when it lies before the current now. */
  set(to: Date): Date {
    const delta = to.getTime() - this.now().getTime();
    if (Number.isNaN(delta)) throw new RangeError('not a valid date');
    if (delta < 0) throw new RangeError('the sandbox clock never goes back');
    this.offsetMs += delta;
    return this.now();
  }
}
