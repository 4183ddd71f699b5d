/**
 * Fastify's per-request logger, made only when it writes. Fastify gives every request a child
 * logger bound to its id; pino makes one by running the bindings through the redaction of
 * logger.ts (wildcard paths: every value is walked), a few microseconds per request — on the
 * webhook's hot path, for lines that are almost never written (a callback answered 204 writes
 * only its request line, which request-log.ts writes without the child, and none at `warn`).
 * Here the request gets a stand-in that makes the real child on the first line written at an
 * enabled level, or the first use of anything else that needs it (`child`, `bindings`, setting
 * `level`); every line is the real child's own.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const REAL = Symbol('the real child');
const BINDINGS = Symbol('its bindings');
const OPTIONS = Symbol('its options');

interface Deferred {
  [REAL]?: FastifyBaseLogger;
  [BINDINGS]: Bindings;
  [OPTIONS]: ChildLoggerOptions;
}

type Parent = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };

const prototypes = new WeakMap<FastifyBaseLogger, object>();

/**
 * Fastify's `childLoggerFactory`. A route with its own log level or serializers gets its child at
 * once (pino compiles those), as with Fastify's default factory.
 *
 * @example Fastify({ loggerInstance, childLoggerFactory: lazyChildLogger })
 */
export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (Object.keys(options).length > 0) return logger.child(bindings, options);
  let prototype = prototypes.get(logger);
  if (!prototype) prototypes.set(logger, (prototype = deferredPrototype(logger as Parent)));
  const deferred = Object.create(prototype) as Deferred;
  deferred[BINDINGS] = bindings;
  deferred[OPTIONS] = options;
  return deferred as unknown as FastifyBaseLogger;
}

/** What every stand-in of `parent`'s children shares: the parent's state, and methods that make the child when needed. */
function deferredPrototype(parent: Parent): object {
  const real = (deferred: Deferred) => (deferred[REAL] ??= parent.child(deferred[BINDINGS], deferred[OPTIONS]));
  const prototype = Object.create(parent) as Record<string | symbol, unknown>;
  for (const level of LEVELS) {
    prototype[level] = function (this: Deferred, ...args: unknown[]) {
      const made = this[REAL];
      if (!made && !parent.isLevelEnabled(level)) return;
      (made ?? real(this))[level](...(args as [string]));
    };
  }
  prototype.child = function (this: Deferred, ...args: Parameters<Parent['child']>) {
    return real(this).child(...args);
  };
  prototype.bindings = function (this: Deferred) {
    return (real(this) as unknown as { bindings(): Bindings }).bindings();
  };
  prototype.setBindings = function (this: Deferred, bindings: Bindings) {
    (real(this) as unknown as { setBindings(bindings: Bindings): void }).setBindings(bindings);
  };
  prototype.isLevelEnabled = function (this: Deferred, level: string) {
    return ((this[REAL] as Parent | undefined) ?? parent).isLevelEnabled(level);
  };
  Object.defineProperty(prototype, 'level', {
    get(this: Deferred) {
      return (this[REAL] ?? parent).level;
    },
    set(this: Deferred, level: string) {
      real(this).level = level;
    },
  });
  return prototype;
}
