import { describe, expect, it } from 'vitest';
import { CODE_SET_IDS, TIMED_CODE_SETS, type Modality, type PatientStatus } from './code-sets.js';
import { suggestCode } from './suggest-code.js';

const at = (minutes: number, seconds = 0) => minutes * 60 + seconds;
const code = (codeSet: 'us-cpt-2025' | 'us-medicare', seconds: number, patientStatus: PatientStatus, modality: Modality | 'unknown') => {
  const suggestion = suggestCode({
    codeSet,
    billableSeconds: seconds,
    roundedSeconds: seconds,
    roundingSeconds: 1,
    modality,
    patientStatus,
  });
  return suggestion.code === null ? null : suggestion.modifier ? `${suggestion.code}-${suggestion.modifier}` : suggestion.code;
};

// The boundary durations of the issue, as m:ss, and what each code set suggests there — written
// out by hand from the sources cited in code-sets.ts, not derived from the table.
const BOUNDARIES = [
  [4, 59],
  [5, 0],
  [9, 59],
  [10, 0],
  [14, 59],
  [15, 0],
  [19, 59],
  [20, 0],
  [29, 59],
  [30, 0],
  [39, 59],
  [40, 0],
  [44, 59],
  [45, 0],
  [59, 59],
  [60, 0],
  [120, 0],
] as const;

const EXPECTED: Record<string, readonly (string | null)[]> = {
  'us-cpt-2025 new audio-video': [
    null,
    null,
    null,
    null,
    null,
    '98000',
    '98000',
    '98000',
    '98000',
    '98001',
    '98001',
    '98001',
    '98001',
    '98002',
    '98002',
    '98003',
    '98003',
  ],
  'us-cpt-2025 established audio-video': [
    null,
    '98016',
    '98016',
    '98004',
    '98004',
    '98004',
    '98004',
    '98005',
    '98005',
    '98006',
    '98006',
    '98007',
    '98007',
    '98007',
    '98007',
    '98007',
    '98007',
  ],
  'us-cpt-2025 new audio-only': [
    null,
    null,
    null,
    null,
    null,
    '98008',
    '98008',
    '98008',
    '98008',
    '98009',
    '98009',
    '98009',
    '98009',
    '98010',
    '98010',
    '98011',
    '98011',
  ],
  'us-cpt-2025 established audio-only': [
    null,
    '98016',
    '98016',
    '98012',
    '98012',
    '98012',
    '98012',
    '98013',
    '98013',
    '98014',
    '98014',
    '98015',
    '98015',
    '98015',
    '98015',
    '98015',
    '98015',
  ],
  'us-medicare new audio-video': [
    null,
    null,
    null,
    null,
    null,
    '99202-95',
    '99202-95',
    '99202-95',
    '99202-95',
    '99203-95',
    '99203-95',
    '99203-95',
    '99203-95',
    '99204-95',
    '99204-95',
    '99205-95',
    '99205-95',
  ],
  'us-medicare established audio-video': [
    null,
    '98016',
    '98016',
    '99212-95',
    '99212-95',
    '99212-95',
    '99212-95',
    '99213-95',
    '99213-95',
    '99214-95',
    '99214-95',
    '99215-95',
    '99215-95',
    '99215-95',
    '99215-95',
    '99215-95',
    '99215-95',
  ],
  'us-medicare new audio-only': [
    null,
    null,
    null,
    null,
    null,
    '99202-93',
    '99202-93',
    '99202-93',
    '99202-93',
    '99203-93',
    '99203-93',
    '99203-93',
    '99203-93',
    '99204-93',
    '99204-93',
    '99205-93',
    '99205-93',
  ],
  'us-medicare established audio-only': [
    null,
    '98016',
    '98016',
    '99212-93',
    '99212-93',
    '99212-93',
    '99212-93',
    '99213-93',
    '99213-93',
    '99214-93',
    '99214-93',
    '99215-93',
    '99215-93',
    '99215-93',
    '99215-93',
    '99215-93',
    '99215-93',
  ],
};

describe('suggested codes on the boundary durations', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    const [codeSet, status, modality] = name.split(' ') as ['us-cpt-2025' | 'us-medicare', PatientStatus, Modality];
    it(name, () => {
      const actual = BOUNDARIES.map(([m, s]) => code(codeSet, at(m, s), status, modality));
      expect(Object.fromEntries(BOUNDARIES.map(([m, s], i) => [`${m}:${String(s).padStart(2, '0')}`, actual[i]]))).toEqual(
        Object.fromEntries(BOUNDARIES.map(([m, s], i) => [`${m}:${String(s).padStart(2, '0')}`, expected[i]])),
      );
    });
  }
});

describe('every threshold of every timed code set, ±1 s', () => {
  for (const set of Object.values(TIMED_CODE_SETS)) {
    for (const ladder of set.ladders) {
      const modalities: Modality[] = ladder.modality ? [ladder.modality] : ['audio-video', 'audio-only'];
      for (const modality of modalities) {
        for (const level of ladder.levels) {
          it(`${set.id} ${ladder.patientStatus} ${modality} ${level.code} at ${level.minMinutes} min`, () => {
            const seconds = level.minMinutes * 60;
            const suggest = (s: number) =>
              suggestCode({
                codeSet: set.id,
                billableSeconds: s,
                roundedSeconds: s,
                roundingSeconds: 1,
                modality,
                patientStatus: ladder.patientStatus,
              });
            expect(suggest(seconds).code).toBe(level.code);
            expect(suggest(seconds).thresholdMinutes).toBe(level.minMinutes);
            expect(suggest(seconds - 1).code).not.toBe(level.code);
            expect(suggest(seconds + 1).code).toBe(level.code);
          });
        }
      }
    }
  }

  it('nothing under 5 minutes in any timed code set, whatever the patient or modality', () => {
    for (const codeSet of ['us-cpt-2025', 'us-medicare'] as const)
      for (const status of ['new', 'established'] as const)
        for (const modality of ['audio-video', 'audio-only', 'unknown'] as const)
          for (const seconds of [0, 1, 59, 299]) expect(code(codeSet, seconds, status, modality)).toBeNull();
  });
});

describe('what the suggestion needs', () => {
  it('no code without the patient status, and the reason', () => {
    const suggestion = suggestCode({
      codeSet: 'us-cpt-2025',
      billableSeconds: 1200,
      roundedSeconds: 1200,
      roundingSeconds: 60,
      modality: 'audio-video',
    });
    expect(suggestion).toMatchObject({ code: null, reason: 'patient-status-unknown' });
  });

  it('no E/M code when no track was seen (the modality decides the code), but 98016 stays for a check-in', () => {
    expect(code('us-cpt-2025', at(12), 'established', 'unknown')).toBeNull();
    expect(
      suggestCode({
        codeSet: 'us-cpt-2025',
        billableSeconds: at(12),
        roundedSeconds: 0,
        roundingSeconds: 1,
        modality: 'unknown',
        patientStatus: 'established',
      }).reason,
    ).toBe('modality-unknown');
    expect(code('us-cpt-2025', at(7), 'established', 'unknown')).toBe('98016');
    expect(code('us-cpt-2025', at(7), 'new', 'unknown')).toBeNull();
  });

  it('codes on the measured seconds, not the rounded ones', () => {
    const suggestion = suggestCode({
      codeSet: 'us-cpt-2025',
      billableSeconds: at(9, 59),
      roundedSeconds: at(10),
      roundingSeconds: 60,
      modality: 'audio-video',
      patientStatus: 'established',
    });
    expect(suggestion.code).toBe('98016');
  });
});

describe('flat (veterinary)', () => {
  const flat = (seconds: number, flatMode: 'visit' | 'block', roundingSeconds = 900) =>
    suggestCode({
      codeSet: 'flat',
      billableSeconds: seconds,
      roundedSeconds: Math.ceil(seconds / roundingSeconds) * roundingSeconds,
      roundingSeconds,
      modality: 'unknown',
      flatMode,
    });

  it('one visit, whatever the length', () => {
    for (const seconds of [1, at(4, 59), at(5), at(60)]) expect(flat(seconds, 'visit')).toMatchObject({ code: 'flat-visit', units: 1 });
    expect(flat(0, 'visit')).toMatchObject({ code: null, reason: 'no-overlap' });
  });

  it('per started block of the tenant unit, on the boundaries', () => {
    const units = [1, at(14, 59), at(15), at(15, 1), at(29, 59), at(30), at(30, 1)].map((s) => flat(s, 'block').units);
    expect(units).toEqual([1, 1, 1, 2, 2, 2, 3]);
  });

  it('every code set id is handled', () => {
    for (const codeSet of CODE_SET_IDS)
      expect(
        suggestCode({
          codeSet,
          billableSeconds: at(30),
          roundedSeconds: at(30),
          roundingSeconds: 60,
          modality: 'audio-video',
          patientStatus: 'new',
        }).code,
      ).not.toBeNull();
  });
});
