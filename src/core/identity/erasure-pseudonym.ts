/**
 * The pseudonym that replaces an erased identity. Random, not derived from the identity: a hash
 * (even salted, if the salt is kept) could be confirmed by anyone who guesses the identity. It
 * never contains the identity, or the replacement would reintroduce it.
 *
 * @example choosePseudonym('pt-7', () => randomBytes(10).toString('hex')) // 'erased-9c1f…'
 */
export function choosePseudonym(identity: string, randomHex: () => string): string {
  for (let attempt = 0; attempt < 32; attempt += 1) {
    // An identity inside the prefix itself ('erased', 'sed-') gets a pseudonym without it.
    const candidate = attempt < 16 ? `erased-${randomHex()}` : `x${randomHex()}`;
    if (!candidate.includes(identity)) return candidate;
  }
  throw new RangeError('no pseudonym avoids this identity');
}
