/**
 * Replaces one erased identity by its pseudonym in stored values — the rules of erasure, with no
 * I/O (storage applies them row by row).
 *
 * Where an identity is the subject of a field (`identity` columns, Twilio's `ParticipantIdentity`
 * in an accepted callback, JSON keys and `identity` fields) only an exact match is it: `alice-2` is
 * someone else than `alice`. Elsewhere — free text such as a client-chosen `TrackName`, audit
 * details, callbacks that are never applied (quarantined, unmatched) — every
 * occurrence goes, except inside machine-made values (Twilio SIDs, Roomgate ids, UUIDs,
 * timestamps, route labels such as `GET /v1/consultations/:id`), where a short identity can
 * only occur by coincidence and changing the value would break what it points to. The Twilio
 * fields an accepted callback is folded from are never touched (only exact identity fields and
 * free text are), so the consultation's record and its billing fold to the same result after an
 * erasure.
 *
 * @example
 *   const scrub = new IdentityScrubber('pt-7', 'erased-3f0c');
 *   scrub.text('audio-pt-7'); // 'audio-erased-3f0c'
 *   scrub.exact('pt-70'); // 'pt-70' (another identity)
 */

/** A callback parameter as stored: [name, value], in the order received. */
export type StoredParam = readonly [string, string];

/**
 * Twilio's status-callback fields that are not free text: the fold, screening and the dedupe
 * key read them, and none of them carries an identity (shared/twilio-reference.md).
 */
const STRUCTURAL_CALLBACK_FIELDS = new Set([
  'AccountSid',
  'RoomSid',
  'RoomName',
  'RoomStatus',
  'RoomType',
  'StatusCallbackEvent',
  'Timestamp',
  'SequenceNumber',
  'ParticipantSid',
  'ParticipantStatus',
  'ParticipantDuration',
  'RoomDuration',
  'TrackSid',
  'TrackKind',
  'RecordingSid',
  'SourceSid',
  'RecordingUri',
  'Container',
  'Codec',
  'Type',
  'OffsetFromTwilioVideoEpoch',
  'MediaUri',
  'Duration',
  'Size',
  'MediaExternalLocation',
  'FailedOperation',
  'CompositionSid',
  'CompositionUri',
  'PercentageDone',
  'SecondsRemaining',
  'ErrorMessage',
]);

/** Values that only machines make; an identity inside one is a coincidence of characters. */
const MACHINE_IDENTIFIER = new RegExp(
  [
    '^[A-Z]{2}[0-9a-f]{32}$', // Twilio SID
    '^[a-z]{2,8}_[a-z2-7]{26}$', // Roomgate newId()
    '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', // UUID (request ids)
    '^[0-9a-f]{64}$', // SHA-256 hex (dedupe keys)
    '^[A-Z]+ (?:/\\S*|unmatched)$', // route labels in the audit log (`GET /v1/consultations/:id`)
    '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?(?:Z|[+-]\\d{2}:?\\d{2})$', // RFC 3339 time
  ].join('|'),
);

export function isMachineIdentifier(value: string): boolean {
  return MACHINE_IDENTIFIER.test(value);
}

/** Fields whose whole value is an identity (`ParticipantIdentity`, and any later `…Identity`). */
function isIdentityField(name: string): boolean {
  return /identity$/i.test(name);
}

export class IdentityScrubber {
  constructor(
    readonly identity: string,
    readonly pseudonym: string,
  ) {
    if (identity.length === 0) throw new RangeError('an empty identity cannot be erased');
    if (pseudonym.includes(identity)) throw new RangeError('the pseudonym must not contain the identity');
  }

  /** An identity field: the pseudonym if it is exactly the identity, else unchanged. */
  exact(value: string): string {
    return value === this.identity ? this.pseudonym : value;
  }

  /** Free text: every occurrence replaced, unless the value is a machine identifier. */
  text(value: string): string {
    if (value === this.identity) return this.pseudonym;
    if (!value.includes(this.identity) || isMachineIdentifier(value)) return value;
    const replaced = value.replaceAll(this.identity, this.pseudonym);
    // A replacement can join neighbours into a new occurrence ("aab" → …); then nothing of the
    // text is kept.
    return replaced.includes(this.identity) ? this.pseudonym : replaced;
  }

  /** A JSON document as stored (audit detail, outbox payload, event payload): keys and `…identity` fields exact, other strings as text. */
  json(document: string): string {
    if (!document.includes(jsonFragment(this.identity))) return document;
    return JSON.stringify(this.jsonValue(JSON.parse(document) as unknown));
  }

  /**
   * A callback's stored parameters. `applied` callbacks (accepted: folded into a record) keep
   * every Twilio field as it is except identity fields (exact match) and free text. Callbacks
   * that are never applied (quarantined, unmatched) lose every occurrence, in identity fields and
   * names too: a moved name/value boundary can glue the identity to a name
   * (`ParticipantIdentityx1=`), to the next field (`ParticipantIdentity=x1ParticipantSidPA…`) or
   * split it across a name and its value — at worst a neighbour's quarantined evidence is
   * blurred, never the erased identity kept.
   */
  callbackParams(params: readonly StoredParam[], applied: boolean): [string, string][] {
    return params.map(([name, value]): [string, string] => {
      if (applied) {
        if (isIdentityField(name)) return [name, this.exact(value)];
        return STRUCTURAL_CALLBACK_FIELDS.has(name) ? [name, value] : [name, this.text(value)];
      }
      const scrubbed: [string, string] = [this.text(name), this.text(value)];
      if (!isMachineIdentifier(value) && (scrubbed[0] + scrubbed[1]).includes(this.identity)) return [this.text(name + value), ''];
      return scrubbed;
    });
  }

  /** A callback's participant_identity column, by the same rule as its parameters. */
  callbackIdentity(value: string, applied: boolean): string {
    return applied ? this.exact(value) : this.text(value);
  }

  private jsonValue(value: unknown): unknown {
    if (typeof value === 'string') return this.text(value);
    if (Array.isArray(value)) return value.map((item) => this.jsonValue(item));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [
          this.exact(key),
          isIdentityField(key) && typeof item === 'string' ? this.exact(item) : this.jsonValue(item),
        ]),
      );
    }
    return value;
  }
}

/** How a string appears inside JSON text (quotes and backslashes escaped), for a LIKE pre-filter. */
export function jsonFragment(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
