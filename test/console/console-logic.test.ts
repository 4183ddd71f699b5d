/** The console's pure parts: the CSV it exports, the overlap its time line draws, the doctor's parameter parsing. */
import { describe, expect, it } from 'vitest';
import { toCsv } from '../../console/src/csv.js';
import { parseParams } from '../../console/src/pages/operator-doctor.js';
import { overlap } from '../../console/src/timeline.js';
import type { Consultation } from '../../console/src/types.js';

describe('console CSV', () => {
  it('quotes what needs quoting, ends lines with CRLF, and neutralises spreadsheet formulas', () => {
    expect(
      toCsv(
        ['a', 'b'],
        [
          ['x,y', 'say "hi"'],
          ['=SUM(A1)', 42],
        ],
      ),
    ).toBe('a,b\r\n"x,y","say ""hi"""\r\n\'=SUM(A1),42\r\n');
  });
});

describe('console time line overlap', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 9, minute)).toISOString();
  const consultation = (participants: Consultation['participants']) => ({ participants }) as Consultation;

  it('is the time a clinician and a care recipient were both in, whoever else came', () => {
    const spans = overlap(
      consultation([
        { identity: 'c', role: 'clinician', sessions: [{ participantSid: 'PA1', connectedAt: at(0), disconnectedAt: at(11) }] },
        {
          identity: 'p',
          role: 'patient',
          sessions: [
            { participantSid: 'PA2', connectedAt: at(2), disconnectedAt: at(5) },
            { participantSid: 'PA3', connectedAt: at(6), disconnectedAt: at(10) },
          ],
        },
        { identity: 'i', role: 'interpreter', sessions: [{ participantSid: 'PA4', connectedAt: at(0), disconnectedAt: at(11) }] },
      ]),
      Date.parse(at(30)),
    );
    expect(spans.map((span) => (span.end - span.start) / 60_000)).toEqual([3, 4]);
  });

  it('runs to now while both are still in', () => {
    const spans = overlap(
      consultation([
        { identity: 'c', role: 'clinician', sessions: [{ participantSid: 'PA1', connectedAt: at(0), disconnectedAt: null }] },
        { identity: 'o', role: 'pet-owner', sessions: [{ participantSid: 'PA2', connectedAt: at(1), disconnectedAt: null }] },
      ]),
      Date.parse(at(5)),
    );
    expect(spans).toEqual([{ start: Date.parse(at(1)), end: Date.parse(at(5)) }]);
  });
});

describe('signature doctor parameters', () => {
  it('reads Name=Value lines (a value may hold =) or one form body', () => {
    expect(parseParams('A=1\nB=x=y\n\nC=')).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'x=y' },
      { name: 'C', value: '' },
    ]);
    expect(parseParams('A=1&B=a+b%26c')).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: 'a b&c' },
    ]);
  });
});
