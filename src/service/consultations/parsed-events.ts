/**
 * The fold's events by the stored text of their parameters: the projector reads each callback's
 * `params` back from the inbox and would parse it again (JSON, the schema, the event), once when
 * it is new and again in every refold of its room. The ingest, in the same thread, already
 * parsed it and remembers the event under the very text it stores; the projector looks it up
 * there first. The parse is a pure function of that text, so a hit is exactly what parsing would
 * give — and text rewritten by an erasure is another key. Bounded: when full, it starts over.
 */
import type { CallbackParam, ParsedCallback } from '../../core/webhook/callback-schema.js';
import { isVideoEvent, type VideoEvent } from '../../core/consultation/consultation-event.js';
import { parseVideoEvent, toVideoEvent } from '../../core/consultation/video-event-from-callback.js';

const MAX_ENTRIES = 4096;
const events = new Map<string, VideoEvent | undefined>();

function remember(paramsText: string, event: VideoEvent | undefined): void {
  if (events.size >= MAX_ENTRIES) events.clear();
  // Shared by every fold that reads it: frozen, so none can change it for the next.
  events.set(paramsText, event && Object.freeze(event));
}

/** The ingest: the event of a callback it stores with `params` = `paramsText`. */
export function rememberParsedCallback(paramsText: string, parsed: ParsedCallback): void {
  remember(paramsText, toVideoEvent(parsed));
}

/** The projector: the event stored as `paramsText` (undefined: not a sound video event). */
export function videoEventOfParams(paramsText: string): VideoEvent | undefined {
  if (events.has(paramsText)) return events.get(paramsText);
  const parsed = parseVideoEvent(JSON.parse(paramsText) as CallbackParam[]);
  const event = isVideoEvent(parsed) ? parsed : undefined;
  remember(paramsText, event);
  return event;
}
