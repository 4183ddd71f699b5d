import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { chainHash, GENESIS_HASH, verifyBillingChain, type BillingChainEntry, type StoredChainEntry } from './billing-chain.js';

const content = (seconds: number) => ({
  billableSeconds: seconds,
  roundedSeconds: Math.ceil(seconds / 60) * 60,
  intervals: [{ start: '2026-03-01T10:00:00.000Z', end: '2026-03-01T10:10:00.000Z' }],
  evidence: { schema: 'roomgate.billing-evidence.v1', suggestion: { code: '98004' } },
});

function chain(contents: { record: string; version: number; seconds: number }[]): StoredChainEntry[] {
  const out: StoredChainEntry[] = [];
  let previousHash = GENESIS_HASH;
  for (const [index, item] of contents.entries()) {
    const entry: BillingChainEntry = {
      tenantId: 'ten_1',
      sequence: index + 1,
      billingRecordId: item.record,
      consultationId: `con_${item.record}`,
      version: item.version,
      recordedAt: '2026-03-01T11:00:00.000Z',
      content: content(item.seconds),
      previousHash,
    };
    const hash = chainHash(entry);
    out.push({ ...entry, hash });
    previousHash = hash;
  }
  return out;
}

const entries = chain([
  { record: 'bil_a', version: 1, seconds: 600 },
  { record: 'bil_b', version: 1, seconds: 900 },
  { record: 'bil_a', version: 2, seconds: 660 },
]);
const records = [
  { id: 'bil_a', version: 2, content: content(660) },
  { id: 'bil_b', version: 1, content: content(900) },
];

describe('canonical JSON', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: 3, c: 4 }], u: undefined })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    expect(canonicalJson({ x: 'é', y: null })).toBe('{"x":"é","y":null}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
  });
});

describe('the billing chain', () => {
  it('a known answer: the canonical text of a fixed entry and its SHA-256 (what an outside verifier recomputes)', () => {
    const entry: BillingChainEntry = {
      tenantId: 'ten_1',
      sequence: 1,
      billingRecordId: 'bil_a',
      consultationId: 'con_a',
      version: 1,
      recordedAt: '2026-03-01T11:00:00.000Z',
      content: {
        billableSeconds: 600,
        roundedSeconds: 600,
        intervals: [{ start: '2026-03-01T10:00:00.000Z', end: '2026-03-01T10:10:00.000Z' }],
        evidence: null,
      },
      previousHash: GENESIS_HASH,
    };
    expect(canonicalJson(entry)).toBe(
      '{"billingRecordId":"bil_a","consultationId":"con_a","content":{"billableSeconds":600,"evidence":null,' +
        '"intervals":[{"end":"2026-03-01T10:10:00.000Z","start":"2026-03-01T10:00:00.000Z"}],"roundedSeconds":600},' +
        `"previousHash":"${'0'.repeat(64)}","recordedAt":"2026-03-01T11:00:00.000Z","sequence":1,"tenantId":"ten_1","version":1}`,
    );
    // Computed independently (node -e with the text above).
    expect(chainHash(entry)).toBe('71eaf0b02118ae2c9335eb7204016ecf8f1cf7b51092518c4f0ee516beb41bca');
  });

  it('an intact chain verifies, with its head', () => {
    expect(verifyBillingChain(entries, records)).toEqual({ ok: true, entries: 3, headHash: entries[2]!.hash });
  });

  it('a changed entry breaks at that entry', () => {
    const tampered = entries.map((e) => (e.sequence === 2 ? { ...e, content: content(1200) } : e));
    expect(verifyBillingChain(tampered, records)).toMatchObject({
      ok: false,
      reason: 'hash-mismatch',
      sequence: 2,
      billingRecordId: 'bil_b',
    });
  });

  it('a re-hashed changed entry breaks at the next one', () => {
    const rehashed = entries.map((e) => {
      if (e.sequence !== 2) return e;
      const { hash: _hash, ...rest } = { ...e, content: content(1200) };
      return { ...rest, hash: chainHash(rest) };
    });
    expect(verifyBillingChain(rehashed, [])).toMatchObject({ ok: false, reason: 'previous-hash-mismatch', sequence: 3 });
  });

  it('a removed entry is a gap', () => {
    expect(verifyBillingChain([entries[0]!, entries[2]!], [])).toMatchObject({ ok: false, reason: 'sequence-gap', sequence: 3 });
  });

  it('a billing record that differs from its last version breaks at that record', () => {
    const edited = [records[0]!, { ...records[1]!, content: content(1800) }];
    expect(verifyBillingChain(entries, edited)).toMatchObject({
      ok: false,
      reason: 'record-mismatch',
      billingRecordId: 'bil_b',
      sequence: 2,
    });
    expect(verifyBillingChain(entries, [{ ...records[0]!, version: 1 }])).toMatchObject({
      reason: 'record-mismatch',
      billingRecordId: 'bil_a',
    });
    expect(verifyBillingChain(entries, [...records, { id: 'bil_c', version: 1, content: content(60) }])).toMatchObject({
      reason: 'record-without-entry',
      billingRecordId: 'bil_c',
    });
  });
});
