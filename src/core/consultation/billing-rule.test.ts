import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { computeBilling, mergeIntervals, type BillableSession } from './billing-rule.js';
import { rolesForTenantKind } from './roles.js';

const at = (hhmmss: string) => Date.parse(`2026-03-01T${hhmmss.length === 5 ? `${hhmmss}:00` : hhmmss}.000Z`);
const session = (role: string, from: string, to: string | null): BillableSession => ({
  role,
  connectedAt: at(from),
  disconnectedAt: to ? at(to) : null,
});

describe('billing rule', () => {
  it('bills the overlap of clinician and patient: 10:00–10:20 with 10:05–10:25 → 900 s, rounded to 60 → 900', () => {
    const billing = computeBilling([session('clinician', '10:00', '10:20'), session('patient', '10:05', '10:25')], { roundingSeconds: 60 });
    expect(billing).toEqual({ billableSeconds: 900, roundedSeconds: 900, intervals: [{ start: at('10:05'), end: at('10:20') }] });
  });

  it('rounds 900 s up to a 5-minute unit only when it is not already a multiple', () => {
    const sessions = [session('clinician', '10:00', '10:20'), session('patient', '10:05', '10:25')];
    expect(computeBilling(sessions, { roundingSeconds: 300 }).roundedSeconds).toBe(900);
    expect(computeBilling(sessions, { roundingSeconds: 420 }).roundedSeconds).toBe(1260);
  });

  it('does not bill the gap while the patient reconnects: 10:00–10:30 with 10:00–10:10 and 10:12–10:30 → 1680 s', () => {
    const billing = computeBilling(
      [session('clinician', '10:00', '10:30'), session('patient', '10:00', '10:10'), session('patient', '10:12', '10:30')],
      { roundingSeconds: 60 },
    );
    expect(billing).toEqual({
      billableSeconds: 28 * 60,
      roundedSeconds: 28 * 60,
      intervals: [
        { start: at('10:00'), end: at('10:10') },
        { start: at('10:12'), end: at('10:30') },
      ],
    });
  });

  it('does not bill the gap while the clinician reconnects, even when the patient stays', () => {
    const billing = computeBilling(
      [session('clinician', '10:00', '10:07:30'), session('clinician', '10:08:15', '10:20'), session('pet-owner', '10:01', '10:30')],
      { roundingSeconds: 60 },
    );
    // 10:01–10:07:30 (390 s) + 10:08:15–10:20 (705 s) = 1095 s → 1140 s
    expect(billing).toMatchObject({ billableSeconds: 1095, roundedSeconds: 1140 });
  });

  it('counts overlapping sessions of the same side once (union, not sum)', () => {
    const billing = computeBilling(
      [
        session('clinician', '10:00', '10:10'),
        session('clinician', '10:05', '10:15'),
        session('pet-owner', '10:00', '10:15'),
        session('patient', '10:02', '10:12'),
      ],
      { roundingSeconds: 1 },
    );
    expect(billing).toEqual({ billableSeconds: 15 * 60, roundedSeconds: 15 * 60, intervals: [{ start: at('10:00'), end: at('10:15') }] });
  });

  it('rounds up to the tenant unit; zero and sub-second overlaps stay zero', () => {
    const s = (ms: number): BillableSession[] => [
      { role: 'clinician', connectedAt: 0, disconnectedAt: ms },
      { role: 'patient', connectedAt: 0, disconnectedAt: ms },
    ];
    expect(computeBilling(s(61_000), { roundingSeconds: 60 })).toMatchObject({ billableSeconds: 61, roundedSeconds: 120 });
    expect(computeBilling(s(60_000), { roundingSeconds: 60 })).toMatchObject({ billableSeconds: 60, roundedSeconds: 60 });
    expect(computeBilling(s(60_999), { roundingSeconds: 60 })).toMatchObject({ billableSeconds: 60, roundedSeconds: 60 });
    expect(computeBilling(s(500), { roundingSeconds: 300 })).toMatchObject({ billableSeconds: 0, roundedSeconds: 0 });
    expect(computeBilling(s(0), { roundingSeconds: 60 })).toEqual({ billableSeconds: 0, roundedSeconds: 0, intervals: [] });
    expect(computeBilling(s(1_000), { roundingSeconds: 0 })).toMatchObject({ roundedSeconds: 1 });
  });

  it('bills nothing for observers, interpreters, caregivers, two clinicians, or an unknown connect or disconnect time', () => {
    const bill = (sessions: BillableSession[]) => computeBilling(sessions, { roundingSeconds: 60 }).billableSeconds;
    for (const role of ['observer', 'interpreter', 'caregiver', undefined]) {
      expect(bill([session('clinician', '10:00', '10:20'), { ...session('x', '10:00', '10:20'), role }])).toBe(0);
    }
    expect(bill([session('clinician', '10:00', '10:20'), session('clinician', '10:00', '10:20')])).toBe(0);
    expect(bill([session('clinician', '10:00', '10:20'), { role: 'patient', connectedAt: null, disconnectedAt: at('10:20') }])).toBe(0);
    expect(bill([session('clinician', '10:00', '10:20'), session('patient', '10:05', null)])).toBe(0);
  });

  it('sessions that only touch do not overlap', () => {
    expect(
      computeBilling([session('clinician', '10:00', '10:10'), session('patient', '10:10', '10:20')], { roundingSeconds: 60 })
        .billableSeconds,
    ).toBe(0);
  });

  it('never bills more than either side was connected, and is order-independent', () => {
    const sessionArb = fc.record({
      role: fc.constantFrom('clinician', 'patient', 'pet-owner', 'observer'),
      connectedAt: fc.integer({ min: 0, max: 10_000_000 }),
      length: fc.integer({ min: 0, max: 5_000_000 }),
    });
    fc.assert(
      fc.property(fc.array(sessionArb, { maxLength: 8 }), fc.integer({ min: 1, max: 900 }), (raw, unit) => {
        const sessions = raw.map(({ role, connectedAt, length }) => ({ role, connectedAt, disconnectedAt: connectedAt + length }));
        const billing = computeBilling(sessions, { roundingSeconds: unit });
        const sideMs = (test: (role: string) => boolean) =>
          mergeIntervals(
            sessions
              .filter((s) => test(s.role) && s.disconnectedAt > s.connectedAt)
              .map((s) => ({ start: s.connectedAt, end: s.disconnectedAt })),
          ).reduce((total, i) => total + i.end - i.start, 0);
        expect(billing.billableSeconds * 1000).toBeLessThanOrEqual(sideMs((r) => r === 'clinician'));
        expect(billing.billableSeconds * 1000).toBeLessThanOrEqual(sideMs((r) => r === 'patient' || r === 'pet-owner'));
        expect(billing.roundedSeconds % unit).toBe(0);
        expect(billing.roundedSeconds - billing.billableSeconds).toBeGreaterThanOrEqual(0);
        expect(billing.roundedSeconds - billing.billableSeconds).toBeLessThan(unit);
        expect(computeBilling([...sessions].reverse(), { roundingSeconds: unit })).toEqual(billing);
      }),
    );
  });
});

describe('rolesForTenantKind', () => {
  it('gives each tenant kind its roles', () => {
    expect(rolesForTenantKind('human')).toEqual(['clinician', 'patient', 'caregiver', 'interpreter', 'observer']);
    expect(rolesForTenantKind('veterinary')).toEqual(['clinician', 'pet-owner', 'interpreter', 'observer']);
  });
});
