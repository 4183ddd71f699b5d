/**
 * Re-split copies of a genuine callback: Twilio's string-to-sign runs each parameter's name and
 * value together with no separator, so moving ONE boundary — between a name and its value, or
 * between a value and the next name (in signing order) — yields a different body with the same
 * string-to-sign, hence the same valid signature, without knowing the auth token.
 */
import { parameterSuffix } from '../../src/core/signature/parameter-suffix.js';

export type Param = readonly [string, string];

export interface Resplit {
  /** Which boundary moved, for messages: e.g. `ParticipantIdentity|x1 → ParticipantIdentityx|1`. */
  readonly label: string;
  /** The genuine name whose text moved (the documented field the copy damages). */
  readonly field: string;
  readonly params: Param[];
}

/** The parameter part of the string-to-sign (sorted, name + value, no separators). */
export function stringToSign(params: readonly Param[]): string {
  return parameterSuffix(params).bytewise;
}

/**
 * Every copy of `params` with one boundary moved by any number of characters whose
 * string-to-sign is unchanged (the others would not verify). Genuine names must be distinct.
 */
export function resplits(params: readonly Param[]): Resplit[] {
  const sorted = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const signed = stringToSign(sorted);
  const found = new Map<string, Resplit>();
  const offer = (field: string, label: string, next: Param[]) => {
    if (stringToSign(next) !== signed) return;
    const key = JSON.stringify(next);
    if (!found.has(key)) found.set(key, { field, label, params: next });
  };
  sorted.forEach(([name, value], index) => {
    const replace = (...pairs: Param[]) => [...sorted.slice(0, index), ...pairs, ...sorted.slice(index + 1)];
    // The boundary between this name and its value, moved left or right.
    for (let cut = 0; cut < name.length; cut++) {
      offer(
        name,
        `${name}|${value} → ${name.slice(0, cut)}|${name.slice(cut)}${value}`,
        replace([name.slice(0, cut), name.slice(cut) + value]),
      );
    }
    for (let cut = 1; cut <= value.length; cut++) {
      offer(
        name,
        `${name}|${value} → ${name}${value.slice(0, cut)}|${value.slice(cut)}`,
        replace([name + value.slice(0, cut), value.slice(cut)]),
      );
    }
    // The boundary between this value and the next name, moved left or right.
    const following = sorted[index + 1];
    if (!following) return;
    const [nextName, nextValue] = following;
    const replaceTwo = (first: Param, second: Param) => [...sorted.slice(0, index), first, second, ...sorted.slice(index + 2)];
    for (let cut = 1; cut <= value.length; cut++) {
      const moved = value.slice(value.length - cut);
      offer(
        nextName,
        `${value}|${nextName} → ${value.slice(0, -cut)}|${moved}${nextName}`,
        replaceTwo([name, value.slice(0, -cut)], [moved + nextName, nextValue]),
      );
    }
    for (let cut = 1; cut <= nextName.length; cut++) {
      offer(
        nextName,
        `${value}|${nextName} → ${value}${nextName.slice(0, cut)}|${nextName.slice(cut)}`,
        replaceTwo([name, value + nextName.slice(0, cut)], [nextName.slice(cut), nextValue]),
      );
    }
  });
  return [...found.values()];
}
