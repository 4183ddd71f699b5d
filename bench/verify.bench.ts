/**
 * Signature verification cost, ours against twilio-node and against a bare HMAC.
 *
 *   npx tsx bench/verify.bench.ts            (ROUNDS=… ITERATIONS=… to change the effort)
 *
 * Input: a realistic Video `participant-connected` status callback (11 form parameters, raw
 * body as Twilio sends it). Cases, all on the same inputs:
 *   - ours valid / invalid: createTwilioVerifier().verify() from the raw body (parsing included);
 *   - twilio valid / invalid: twilio.validateRequest() on the already-parsed parameter object
 *     (the body parsing Express would do is NOT counted for twilio — an advantage to it);
 *   - twilio valid + parse: the same, with the body parsed by node:querystring first (what a
 *     fair comparison with ours, which starts from the raw body, looks like);
 *   - bare HMAC: createHmac('sha1', token).update(dataStringBytes).digest() — the floor.
 * Method: warm-up, then ROUNDS rounds; each round runs every case for ITERATIONS calls, in a
 * rotating order (interleaved, so drift in CPU frequency or GC hits every case alike); the
 * figure is the median over rounds of ns per call.
 * Targets: ours valid ≤ 1.3 × bare HMAC; ours invalid ≤ 2 × ours valid.
 */
import { createHmac } from 'node:crypto';
import { parse as parseQuerystring } from 'node:querystring';
import twilio from 'twilio';
import { computeTwilioSignature, signatureDataString, type FormParam } from '../src/core/signature/twilio-signature.js';
import { createTwilioVerifier, type SignedRequest } from '../src/core/signature/verifier.js';

const ROUNDS = Number(process.env.ROUNDS ?? 25);
const ITERATIONS = Number(process.env.ITERATIONS ?? 4_000);

const TOKEN = '0123456789abcdef0123456789abcdef';
const ACCOUNT = 'AC0123456789abcdef0123456789abcdef';
const URL_AS_SENT = 'https://roomgate.example.com/webhooks/twilio/video';
const PARAMS: FormParam[] = [
  ['AccountSid', ACCOUNT],
  ['RoomName', 'consult-7c1e2f1a-4b0d-4c1e-9a53-2d1f0e6b8a77'],
  ['RoomSid', 'RM5b7c1e2f1a4b0d4c1e9a532d1f0e6b8a'],
  ['RoomStatus', 'in-progress'],
  ['RoomType', 'group'],
  ['StatusCallbackEvent', 'participant-connected'],
  ['Timestamp', '2026-11-29T01:02:03.456Z'],
  ['SequenceNumber', '3'],
  ['ParticipantSid', 'PA9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b'],
  ['ParticipantStatus', 'connected'],
  ['ParticipantIdentity', 'pt-5f2c9a71e0b4'],
];
const body = Buffer.from(new URLSearchParams(PARAMS as [string, string][]).toString());
const signature = computeTwilioSignature(TOKEN, URL_AS_SENT, PARAMS);
const forged = computeTwilioSignature('not-the-token', URL_AS_SENT, PARAMS);
const paramObject: Record<string, string> = Object.fromEntries(PARAMS);
const dataBytes = Buffer.from(signatureDataString(URL_AS_SENT, PARAMS), 'utf8');

const verifier = createTwilioVerifier({ secrets: [{ id: 'primary', accountSid: ACCOUNT, algorithm: 'sha1', secret: TOKEN }] });
const validRequest: SignedRequest = { url: URL_AS_SENT, signature, contentType: 'application/x-www-form-urlencoded', body };
const invalidRequest: SignedRequest = { ...validRequest, signature: forged };

// Sanity: every case computes what it claims to.
if (!verifier.verify(validRequest).ok || verifier.verify(invalidRequest).ok) throw new Error('ours: wrong verdicts');
if (
  !twilio.validateRequest(TOKEN, signature, URL_AS_SENT, paramObject) ||
  twilio.validateRequest(TOKEN, forged, URL_AS_SENT, paramObject)
) {
  throw new Error('twilio: wrong verdicts');
}
if (createHmac('sha1', TOKEN).update(dataBytes).digest('base64') !== signature) throw new Error('bare: wrong digest');

let sink = 0;
const cases: Record<string, () => void> = {
  'ours valid': () => void (sink += verifier.verify(validRequest).ok ? 1 : 0),
  'ours invalid': () => void (sink += verifier.verify(invalidRequest).ok ? 1 : 0),
  'twilio valid': () => void (sink += twilio.validateRequest(TOKEN, signature, URL_AS_SENT, paramObject) ? 1 : 0),
  'twilio invalid': () => void (sink += twilio.validateRequest(TOKEN, forged, URL_AS_SENT, paramObject) ? 1 : 0),
  'twilio valid + parse': () =>
    void (sink += twilio.validateRequest(TOKEN, signature, URL_AS_SENT, parseQuerystring(body.toString('utf8'))) ? 1 : 0),
  'bare HMAC-SHA1': () => void (sink += createHmac('sha1', TOKEN).update(dataBytes).digest()[0]!),
};
const names = Object.keys(cases);

function timeCase(run: () => void, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) run();
  return Number(process.hrtime.bigint() - start) / iterations;
}

// Warm-up: let the JIT settle on every case.
for (let i = 0; i < 3; i++) for (const name of names) timeCase(cases[name]!, ITERATIONS);

const samples = new Map<string, number[]>(names.map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < names.length; k++) {
    const name = names[(round + k) % names.length]!;
    samples.get(name)!.push(timeCase(cases[name]!, ITERATIONS));
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const ns = Object.fromEntries(names.map((name) => [name, median(samples.get(name)!)])) as Record<string, number>;

console.log(
  `node ${process.version}, ${ROUNDS} rounds × ${ITERATIONS} calls, medians, data string ${dataBytes.length} bytes, ${PARAMS.length} params`,
);
console.table(Object.fromEntries(names.map((name) => [name, { 'ns/op': Math.round(ns[name]!), 'ops/s': Math.round(1e9 / ns[name]!) }])));
const ratio = (a: string, b: string) => ns[a]! / ns[b]!;
const ratios: [string, number, number | undefined][] = [
  ['ours valid / bare HMAC', ratio('ours valid', 'bare HMAC-SHA1'), 1.3],
  ['ours invalid / ours valid', ratio('ours invalid', 'ours valid'), 2],
  ['twilio invalid / twilio valid', ratio('twilio invalid', 'twilio valid'), undefined],
  ['twilio valid / ours valid', ratio('twilio valid', 'ours valid'), undefined],
  ['twilio invalid / ours invalid', ratio('twilio invalid', 'ours invalid'), undefined],
];
for (const [label, value, target] of ratios) {
  const verdict = target === undefined ? '' : value <= target ? `  (target ≤ ${target}: met)` : `  (target ≤ ${target}: MISSED)`;
  console.log(`${label.padEnd(32)} ${value.toFixed(2)}x${verdict}`);
}
if (sink === -1) console.log(sink);
