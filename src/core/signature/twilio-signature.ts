import { createHash, createHmac } from 'node:crypto';
import { parameterSuffix } from './parameter-suffix.js';

/** One form parameter, in the order received. Repeated keys appear once per value. */
export type FormParam = readonly [key: string, value: string];

export type SignatureAlgorithm = 'sha1' | 'sha256';

/**
 * The string Twilio signs: the URL exactly as requested, then each parameter's key and value,
 * sorted by key (byte order); a repeated key contributes its distinct values, sorted.
 * See parameter-suffix.ts for the order and why it is byte order, not UTF-16.
 *
 * @example signatureDataString('https://x.test/cb', [['b','2'],['a','1']]) === 'https://x.test/cba1b2'
 */
export function signatureDataString(url: string, params: readonly FormParam[]): string {
  return url + parameterSuffix(params).bytewise;
}

/**
 * The base64 `X-Twilio-Signature` Twilio sends for this URL and these parameters.
 *
 * @example computeTwilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', params)
 */
export function computeTwilioSignature(
  secret: string,
  url: string,
  params: readonly FormParam[],
  algorithm: SignatureAlgorithm = 'sha1',
): string {
  return createHmac(algorithm, secret).update(signatureDataString(url, params), 'utf8').digest('base64');
}

/**
 * Lower-case hex SHA-256 of a JSON body, as Twilio puts in the `bodySHA256` query parameter.
 *
 * @example bodySha256Hex('{"property": "value", "boolean": true}') === '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620'
 */
export function bodySha256Hex(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('hex');
}
