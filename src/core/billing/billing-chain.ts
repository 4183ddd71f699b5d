/**
 * The tenant's billing chain: every version of every billing record is an entry whose hash
 * covers its content and the previous entry's hash, so changing, removing or reordering any
 * stored version — or a billing record that no longer matches its last version — shows at the
 * first entry it breaks. SHA-256 over canonical JSON (canonical-json.ts).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** The previousHash of a tenant's first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** What one billing record version says (the hashed content). */
export interface BillingVersionContent {
  readonly billableSeconds: number;
  readonly roundedSeconds: number;
  readonly intervals: readonly { readonly start: string | null; readonly end: string | null }[];
  /** The billing evidence document (billing-evidence.ts), or null before evidence existed. */
  readonly evidence: unknown;
}

export interface BillingChainEntry {
  readonly tenantId: string;
  /** 1, 2, 3… per tenant: the entry's position in the chain. */
  readonly sequence: number;
  readonly billingRecordId: string;
  readonly consultationId: string;
  readonly version: number;
  readonly recordedAt: string;
  readonly content: BillingVersionContent;
  readonly previousHash: string;
}

/**
 * SHA-256 (hex) of the entry's canonical JSON.
 *
 * @example chainHash({ tenantId: 'ten_1', sequence: 1, …, previousHash: GENESIS_HASH }) // 64 hex
 */
export function chainHash(entry: BillingChainEntry): string {
  return createHash('sha256').update(canonicalJson(entry), 'utf8').digest('hex');
}

export type ChainBreakReason = 'hash-mismatch' | 'previous-hash-mismatch' | 'sequence-gap' | 'record-mismatch' | 'record-without-entry';

export interface ChainBreak {
  readonly reason: ChainBreakReason;
  /** The entry's sequence (for a record check: its last entry's, or null when it has none). */
  readonly sequence: number | null;
  readonly billingRecordId: string;
  readonly detail: string;
}

export interface StoredChainEntry extends BillingChainEntry {
  readonly hash: string;
}

export interface CurrentBillingRecord {
  readonly id: string;
  readonly version: number;
  readonly content: BillingVersionContent;
}

export type ChainVerdict =
  { readonly ok: true; readonly entries: number; readonly headHash: string } | ({ readonly ok: false } & ChainBreak);

/**
 * Verifies one tenant's chain a page at a time (entries in sequence order, then the records), so
 * a long chain never has to sit in memory: `entry` for each entry, `record` for each billing
 * record, `verdict` at the end. Each returns the first break, which stays the answer.
 *
 * @example const v = new BillingChainVerifier(); for (const e of entries) v.entry(e); for (const r of records) v.record(r); v.verdict()
 */
export class BillingChainVerifier {
  #previous = GENESIS_HASH;
  #count = 0;
  #break: ChainBreak | undefined;
  /** Each record's last entry, as version and content hash only (small). */
  readonly #last = new Map<string, { sequence: number; version: number; content: string }>();

  entry(stored: StoredChainEntry): ChainBreak | undefined {
    if (this.#break) return this.#break;
    const { hash, ...entry } = stored;
    const fail = (reason: ChainBreakReason, detail: string) =>
      (this.#break = { reason, sequence: stored.sequence, billingRecordId: stored.billingRecordId, detail });
    if (stored.sequence !== this.#count + 1) return fail('sequence-gap', `expected sequence ${this.#count + 1}, found ${stored.sequence}`);
    if (stored.previousHash !== this.#previous) return fail('previous-hash-mismatch', 'previousHash is not the hash of the entry before');
    if (chainHash(entry) !== hash) return fail('hash-mismatch', 'the stored content does not hash to the stored hash');
    this.#previous = hash;
    this.#count++;
    this.#last.set(stored.billingRecordId, { sequence: stored.sequence, version: stored.version, content: contentDigest(stored.content) });
    return undefined;
  }

  record(record: CurrentBillingRecord): ChainBreak | undefined {
    if (this.#break) return this.#break;
    const problem = this.check(record);
    if (problem) this.#break = problem;
    return problem;
  }

  /**
   * What `record` would say, without making it the verdict: a record read after the chain pages
   * may have been corrected since (a live service) — the caller reads the chain on and asks again.
   */
  check(record: CurrentBillingRecord): ChainBreak | undefined {
    const last = this.#last.get(record.id);
    if (!last) return { reason: 'record-without-entry', sequence: null, billingRecordId: record.id, detail: 'no chain entry' };
    if (last.version !== record.version || last.content !== contentDigest(record.content))
      return {
        reason: 'record-mismatch',
        sequence: last.sequence,
        billingRecordId: record.id,
        detail: `the billing record (version ${record.version}) differs from its last chain entry (version ${last.version})`,
      };
    return undefined;
  }

  /** The last sequence verified (0 before the first entry). */
  get lastSequence(): number {
    return this.#count;
  }

  verdict(): ChainVerdict {
    return this.#break ? { ok: false, ...this.#break } : { ok: true, entries: this.#count, headHash: this.#previous };
  }
}

function contentDigest(content: BillingVersionContent): string {
  return createHash('sha256').update(canonicalJson(content), 'utf8').digest('hex');
}

/** The whole chain at once (tests, small tenants): entries in sequence order, then the records. */
export function verifyBillingChain(entries: readonly StoredChainEntry[], records: readonly CurrentBillingRecord[]): ChainVerdict {
  const verifier = new BillingChainVerifier();
  for (const entry of entries) verifier.entry(entry);
  for (const record of records) verifier.record(record);
  return verifier.verdict();
}
