/**
 * The diagnosis names what went wrong, checked on generated cases: Twilio's request is signed
 * by the official `twilio` package, then one to three of the mistakes seen in the field are
 * applied to what the server sees (a TLS proxy, a port, a stripped prefix, a rewritten host,
 * re-encoded query, an added parameter, a changed event type). The diagnosis must name exactly
 * those causes, point at the URL Twilio signed, and never print the signature or the token.
 */
import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { parseCallback } from '../webhook/callback-schema.js';
import { diagnoseSignature } from './diagnose.js';
import type { LikelyCause } from './diagnose-variants.js';
import type { FormParam } from './twilio-signature.js';

const NUM_RUNS = Number(process.env.PROPERTY_RUNS ?? 300);
const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);

interface Case {
  readonly signedUrl: string;
  readonly seenUrl: string;
  readonly signedParams: FormParam[];
  readonly seenParams: FormParam[];
  readonly causes: Set<LikelyCause>;
  readonly hints: { prefixHints?: string[]; hostHints?: string[] };
}

type Mistake = (c: Case) => Case;

const seenParts = (url: string) => /^(https?):\/\/([^/:?]+)(?::(\d+))?(\/[^?]*)(\?.*)?$/.exec(url)!;
const rebuild = (url: string, change: Partial<{ scheme: string; host: string; port: string | null; path: string; query: string }>) => {
  const [, scheme, host, port, path, query] = seenParts(url);
  const newPort = change.port === undefined ? port : change.port;
  return `${change.scheme ?? scheme}://${change.host ?? host}${newPort ? `:${newPort}` : ''}${change.path ?? path}${change.query ?? query ?? ''}`;
};
const add = (c: Case, cause: LikelyCause, patch: Partial<Case>): Case => ({ ...c, ...patch, causes: new Set([...c.causes, cause]) });

const MISTAKES: Record<string, Mistake> = {
  // A TLS-terminating proxy forwards http.
  scheme: (c) => add(c, 'scheme', { seenUrl: rebuild(c.seenUrl, { scheme: 'http' }) }),
  // Twilio's URL names port 8443; the server rebuilt it without. (An extra port on the server's
  // side is no mistake: the verifier also tries the URL without it.)
  port: (c) => add(c, 'port', { signedUrl: rebuild(c.signedUrl, { port: '8443' }) }),
  // The proxy stripped the prefix Twilio called.
  prefix: (c) =>
    add(c, 'path-prefix', {
      seenUrl: rebuild(c.seenUrl, { path: seenParts(c.seenUrl)[4]!.replace(/^\/clinic/, '') }),
      hints: { ...c.hints, prefixHints: ['/clinic'] },
    }),
  // The URL was rebuilt from an internal Host header.
  host: (c) =>
    add(c, 'host', {
      seenUrl: rebuild(c.seenUrl, { host: 'roomgate-internal' }),
      hints: { ...c.hints, hostHints: [seenParts(c.signedUrl)[2]!] },
    }),
  // A framework re-encoded the query.
  query: (c) => add(c, 'query-encoding', { seenUrl: c.seenUrl.replace("o'brien", 'o%27brien') }),
  // Middleware added a parameter after Twilio signed.
  added: (c) => add(c, 'parameters', { seenParams: [...c.seenParams, ['Extra', 'x']] }),
  // Someone edited the event type.
  changed: (c) =>
    add(c, 'parameters', {
      seenParams: c.seenParams.map(
        ([k, v]) => [k, k === 'StatusCallbackEvent' ? (v === 'room-ended' ? 'room-created' : 'room-ended') : v] as const,
      ),
    }),
};
const URL_MISTAKES = ['scheme', 'port', 'prefix', 'host', 'query'];

const aCase = fc
  .record({
    host: fc.constantFrom('api.clinic.example', 'vet.example.org', 'video.health.example.com'),
    tenant: fc.constantFrom("o'brien", "o'brien-and-sons"),
    account: hex32,
    room: hex32,
    event: fc.constantFrom('room-created', 'room-ended'),
    token: fc.stringMatching(/^[0-9a-f]{32}$/),
    mistakes: fc.uniqueArray(fc.constantFrom(...Object.keys(MISTAKES)), { minLength: 1, maxLength: 3 }),
  })
  .filter(
    ({ mistakes }) =>
      mistakes.filter((m) => URL_MISTAKES.includes(m)).length <= 3 && !(mistakes.includes('added') && mistakes.includes('changed')),
  )
  .filter(
    ({ mistakes }) =>
      mistakes.filter((m) => !URL_MISTAKES.includes(m)).length === 0 || mistakes.filter((m) => URL_MISTAKES.includes(m)).length <= 1,
  );

describe('diagnoseSignature on generated mistakes', () => {
  it('names exactly the mistakes made, for signatures made by the twilio package', () => {
    fc.assert(
      fc.property(aCase, ({ host, tenant, account, room, event, token, mistakes }) => {
        const url = `https://${host}/clinic/webhooks/twilio/video?tenant=${tenant}`;
        const signedParams: FormParam[] = [
          ['AccountSid', `AC${account}`],
          ['RoomSid', `RM${room}`],
          ['RoomName', 'consultation-1'],
          ['RoomStatus', event === 'room-ended' ? 'completed' : 'in-progress'],
          ['StatusCallbackEvent', event],
          ['Timestamp', '2026-11-29T10:00:00.000Z'],
        ];
        let c: Case = { signedUrl: url, seenUrl: url, signedParams, seenParams: signedParams, causes: new Set(), hints: {} };
        // The port mistake changes what Twilio signed; the others what the server saw.
        if (mistakes.includes('port')) c = { ...MISTAKES.port!(c), seenUrl: url };
        for (const mistake of mistakes.filter((m) => m !== 'port')) c = MISTAKES[mistake]!(c);
        const { signedUrl } = c;
        const signature = twilio.getExpectedTwilioSignature(token, signedUrl, Object.fromEntries(signedParams));

        const result = diagnoseSignature({
          url: c.seenUrl,
          params: c.seenParams,
          signature,
          secrets: [{ id: 'cli', algorithm: 'sha1', secret: token }],
          ...c.hints,
        });
        expect(result.match).toBe(false);
        if (result.match) return;
        expect(new Set(result.causes)).toEqual(c.causes);
        if (c.seenUrl !== signedUrl) expect(result.matchingUrl).toBe(signedUrl);
        if (result.causes.length > 1) expect(result.explanation).toContain('several causes combine');
        const text = JSON.stringify(result);
        expect(text).not.toContain(signature);
        expect(text).not.toContain(token);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('says token (or a changed free-text value) when the token is wrong, and host for an internal host without hints', () => {
    const url = 'https://api.clinic.example/webhooks/twilio/video';
    const params: FormParam[] = [['RoomName', 'x']];
    const signature = twilio.getExpectedTwilioSignature('right', url, { RoomName: 'x' });
    const wrongToken = diagnoseSignature({ url, params, signature, secrets: [{ id: 'cli', algorithm: 'sha1', secret: 'wrong' }] });
    expect(wrongToken).toMatchObject({ match: false, likelyCause: 'token', causes: ['token', 'parameters'] });
    const secrets = [{ id: 'cli', algorithm: 'sha1' as const, secret: 'right' }];
    expect(diagnoseSignature({ url: 'http://localhost:3000/webhooks/twilio/video', params, signature, secrets })).toMatchObject({
      match: false,
      likelyCause: 'host',
    });
    expect(
      diagnoseSignature({ url: 'http://localhost:3000/webhooks/twilio/video', params, signature, secrets, publicUrl: url }),
    ).toMatchObject({ match: false, matchingUrl: url, causes: ['scheme', 'host'] }); // the port: the verifier tries it without
  });

  it('warns of a re-split: the signature matches, the name/value boundary moved', () => {
    const url = 'https://api.clinic.example/webhooks/twilio/video';
    const genuine: FormParam[] = [
      ['AccountSid', `AC${'a'.repeat(32)}`],
      ['ParticipantIdentity', 'patient-1'],
      ['RoomSid', `RM${'b'.repeat(32)}`],
      ['StatusCallbackEvent', 'participant-connected'],
    ];
    const signature = twilio.getExpectedTwilioSignature('right', url, Object.fromEntries(genuine));
    const resplit: FormParam[] = genuine.map(([k, v]) => (k === 'ParticipantIdentity' ? ['ParticipantIdentitypatient', '-1'] : [k, v]));
    expect(parseCallback(resplit)).toMatchObject({ ok: false });
    expect(
      diagnoseSignature({ url, params: resplit, signature, secrets: [{ id: 'cli', algorithm: 'sha1', secret: 'right' }] }),
    ).toMatchObject({
      match: true,
      warning: { cause: 're-split' },
    });
  });
});
