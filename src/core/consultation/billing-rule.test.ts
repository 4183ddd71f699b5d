import { describe, expect, it } from 'vitest';
import { computeBilling, type BillableSession } from './billing-rule.js';

const at = (hhmm: string) => Date.parse(`2026-03-01T${hhmm}:00.000Z`);
const session = (role: string, from: string, to: string | null): BillableSession => ({ role, connectedAt: at(from), disconnectedAt: to ? at(to) : null });

describe('billing rule', () => {
  it('bills the overlap of clinician and patient: 10:00–10:20 with 10:05–10:25 → 900 s', () => {
    const billing = computeBilling([session('clinician', '10:00', '10:20'), session('patient', '10:05', '10:25')], { roundingSeconds: 60 });
    expect(billing).toEqual({ billableSeconds: 900, roundedSeconds: 900, intervals: [{ start: at('10:05'), end: at('10:20') }] });
  });

  it('does not bill the gap while the patient reconnects', () => {
    const billing = computeBilling(
      [session('clinician', '10:00', '10:30'), session('patient', '10:00', '10:10'), session('patient', '10:12', '10:30')],
      { roundingSeconds: 60 },
    );
    expect(billing.billableSeconds).toBe(28 * 60);
    expect(billing.intervals).toHaveLength(2);
  });

  it('counts overlapping sessions of the same side once', () => {
    const billing = computeBilling(
      [session('clinician', '10:00', '10:10'), session('clinician', '10:05', '10:15'), session('pet-owner', '10:00', '10:15')],
      { roundingSeconds: 1 },
    );
    expect(billing.billableSeconds).toBe(15 * 60);
  });

  it('rounds up to the tenant unit, and zero stays zero', () => {
    const s = (ms: number): BillableSession[] => [
      { role: 'clinician', connectedAt: 0, disconnectedAt: ms },
      { role: 'patient', connectedAt: 0, disconnectedAt: ms },
    ];
    expect(computeBilling(s(61_000), { roundingSeconds: 60 }).roundedSeconds).toBe(120);
    expect(computeBilling(s(60_000), { roundingSeconds: 60 }).roundedSeconds).toBe(60);
    expect(computeBilling(s(500), { roundingSeconds: 300 })).toMatchObject({ billableSeconds: 0, roundedSeconds: 300 });
    expect(computeBilling(s(0), { roundingSeconds: 60 })).toEqual({ billableSeconds: 0, roundedSeconds: 0, intervals: [] });
  });

  it('bills nothing for observers, interpreters, two clinicians, or an unknown connect time', () => {
    expect(computeBilling([session('clinician', '10:00', '10:20'), session('observer', '10:00', '10:20')], { roundingSeconds: 60 }).billableSeconds).toBe(0);
    expect(computeBilling([session('clinician', '10:00', '10:20'), session('clinician', '10:00', '10:20')], { roundingSeconds: 60 }).billableSeconds).toBe(0);
    expect(
      computeBilling([session('clinician', '10:00', '10:20'), { role: 'patient', connectedAt: null, disconnectedAt: at('10:20') }], { roundingSeconds: 60 }).billableSeconds,
    ).toBe(0);
  });
});
