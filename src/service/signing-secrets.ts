import type { SigningSecret } from '../core/signature/verifier.js';
import type { TwilioAccountConfig } from './config.js';

/**
 * The verifier's secrets for the configured accounts. Labels ('AC…/primary', 'AC…/previous',
 * 'AC…/shared:KEY') are what metrics and logs show — never the secret itself.
 */
export function signingSecrets(accounts: readonly TwilioAccountConfig[]): SigningSecret[] {
  return accounts.flatMap((account) => [
    ...account.authTokens.map((secret, index) => ({
      id: `${account.accountSid}/${index === 0 ? 'primary' : index === 1 ? 'previous' : `token${index}`}`,
      accountSid: account.accountSid,
      algorithm: 'sha1' as const,
      secret,
    })),
    ...account.sharedKeys.map((key) => ({
      id: `${account.accountSid}/shared:${key.id}`,
      accountSid: account.accountSid,
      algorithm: 'sha256' as const,
      keyId: key.id,
      secret: key.secret,
    })),
  ]);
}
