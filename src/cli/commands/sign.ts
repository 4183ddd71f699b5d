/**
 * `roomgate sign --url URL --token T [--param K=V]… [--body-file F] [--algorithm sha1|sha256]`
 * prints the X-Twilio-Signature Twilio would send. With a JSON --body-file, Twilio signs the
 * URL carrying `bodySHA256=<hex SHA-256 of the body>`: both that URL and the signature are
 * printed. A form --body-file is signed as its decoded parameters. --param is repeatable and
 * its order is kept (repeated keys are signed as Twilio does: distinct values, sorted).
 * The token may come from TWILIO_AUTH_TOKEN instead of --token (kept out of the process list).
 */
import { readFile } from 'node:fs/promises';
import { parseFormBody } from '../../core/signature/form-params.js';
import { bodySha256Hex, computeTwilioSignature, type FormParam, type SignatureAlgorithm } from '../../core/signature/twilio-signature.js';
import { EXIT_OK, UsageError } from '../command.js';
import type { SignOptions } from '../program.js';

export async function signCommand(options: SignOptions): Promise<number> {
  const inputs = await signingInputs(options);
  const signature = computeTwilioSignature(inputs.token, inputs.url, inputs.params, inputs.algorithm);
  if (inputs.json) {
    console.log(`URL: ${inputs.url}`);
    console.log(`X-Twilio-Signature: ${signature}`);
  } else {
    console.log(signature);
  }
  return EXIT_OK;
}

export interface SigningInputs {
  readonly url: string;
  readonly token: string;
  readonly params: FormParam[];
  readonly algorithm: SignatureAlgorithm;
  /** True when the body file held JSON (the URL then carries bodySHA256). */
  readonly json: boolean;
  readonly body: Buffer | undefined;
}

/** The options shared by `sign` and `diagnose`, validated; UsageError (exit 2) when wrong. */
export async function signingInputs(values: SignOptions): Promise<SigningInputs> {
  if (!/^https?:\/\/[^/?#]+/i.test(values.url))
    throw new UsageError('--url must be an absolute http(s) URL, exactly as configured in Twilio');
  const token = values.token ?? process.env.TWILIO_AUTH_TOKEN;
  if (!token) throw new UsageError('--token is required (or TWILIO_AUTH_TOKEN)');
  const algorithm = values.algorithm ?? 'sha1';
  if (algorithm !== 'sha1' && algorithm !== 'sha256') throw new UsageError('--algorithm must be sha1 or sha256');
  const params: FormParam[] = (values.param ?? []).map((pair) => {
    const separator = pair.indexOf('=');
    if (separator <= 0) throw new UsageError(`--param '${pair}' must be KEY=VALUE`);
    return [pair.slice(0, separator), pair.slice(separator + 1)] as const;
  });
  const file = values.bodyFile;
  if (file === undefined) return { url: values.url, token, params, algorithm, json: false, body: undefined };
  const body = await readFile(file);
  if (isJson(body)) {
    if (params.length > 0)
      throw new UsageError('--param cannot be combined with a JSON --body-file (a JSON body is signed through bodySHA256)');
    const hash = bodySha256Hex(body);
    const present = /[?&]bodySHA256=([^&#]*)/.exec(values.url)?.[1];
    if (present !== undefined && present.toLowerCase() !== hash)
      throw new UsageError("the URL's bodySHA256 is not the SHA-256 of --body-file");
    const url = present !== undefined ? values.url : `${values.url}${values.url.includes('?') ? '&' : '?'}bodySHA256=${hash}`;
    return { url, token, params: [], algorithm, json: true, body };
  }
  let fromBody: FormParam[];
  try {
    fromBody = parseFormBody(body);
  } catch (error) {
    throw new UsageError(`--body-file is neither JSON nor form data: ${(error as Error).message}`);
  }
  return { url: values.url, token, params: [...fromBody, ...params], algorithm, json: false, body };
}

function isJson(body: Buffer): boolean {
  const text = body.toString('utf8');
  if (!/^\s*[[{]/.test(text)) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
