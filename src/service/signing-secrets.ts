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

/**
 * The account a secret id of signingSecrets() belongs to — what binds a verified signature to
 * the AccountSid a callback names.
 *
 * @example accountOfSecretId('AC0123…/previous') === 'AC0123…'
 */
export function accountOfSecretId(secretId: string): string {
  const slash = secretId.indexOf('/');
  return slash < 0 ? '' : secretId.slice(0, slash);
}
