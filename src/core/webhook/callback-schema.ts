/**
 * A verified Twilio Video status callback, parsed ONCE and strictly against Twilio's schema for
 * its event type (shared/twilio-reference.md). Freshness, the dedupe key, screening and the fold
 * all read what this parse returns — never the raw parameters — so there is one reading of every
 * field, and one `Timestamp` rule.
 *
 * Why strict: Twilio's string-to-sign is the URL followed by each parameter's name and value run
 * together, so the boundaries between names and values are NOT signed. A captured body
 * `…&ParticipantIdentity=x1&…` re-sent as `…&ParticipantIdentityx1=&…` still verifies. Such a
 * copy is recognised here because it leaves a documented field missing and an undocumented name
 * cut from, or grown out of, a documented one.
 *
 * The rules, in the order they are checked (the first that fails is the reason):
 *   1. `schema-resplit:F`        an undocumented name that is a proper prefix or suffix of the
 *                                event's documented field F, or that starts or ends with F
 *   2. `schema-repeated-field:F` a documented field F given more than once (Twilio never does;
 *                                two values would be read two ways)
 *   3. `schema-missing-field:StatusCallbackEvent`, `schema-empty-field:StatusCallbackEvent`,
 *      `schema-unknown-event`    no event type, or one that is not a Video room or composition event
 *   4. `schema-missing-field:F`, `schema-empty-field:F`, `schema-malformed-field:F`  each field
 *      the event needs, in turn: absent, empty, or not in its form (FIELD_FORMATS below)
 *   5. `schema-malformed-field:F` an optional field present in the wrong form
 * JSON bodies add `schema-not-an-object` and `schema-non-scalar[:F]` (readJsonCallback).
 * Reasons name documented fields only — never a received name or value — so they are a closed,
 * short vocabulary, safe for logs and metric labels, and never carry a piece of an identity.
 *
 * "Needed" (required) fields are those that screening, the dedupe key, freshness or the fold read
 * and without which the event means nothing; the fold's optional fields (durations, sizes, media
 * links, track names, a recording's kind) are checked when present: every value the fold writes to
 * a bounded column is bounded here, so no signed value can make a projection's INSERT fail on
 * PostgreSQL or MariaDB (over its varchar, a NUL) and hold its consultation back. An empty optional field counts as absent.
 * Parameters the schema does not document are kept as received and ignored — Twilio may add some.
 */
import {
  COMPOSITION_EVENT_TYPES,
  PARTICIPANT_EVENT_TYPES,
  RECORDING_EVENT_TYPES,
  ROOM_EVENT_TYPES,
  TRACK_EVENT_TYPES,
  type VideoEventType,
} from '../consultation/consultation-event.js';
import { parseTwilioTimestamp } from './twilio-timestamp.js';

/** One form parameter, name and decoded value, as received. */
export type CallbackParam = readonly [name: string, value: string];

export type CallbackKind = 'room' | 'participant' | 'track' | 'recording' | 'composition';

interface ParseCommon {
  /**
   * Documented fields present exactly once, non-empty and well-formed. On success: the event's
   * own documented fields. On a rejection: whatever documented fields are still sound, so the
   * quarantined row can say which room, participant and time it was about.
   */
  readonly fields: Readonly<Record<string, string>>;
  readonly event: VideoEventType | undefined;
  /** The `Timestamp` in ms since the epoch, when it is present once and in Twilio's format. */
  readonly timestamp: number | undefined;
}

export interface ParsedCallback extends ParseCommon {
  readonly ok: true;
  readonly kind: CallbackKind;
  readonly event: VideoEventType;
  readonly timestamp: number;
  readonly accountSid: string;
  readonly roomSid: string;
}

export interface RejectedCallback extends ParseCommon {
  readonly ok: false;
  /** Why the callback is quarantined, e.g. `schema-resplit:ParticipantIdentity` (≤ 64 characters). */
  readonly reason: string;
}

export type CallbackParse = ParsedCallback | RejectedCallback;

const INT32_MAX = 2_147_483_647;
/** Control characters (C0, DEL, C1): no Twilio name, link or track name holds one. */
const CONTROL = /\p{Cc}/u;
/** A surrogate without its pair (possible in a JSON string): no column would store it as sent. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Check = (value: string) => boolean;

/** Twilio's OpenAPI spells every SID as its two-letter prefix and 32 hex digits. */
const sid = (prefix: string): Check => {
  const form = new RegExp(`^${prefix}[0-9a-fA-F]{32}$`);
  return (value) => value.length === 34 && form.test(value);
};
/** Printable text of bounded length: the value reaches a bounded column. */
const text =
  (max: number): Check =>
  (value) =>
    value.length <= max && !CONTROL.test(value) && !LONE_SURROGATE.test(value);
/** A whole number in canonical digits (no sign, no leading zero), at most `max`. */
const whole =
  (max: number): Check =>
  (value) =>
    /^(0|[1-9][0-9]{0,15})$/.test(value) && Number(value) <= max;
const anything: Check = () => true;

const KIND = new Map<string, CallbackKind>([
  ...ROOM_EVENT_TYPES.map((type) => [type, 'room'] as const),
  ...PARTICIPANT_EVENT_TYPES.map((type) => [type, 'participant'] as const),
  ...TRACK_EVENT_TYPES.map((type) => [type, 'track'] as const),
  ...RECORDING_EVENT_TYPES.map((type) => [type, 'recording'] as const),
  ...COMPOSITION_EVENT_TYPES.map((type) => [type, 'composition'] as const),
]);

/**
 * The form of every documented field when present. `anything` marks fields Roomgate stores but
 * never reads; the identity policy is screening's (it has its own reasons).
 */
const FIELD_FORMATS: Readonly<Record<string, Check>> = Object.freeze({
  AccountSid: sid('AC'),
  RoomName: text(256),
  RoomSid: sid('RM'),
  RoomStatus: anything,
  RoomType: anything,
  StatusCallbackEvent: (value: string) => KIND.has(value),
  Timestamp: (value: string) => parseTwilioTimestamp(value) !== undefined,
  SequenceNumber: whole(INT32_MAX),
  RoomDuration: whole(INT32_MAX),
  ParticipantSid: sid('PA'),
  ParticipantStatus: anything,
  ParticipantIdentity: anything,
  ParticipantDuration: whole(INT32_MAX),
  TrackSid: sid('MT'),
  TrackKind: anything,
  TrackName: text(255),
  RecordingSid: sid('RT'),
  SourceSid: anything,
  RecordingUri: anything,
  Container: anything,
  Codec: anything,
  // The recording's kind (audio|video|data): the fold stores it in recordings.kind, varchar(16).
  Type: text(16),
  OffsetFromTwilioVideoEpoch: anything,
  MediaUri: text(2048),
  Duration: whole(INT32_MAX),
  Size: whole(Number.MAX_SAFE_INTEGER),
  MediaExternalLocation: anything,
  FailedOperation: anything,
  CompositionSid: sid('CJ'),
  CompositionUri: anything,
  PercentageDone: whole(100),
  SecondsRemaining: whole(INT32_MAX),
  ErrorMessage: anything,
});

interface EventSchema {
  readonly required: readonly string[];
  readonly optional: readonly string[];
}

const ROOM_BASE: EventSchema = {
  required: ['AccountSid', 'RoomName', 'RoomSid', 'StatusCallbackEvent', 'Timestamp', 'SequenceNumber'],
  optional: ['RoomStatus', 'RoomType'],
};
const PARTICIPANT = ['ParticipantSid', 'ParticipantIdentity'];
const RECORDING_OPTIONAL = ['SourceSid', 'RecordingUri', 'Container', 'Codec', 'Type', 'TrackName', 'OffsetFromTwilioVideoEpoch'];
const COMPOSITION_BASE: EventSchema = {
  required: ['AccountSid', 'RoomSid', 'StatusCallbackEvent', 'Timestamp', 'CompositionSid'],
  optional: ['CompositionUri'],
};

const extend = (base: EventSchema, required: readonly string[], optional: readonly string[] = []): EventSchema => ({
  required: [...base.required, ...required],
  optional: [...base.optional, ...optional],
});

/** Per event type: the fields it needs, and the other fields Twilio documents for it. */
const SCHEMAS: ReadonlyMap<VideoEventType, EventSchema> = new Map<VideoEventType, EventSchema>([
  ['room-created', ROOM_BASE],
  ['room-ended', extend(ROOM_BASE, [], ['RoomDuration'])],
  ['participant-connected', extend(ROOM_BASE, PARTICIPANT, ['ParticipantStatus'])],
  ['participant-disconnected', extend(ROOM_BASE, PARTICIPANT, ['ParticipantStatus', 'ParticipantDuration'])],
  ...TRACK_EVENT_TYPES.map(
    (type) => [type, extend(ROOM_BASE, [...PARTICIPANT, 'TrackSid'], ['ParticipantStatus', 'TrackKind', 'TrackName'])] as const,
  ),
  ['recording-started', extend(ROOM_BASE, ['RecordingSid', ...PARTICIPANT], RECORDING_OPTIONAL)],
  [
    'recording-completed',
    extend(ROOM_BASE, ['RecordingSid', ...PARTICIPANT], [...RECORDING_OPTIONAL, 'MediaUri', 'Duration', 'Size', 'MediaExternalLocation']),
  ],
  ['recording-failed', extend(ROOM_BASE, ['RecordingSid', ...PARTICIPANT], [...RECORDING_OPTIONAL, 'FailedOperation'])],
  ['composition-enqueued', COMPOSITION_BASE],
  // No composition was made: no CompositionSid to require.
  [
    'composition-hook-failed',
    {
      required: COMPOSITION_BASE.required.filter((name) => name !== 'CompositionSid'),
      optional: ['CompositionSid', 'CompositionUri', 'FailedOperation', 'ErrorMessage'],
    },
  ],
  ['composition-started', COMPOSITION_BASE],
  // PercentageDone is part of the dedupe key: two progress callbacks differ only by it.
  ['composition-progress', extend(COMPOSITION_BASE, ['PercentageDone'], ['SecondsRemaining'])],
  ['composition-available', extend(COMPOSITION_BASE, [], ['MediaUri', 'Duration', 'Size'])],
  ['composition-failed', extend(COMPOSITION_BASE, [], ['FailedOperation', 'ErrorMessage'])],
]);

/** Every documented name, for callbacks whose event type cannot be known. */
const ALL_FIELDS: readonly string[] = Object.keys(FIELD_FORMATS);

// A parse runs on the HTTP thread for every callback, so it works on arrays indexed by field
// (FIELD_INDEX) filled in one pass, and checks each field's form once.
const FIELD_INDEX: ReadonlyMap<string, number> = new Map(ALL_FIELDS.map((name, index) => [name, index]));
const CHECKS: readonly Check[] = ALL_FIELDS.map((name) => FIELD_FORMATS[name]!);
const TIMESTAMP = FIELD_INDEX.get('Timestamp')!;
const EVENT = FIELD_INDEX.get('StatusCallbackEvent')!;

/** A list of documented fields, by name and by index; `set` for membership. */
interface FieldList {
  readonly names: readonly string[];
  readonly indexes: readonly number[];
  readonly set: ReadonlySet<string>;
}

const fieldList = (names: readonly string[]): FieldList => ({
  names: Object.freeze([...names]),
  indexes: names.map((name) => FIELD_INDEX.get(name)!),
  set: new Set(names),
});

/** Per event type: its documented fields (needed ones first), the needed ones, the others. */
const LISTS = new Map<VideoEventType, { readonly documented: FieldList; readonly required: FieldList; readonly optional: FieldList }>(
  [...SCHEMAS].map(([event, schema]) => [
    event,
    {
      documented: fieldList([...schema.required, ...schema.optional]),
      required: fieldList(schema.required),
      optional: fieldList(schema.optional),
    },
  ]),
);
const ALL_LIST = fieldList(ALL_FIELDS);

/** The documented fields of an event type, needed ones first (the order reasons are found in). */
export function documentedFields(event: VideoEventType): readonly string[] {
  return LISTS.get(event)!.documented.names;
}

/** The fields an event type needs. */
export function requiredFields(event: VideoEventType): readonly string[] {
  return SCHEMAS.get(event)!.required;
}

/** What one pass over the parameters found, per documented field (by FIELD_INDEX). */
interface Reading {
  /** Distinct parameter names, in the order they first came. */
  readonly names: readonly string[];
  /** 0 absent, 1 once, 2 more than once. */
  readonly counts: Uint8Array;
  /** The first value given. */
  readonly first: readonly (string | undefined)[];
  /** The value when present once, non-empty and in its form. */
  readonly sound: readonly (string | undefined)[];
}

/**
 * Parses a verified callback's form parameters against its event type's schema.
 *
 * @example
 * parseCallback([['AccountSid', 'AC…'], ['RoomName', 'rg-1'], ['RoomSid', 'RM…'], ['StatusCallbackEvent', 'room-created'],
 *   ['Timestamp', '2026-03-01T10:00:00.000Z'], ['SequenceNumber', '0']])
 * // { ok: true, kind: 'room', event: 'room-created', timestamp: 1772359200000, fields: { … }, … }
 * parseCallback([…, ['ParticipantIdentityx1', '']]) // { ok: false, reason: 'schema-resplit:ParticipantIdentity', … }
 */
export function parseCallback(params: readonly CallbackParam[]): CallbackParse {
  const names: string[] = [];
  const counts = new Uint8Array(ALL_FIELDS.length);
  const first: (string | undefined)[] = [];
  let undocumented: Set<string> | undefined;
  for (const [name, value] of params) {
    const index = FIELD_INDEX.get(name);
    if (index === undefined) {
      if (undocumented?.has(name)) continue;
      (undocumented ??= new Set()).add(name);
      names.push(name);
    } else if (counts[index] === 0) {
      counts[index] = 1;
      first[index] = value;
      names.push(name);
    } else counts[index] = 2;
  }
  const sound: (string | undefined)[] = [];
  let timestamp: number | undefined;
  for (let index = 0; index < ALL_FIELDS.length; index++) {
    const value = first[index];
    if (value === undefined || value === '' || counts[index] !== 1) continue;
    if (index === TIMESTAMP) {
      timestamp = parseTwilioTimestamp(value);
      if (timestamp !== undefined) sound[index] = value;
    } else if (CHECKS[index]!(value)) sound[index] = value;
  }
  const reading: Reading = { names, counts, first, sound };
  const event = sound[EVENT] as VideoEventType | undefined;
  const reason = refusalOf(reading, event);
  if (reason !== undefined || event === undefined) {
    return { ok: false, reason: reason ?? 'schema-unknown-event', fields: fieldsOf(sound, ALL_LIST), event, timestamp };
  }

  const fields = fieldsOf(sound, LISTS.get(event)!.documented);
  return {
    ok: true,
    kind: KIND.get(event)!,
    event,
    timestamp: timestamp!,
    accountSid: fields.AccountSid!,
    roomSid: fields.RoomSid!,
    fields,
  };
}

/** The first rule the callback breaks (see the file comment), or undefined when it breaks none. */
function refusalOf({ names, counts, first, sound }: Reading, event: VideoEventType | undefined): string | undefined {
  const lists = event === undefined ? undefined : LISTS.get(event)!;
  const documented = lists?.documented ?? ALL_LIST;
  for (const name of names) {
    if (documented.set.has(name)) continue;
    for (const field of documented.names) if (cutFrom(name, field)) return `schema-resplit:${field}`;
  }
  for (let at = 0; at < documented.indexes.length; at++) {
    if (counts[documented.indexes[at]!] === 2) return `schema-repeated-field:${documented.names[at]!}`;
  }

  if (counts[EVENT] === 0) return 'schema-missing-field:StatusCallbackEvent';
  if (first[EVENT] === '') return 'schema-empty-field:StatusCallbackEvent';
  if (lists === undefined) return 'schema-unknown-event';

  // No documented field is repeated from here on: a present, non-empty one is sound or malformed.
  const { required, optional } = lists;
  for (let at = 0; at < required.indexes.length; at++) {
    const index = required.indexes[at]!;
    if (counts[index] === 0) return `schema-missing-field:${required.names[at]!}`;
    if (first[index] === '') return `schema-empty-field:${required.names[at]!}`;
    if (sound[index] === undefined) return `schema-malformed-field:${required.names[at]!}`;
  }
  for (let at = 0; at < optional.indexes.length; at++) {
    const index = optional.indexes[at]!;
    if (counts[index] !== 0 && first[index] !== '' && sound[index] === undefined) return `schema-malformed-field:${optional.names[at]!}`;
  }
  return undefined;
}

/**
 * A JSON callback (signed through `bodySHA256`): its top-level fields as parameters, and their
 * parse. Strings are taken as they are, numbers and booleans as JSON writes them; any other
 * value (object, array, null) is kept in the parameters as its JSON text, and quarantines the
 * callback as `schema-non-scalar:F` (F a documented field) or `schema-non-scalar`. A body that
 * is not a JSON object → `schema-not-an-object`. (A key given twice in JSON text is read once,
 * the last, by JSON.parse — the only reading there is.)
 *
 * @example readJsonCallback({ AccountSid: 'AC…', Timestamp: { at: 1 } }).parsed // { ok: false, reason: 'schema-non-scalar:Timestamp', … }
 */
export function readJsonCallback(json: unknown): { params: CallbackParam[]; parsed: CallbackParse } {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    return { params: [], parsed: { ok: false, reason: 'schema-not-an-object', fields: {}, event: undefined, timestamp: undefined } };
  }
  const params: CallbackParam[] = [];
  const scalars: CallbackParam[] = [];
  let nonScalar: string | undefined;
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      const param = [name, typeof value === 'string' ? value : JSON.stringify(value)] as const;
      params.push(param);
      scalars.push(param);
    } else {
      params.push([name, jsonText(value)]);
      nonScalar ??= Object.hasOwn(FIELD_FORMATS, name) ? `schema-non-scalar:${name}` : 'schema-non-scalar';
    }
  }
  const parsed = parseCallback(scalars);
  if (nonScalar === undefined) return { params, parsed };
  return { params, parsed: { ok: false, reason: nonScalar, fields: parsed.fields, event: parsed.event, timestamp: parsed.timestamp } };
}

/**
 * A non-scalar value's JSON text. JSON.stringify recurses: a value nested a few thousand levels
 * deep (a 20 KiB body, well under the limit) throws RangeError — kept as a marker instead, the
 * callback being quarantined as non-scalar anyway (it once answered 500).
 */
function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '[nested too deep]';
  }
}

/** `name` is what is left of `field`, or `field` grown, after a name/value boundary moved. */
function cutFrom(name: string, field: string): boolean {
  return field.startsWith(name) || field.endsWith(name) || name.startsWith(field) || name.endsWith(field);
}

/** Of `list`, in its order, the fields present exactly once, non-empty and in their documented form. */
function fieldsOf(sound: readonly (string | undefined)[], list: FieldList): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let at = 0; at < list.indexes.length; at++) {
    const value = sound[list.indexes[at]!];
    if (value !== undefined) fields[list.names[at]!] = value;
  }
  return fields;
}
