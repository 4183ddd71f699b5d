import { describe, expect, it } from 'vitest';
import { noShowVerdict } from './no-show.js';

const closesAt = new Date('2026-01-01T10:45:00.000Z');
const at = (minute: number) => new Date(Date.parse('2026-01-01T10:00:00.000Z') + minute * 60_000).toISOString();

describe('no-show verdict', () => {
  it('names each kind, with how long the side that came waited', () => {
    expect(noShowVerdict([], closesAt)).toEqual({ missing: 'both', waitedSeconds: 0 });
    expect(noShowVerdict([{ role: 'patient', from: at(0), to: at(10) }], closesAt)).toEqual({ missing: 'clinician', waitedSeconds: 600 });
    expect(noShowVerdict([{ role: 'clinician', from: at(5), to: null }], closesAt)).toEqual({
      missing: 'care-recipient',
      waitedSeconds: 2400,
    });
    // A caregiver waiting in the lobby counts as the care recipient's side.
    expect(noShowVerdict([{ role: 'caregiver', from: at(0), to: at(1) }], closesAt)?.missing).toBe('clinician');
  });

  it('is no no-show when the two sides overlapped, and an interpreter alone is nobody', () => {
    expect(
      noShowVerdict(
        [
          { role: 'clinician', from: at(0), to: at(20) },
          { role: 'patient', from: at(10), to: at(30) },
        ],
        closesAt,
      ),
    ).toBeNull();
    expect(noShowVerdict([{ role: 'interpreter', from: at(0), to: at(5) }], closesAt)?.missing).toBe('both');
    // Back to back, never together: the first to come waited.
    expect(
      noShowVerdict(
        [
          { role: 'clinician', from: at(0), to: at(10) },
          { role: 'patient', from: at(10), to: at(12) },
        ],
        closesAt,
      ),
    ).toEqual({ missing: 'care-recipient', waitedSeconds: 600 });
  });
});
