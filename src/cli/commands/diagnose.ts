/**
 * `roomgate diagnose --url URL --token T --signature S [--param K=V]… [--body-file F]
 *  [--algorithm sha1|sha256] [--prefix /p]… [--public-url URL] [--host H]…` says whether the
 * signature matches and, if not, every cause it finds (scheme, host, port, path prefix, query
 * encoding, parameters, re-split, token — several when mistakes combine) with the URL that
 * would have matched. Exit 0 when it matches, 1 when not (or when a re-split matched), 2 bad usage.
 * Neither the token nor the signature is ever printed.
 */
import { diagnoseSignature } from '../../core/signature/diagnose.js';
import { EXIT_FAILURE, EXIT_OK } from '../command.js';
import type { DiagnoseOptions } from '../program.js';
import { signingInputs } from './sign.js';

export async function diagnoseCommand(values: DiagnoseOptions): Promise<number> {
  const inputs = await signingInputs(values);
  const result = diagnoseSignature({
    // A JSON body: the diagnosis checks the body against the URL's bodySHA256 itself.
    ...(inputs.json ? { url: values.url, body: inputs.body, contentType: 'application/json' } : { url: inputs.url, params: inputs.params }),
    signature: values.signature,
    secrets: [{ id: 'token', algorithm: inputs.algorithm, secret: inputs.token }],
    prefixHints: values.prefix,
    publicUrl: values.publicUrl,
    hostHints: values.host,
  });
  if (result.match) {
    console.log(`match: the signature is valid for ${result.url}`);
    if (!result.warning) return EXIT_OK;
    console.log(`but: ${result.warning.cause} — ${result.warning.explanation}`);
    return EXIT_FAILURE;
  }
  console.log(`no match — ${result.causes.length > 1 ? 'causes' : 'likely cause'}: ${result.causes.join(' + ')}`);
  console.log(result.explanation);
  if (result.matchingUrl) console.log(`matching URL: ${result.matchingUrl}`);
  return EXIT_FAILURE;
}
