import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkIdentity, RESERVED_IDENTITIES } from './identity-policy.js';

/** The reserved names the README's identity-policy paragraph lists, in order. */
function readmeReservedNames(): string[] {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const paragraph = /\*\*Identity policy\*\*:([\s\S]*?)\n\n/.exec(readme)?.[1];
  if (!paragraph) throw new Error('README.md has no **Identity policy** paragraph');
  // The list: after "reserved or privileged names", a run of `name`, `name`, … ending in a full stop.
  const list = /reserved or privileged names[\s\S]*?:\s*((?:`[^`]+`,?\s*)+)\./.exec(paragraph)?.[1];
  if (!list) throw new Error('the Identity policy paragraph lists no reserved names');
  return [...list.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
}

describe('reserved identities: README and code', () => {
  it('the README lists exactly the names the code reserves', () => {
    expect([...readmeReservedNames()].sort()).toEqual([...RESERVED_IDENTITIES].sort());
  });

  it('every name the README lists is refused as reserved, alone and as a prefix', () => {
    for (const name of readmeReservedNames()) {
      for (const identity of [name, `${name}-7x`, name.toUpperCase()]) {
        expect(checkIdentity(identity), identity).toMatchObject({ ok: false, reason: 'reserved' });
      }
    }
  });
});
