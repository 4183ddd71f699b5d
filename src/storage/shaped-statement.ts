/**
 * Statements built and compiled by Kysely once per shape, then run again with new parameters.
 *
 * Building a statement through Kysely (its frozen operation-node tree) and compiling it (the
 * visitor) costs more CPU on the record path than SQLite spends running most of them; the SQL
 * text of a hot statement is the same every time for the same *shape* of its arguments — the
 * keys of its objects, the lengths of its lists (IN lists, rows), which values are undefined.
 * So the first call of a shape builds the statement with a stand-in for every argument value,
 * compiles it, and notes where each stand-in landed among the compiled parameters; later calls
 * of that shape only put their own values there. The SQL comes from the same builder, on the
 * same dialect: nothing is written by hand, and every engine gets its own compilation.
 *
 * The builder's rule: argument values are opaque — passed to Kysely as values, never looked at,
 * branched on or transformed (a builder that needs a different statement takes a different
 * shape: a key present or absent, a list longer or shorter). Only plain objects and arrays are
 * shape; anything else (string, number, null, Date, Buffer) is a value. A call whose arguments
 * hold an expression (sql``, a callback) is built through Kysely as usual; a compiled parameter
 * that is an object but no stand-in (an argument object handed to Kysely whole) is refused.
 */
import {
  createQueryId,
  type CompiledQuery,
  type Compilable,
  type DialectAdapter,
  type Kysely,
  type QueryResult,
  type RootOperationNode,
} from 'kysely';
import type { Database } from './schema.js';

/** Shapes kept per statement and dialect: past it the cache starts over (varied list lengths). */
export const MAX_SHAPES_PER_STATEMENT = 64;

/** The stand-in for the argument value at `index` (in walk order) while a shape compiles. */
class Slot {
  constructor(readonly index: number) {}
}

interface Template {
  readonly sql: string;
  /**
   * The root node's kind, not its tree: the drivers read the SQL and the parameters, and a
   * database with plugins (which read and may rewrite the tree) never runs a template. A 200-row INSERT's tree with its
   * stand-ins is ≈ 0.3 MB; 64 shapes of it would be kept for nothing.
   */
  readonly query: RootOperationNode;
  /** The compiled parameters, each argument value's place left empty. */
  readonly constants: readonly unknown[];
  /** Per compiled parameter: the index of the argument value it takes, or -1 for a constant. */
  readonly sources: Int32Array;
}

/** Off: every call builds through Kysely (tests compare both forms; benches measure both). */
export const shapedStatements = { enabled: true };

const isPlainObject = (value: object) => {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
};

/** A value Kysely would read as SQL rather than a parameter (an expression, a callback). */
const isExpression = (value: unknown) =>
  typeof value === 'function' || typeof (value as { toOperationNode?: unknown }).toOperationNode === 'function';

/** The shape of a call's arguments (its cache key) and their values, in walk order. */
class Walk {
  /** Built by += (cheap, a rope); flattened only when kept as a Map key (see flat()). */
  key = '';
  readonly values: unknown[] = [];
  /** False when an argument holds an expression: that call is built through Kysely. */
  shapeable = true;

  visit(value: unknown): void {
    if (value === undefined) {
      this.key += 'u';
    } else if (typeof value !== 'object' || value === null) {
      if (typeof value === 'function') this.shapeable = false;
      this.values.push(value);
      this.key += '.';
    } else if (Array.isArray(value)) {
      this.key += `[${value.length}`;
      for (const item of value) this.visit(item);
      this.key += ']';
    } else if (!isPlainObject(value)) {
      if (isExpression(value)) this.shapeable = false;
      this.values.push(value);
      this.key += '.';
    } else {
      this.key += '{';
      for (const name in value) {
        this.key += name;
        this.key += ':';
        this.visit((value as Record<string, unknown>)[name]);
      }
      this.key += '}';
    }
  }
}

/**
 * A flat copy of a key built by +=: a Map keeps the rope it is given — every piece, ≈ 1.5 KB per
 * inserted row, where the flat text is ≈ 0.2 KB.
 */
const flat = (key: string) => JSON.parse(JSON.stringify(key)) as string;

/** The same shape as `value`, a Slot in place of each value (numbered in Walk's order). */
function standIn(value: unknown, next: { index: number }): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) return new Slot(next.index++);
  if (Array.isArray(value)) return value.map((item) => standIn(item, next));
  if (!isPlainObject(value)) return new Slot(next.index++);
  const out: Record<string, unknown> = {};
  for (const name in value) out[name] = standIn((value as Record<string, unknown>)[name], next);
  return out;
}

export interface ShapedStatement<A, R> {
  (db: Kysely<Database>, args: A): Promise<QueryResult<R>>;
  /** Shapes compiled for this dialect (tests: the cache is bounded). */
  shapes(db: Kysely<Database>): number;
}

/**
 * A statement whose compilation is kept per shape of `args` (see above).
 * @param build makes the statement from `args` — called once per shape with stand-ins, or
 *        every time when shapedStatements.enabled is off
 */
export function shapedStatement<A, R = unknown>(
  name: string,
  build: (db: Kysely<Database>, args: A) => Compilable<R>,
): ShapedStatement<A, R> {
  // Per dialect adapter (one per Store): each engine compiles its own SQL.
  const byAdapter = new WeakMap<DialectAdapter, Map<string, Template>>();
  const adapterOf = (db: Kysely<Database>) => db.getExecutor().adapter;

  const run = async (db: Kysely<Database>, args: A): Promise<QueryResult<R>> => {
    // A plugin (a test's query capture, say) must see every call's own tree: built as usual.
    if (!shapedStatements.enabled || db.getExecutor().plugins.length > 0) return db.executeQuery(build(db, args));
    const walk = new Walk();
    walk.visit(args);
    if (!walk.shapeable) return db.executeQuery(build(db, args));
    const { key, values } = walk;
    const adapter = adapterOf(db);
    let templates = byAdapter.get(adapter);
    if (!templates) byAdapter.set(adapter, (templates = new Map()));
    let template = templates.get(key);
    if (!template) {
      template = compileShape(name, build(db, standIn(args, { index: 0 }) as A).compile());
      if (templates.size >= MAX_SHAPES_PER_STATEMENT) templates.clear();
      templates.set(flat(key), template);
    }
    const { sources } = template;
    const parameters = template.constants.slice();
    for (let i = 0; i < sources.length; i++) if (sources[i]! >= 0) parameters[i] = values[sources[i]!];
    return db.executeQuery<R>({ query: template.query, queryId: createQueryId(), sql: template.sql, parameters });
  };
  const statement = run as ShapedStatement<A, R>;
  statement.shapes = (db) => byAdapter.get(adapterOf(db))?.size ?? 0;
  return statement;
}

function compileShape(name: string, compiled: CompiledQuery): Template {
  const sources = new Int32Array(compiled.parameters.length);
  const constants = compiled.parameters.map((parameter, i) => {
    if (parameter instanceof Slot) {
      sources[i] = parameter.index;
      return undefined;
    }
    if (typeof parameter === 'object' && parameter !== null)
      throw new TypeError(`shaped statement ${name}: parameter ${i} is an object, not an argument value`);
    sources[i] = -1; // a constant of the builder's own ('accepted', 1)
    return parameter;
  });
  return { sql: compiled.sql, query: Object.freeze({ kind: compiled.query.kind }) as RootOperationNode, constants, sources };
}
