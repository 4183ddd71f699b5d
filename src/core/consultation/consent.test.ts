import { describe, expect, it } from 'vitest';
import {
  CONSENT_CLOCK_SKEW_MS,
  consentedAt,
  consentingIdentities,
  consentModeOf,
  latestDecisions,
  RECORD_NOTHING,
  recordingRules,
  type ConsentFact,
} from './consent.js';

const T = Date.parse('2026-03-01T09:00:00.000Z');
const at = (seconds: number) => new Date(T + seconds * 1000).toISOString();
let position = 0;
const fact = (
  identity: string,
  decision: 'given' | 'withdrawn',
  seconds: number,
  kind: 'recording' | 'transcription' = 'recording',
): ConsentFact => ({
  identity,
  kind,
  decision,
  recordedAt: at(seconds),
  position: ++position,
});

describe('the consent ledger read as decisions', () => {
  it('takes each identity’s latest decision per kind, in ledger order', () => {
    const facts = [fact('a', 'given', 0), fact('b', 'given', 1), fact('a', 'withdrawn', 2), fact('b', 'withdrawn', 3, 'transcription')];
    expect(latestDecisions(facts, 'recording')).toEqual(
      new Map([
        ['a', 'withdrawn'],
        ['b', 'given'],
      ]),
    );
    expect([...consentingIdentities([...facts].reverse(), 'recording')]).toEqual(['b']);
    expect([...consentingIdentities(facts, 'transcription')]).toEqual([]);
  });

  it('reads an unknown stored mode as off', () => {
    expect(consentModeOf(null)).toBe('off');
    expect(consentModeOf('everyone')).toBe('off');
    expect(consentModeOf('one-party')).toBe('one-party');
  });
});

describe('Recording Rules from consent', () => {
  const present = new Set(['clin', 'pt']);
  it('one-party: each consenting participant, by publisher; nobody → record nothing', () => {
    expect(recordingRules('one-party', new Set(['pt', 'clin']), present)).toEqual([
      { type: 'include', publisher: 'clin' },
      { type: 'include', publisher: 'pt' },
    ]);
    expect(recordingRules('one-party', new Set(['clin']), present)).toEqual([{ type: 'include', publisher: 'clin' }]);
    expect(recordingRules('one-party', new Set(), present)).toEqual(RECORD_NOTHING);
  });

  it('all-parties: nothing while anyone present does not consent', () => {
    expect(recordingRules('all-parties', new Set(['clin']), present)).toEqual(RECORD_NOTHING);
    expect(recordingRules('all-parties', new Set(['clin', 'pt']), present)).toEqual([
      { type: 'include', publisher: 'clin' },
      { type: 'include', publisher: 'pt' },
    ]);
    // Someone who consented and left does not block; someone who consented and is not here yet is included.
    expect(recordingRules('all-parties', new Set(['clin', 'pt']), new Set(['clin']))).toHaveLength(2);
    expect(recordingRules('all-parties', new Set(), new Set())).toEqual(RECORD_NOTHING);
  });

  it('off: everyone', () => {
    expect(recordingRules('off', new Set(), present)).toEqual([{ type: 'include', all: true }]);
  });
});

describe('whether a recording was consented when it started', () => {
  it('needs a given decision in force at the start', () => {
    const facts = [fact('pt', 'given', 10), fact('pt', 'withdrawn', 60)];
    expect(consentedAt(facts, 'pt', at(30))).toBe(true);
    expect(consentedAt(facts, 'pt', at(61))).toBe(false);
    expect(consentedAt(facts, 'clin', at(30))).toBe(false);
    expect(consentedAt([fact('pt', 'given', 10, 'transcription')], 'pt', at(30))).toBe(false);
  });

  it('allows the clock skew for a consent recorded just after the start, not more', () => {
    const facts = [fact('pt', 'given', 100)];
    expect(consentedAt(facts, 'pt', new Date(T + 100_000 - CONSENT_CLOCK_SKEW_MS).toISOString())).toBe(true);
    expect(consentedAt(facts, 'pt', new Date(T + 100_000 - CONSENT_CLOCK_SKEW_MS - 1).toISOString())).toBe(false);
    // A withdrawal just after the start does not unmake a consent in force at the start.
    expect(consentedAt([fact('pt', 'given', 0), fact('pt', 'withdrawn', 101)], 'pt', at(100))).toBe(true);
  });
});
