import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { choosePseudonym } from './erasure-pseudonym.js';
import { IdentityScrubber, isMachineIdentifier, jsonFragment, type StoredParam } from './identity-scrubber.js';

const randomHex = () => randomBytes(10).toString('hex');

/** Identities of every kind erasure may meet: policy-valid ones, and what a quarantined callback can hold. */
const identityArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcdef0123456789-_.:'), minLength: 3, maxLength: 12 }),
  fc.string({ unit: fc.constantFrom(...'aeERSD-x%!_\\"\'é☃ '), minLength: 3, maxLength: 8 }),
  fc.constantFrom('erased', 'sed-', 'erased-', 'audio', 'connected', 'participant-connected', 'RoomSid', 'abc'),
);

/** Text around zero or more copies of the identity. */
const textWith = (identity: string) =>
  fc
    .array(fc.oneof(fc.string({ maxLength: 6 }), fc.constant(identity), fc.constantFrom('audio-', '-', 'x')), { maxLength: 6 })
    .map((parts) => parts.join(''));

const scrubberArb = identityArb.map((identity) => new IdentityScrubber(identity, choosePseudonym(identity, randomHex)));

describe('IdentityScrubber', () => {
  it('matches identity fields exactly, and free text anywhere', () => {
    const scrub = new IdentityScrubber('pt-7', 'erased-3f0c');
    expect(scrub.exact('pt-7')).toBe('erased-3f0c');
    expect(scrub.exact('pt-70')).toBe('pt-70');
    expect(scrub.text('audio-pt-7')).toBe('audio-erased-3f0c');
    expect(scrub.text('pt-7 and pt-7')).toBe('erased-3f0c and erased-3f0c');
    expect(scrub.text('nothing here')).toBe('nothing here');
  });

  it('leaves machine-made values alone: a short identity inside one is a coincidence', () => {
    const scrub = new IdentityScrubber('abc', 'erased-0');
    for (const value of [
      `RM${'0abc'.repeat(8)}`,
      'con_abcdefghijklmnopqrstuvwxyz',
      '0abc1234-abcd-4abc-8abc-0123456789ab',
      '2026-01-01T10:00:00.000Z',
      'GET /v1/abc/:id',
    ]) {
      expect(isMachineIdentifier(value), value).toBe(true);
      expect(scrub.text(value)).toBe(value);
    }
    expect(scrub.text('abc')).toBe('erased-0'); // the whole value is the identity
  });

  it('never leaves the identity in free text, and changes nothing that does not hold it', () => {
    fc.assert(
      fc.property(
        scrubberArb.chain((scrub) => fc.tuple(fc.constant(scrub), textWith(scrub.identity))),
        ([scrub, text]) => {
          const out = scrub.text(text);
          if (!text.includes(scrub.identity) || isMachineIdentifier(text)) expect(out).toBe(text);
          else expect(out).not.toContain(scrub.identity);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('scrubs JSON documents: keys and identity fields exactly, strings as text, the rest kept', () => {
    fc.assert(
      fc.property(
        scrubberArb.chain((scrub) =>
          fc.tuple(
            fc.constant(scrub),
            fc.jsonValue().chain((noise) =>
              fc.record({
                noise: fc.constant(noise),
                identity: fc.constant(scrub.identity),
                text: textWith(scrub.identity),
                nested: fc.array(textWith(scrub.identity), { maxLength: 3 }),
                byIdentity: fc.constant({ [scrub.identity]: 'patient' }),
                someoneElse: fc.constant({ identity: `${scrub.identity}-2` }),
              }),
            ),
          ),
        ),
        ([scrub, document]) => {
          const before = JSON.stringify(document);
          const after = scrub.json(before);
          const strings: string[] = [];
          const walk = (value: unknown): void => {
            if (typeof value === 'string') strings.push(value);
            else if (Array.isArray(value)) value.forEach(walk);
            else if (value !== null && typeof value === 'object')
              for (const [key, item] of Object.entries(value)) {
                expect(key).not.toBe(scrub.identity);
                walk(item);
              }
          };
          const parsed = JSON.parse(after) as { someoneElse: { identity: string }; identity: string };
          expect(parsed.someoneElse.identity).toBe(`${scrub.identity}-2`);
          expect(parsed.identity).toBe(scrub.pseudonym);
          walk({ ...parsed, someoneElse: null });
          for (const value of strings) if (!isMachineIdentifier(value)) expect(value).not.toContain(scrub.identity);
          // A document that never held the identity comes back byte for byte.
          const clean = JSON.stringify({ noise: (document as { noise: unknown }).noise });
          if (!clean.includes(jsonFragment(scrub.identity))) expect(scrub.json(clean)).toBe(clean);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps every field an accepted callback is folded from, and removes the identity from a never-applied one', () => {
    fc.assert(
      fc.property(
        scrubberArb.chain((scrub) => fc.tuple(fc.constant(scrub), textWith(scrub.identity), textWith(scrub.identity))),
        ([scrub, free, glued]) => {
          const id = scrub.identity;
          const params: StoredParam[] = [
            ['AccountSid', `AC${'0'.repeat(32)}`],
            ['RoomSid', `RM${'1'.repeat(32)}`],
            ['RoomStatus', 'in-progress'],
            ['StatusCallbackEvent', 'participant-connected'],
            ['TrackKind', 'audio'],
            ['Timestamp', '2026-01-01T10:00:00.000Z'],
            ['ParticipantIdentity', id],
            ['TrackName', free],
            // A moved boundary: the identity glued into a name, or split across name and value.
            [`ParticipantIdentity${glued}`, ''],
            [`ParticipantIdentity${id.slice(0, 1)}`, `${id.slice(1)}Status`],
          ];
          const applied = scrub.callbackParams(params.slice(0, 8), true);
          expect(applied.slice(0, 6)).toEqual(params.slice(0, 6));
          expect(applied[6]).toEqual(['ParticipantIdentity', scrub.pseudonym]);
          expect(scrub.callbackParams([['ParticipantIdentity', `${id}-2`]], true)).toEqual([['ParticipantIdentity', `${id}-2`]]); // someone else
          expect(applied[7]![1]).not.toContain(id);

          const quarantined = scrub.callbackParams([...params, ['ParticipantIdentity', `${id}ParticipantSid${'0'.repeat(32)}`]], false);
          for (const [name, value] of quarantined) {
            expect(name).not.toContain(id);
            // A machine-made value (a SID, the Timestamp) holding a short identity is a coincidence
            // the scrubber leaves alone, also when read together with its name (".00" in "…00.000Z").
            if (isMachineIdentifier(value)) continue;
            expect(value).not.toContain(id);
            expect(name + value).not.toContain(id);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('refuses a pseudonym that contains the identity', () => {
    expect(() => new IdentityScrubber('sed', 'erased-1')).toThrow(RangeError);
  });
});

describe('choosePseudonym', () => {
  it('is random, and never contains the identity, even one inside its prefix', () => {
    fc.assert(
      fc.property(identityArb, (identity) => {
        const pseudonym = choosePseudonym(identity, randomHex);
        expect(pseudonym).not.toContain(identity);
        expect(pseudonym).toMatch(/^(erased-|x)[0-9a-f]{20}$/);
      }),
      { numRuns: 2000 },
    );
    expect(choosePseudonym('pt-7', randomHex)).not.toBe(choosePseudonym('pt-7', randomHex));
    expect(choosePseudonym('erased', randomHex)).toMatch(/^x[0-9a-f]{20}$/);
  });
});
