/**
 * The events of the per-tenant event log (issue 17): what changed in a consultation, as a tenant
 * sees it on SSE, WebSocket, `GET /v1/events` and (later) webhooks. The payload of each type is
 * documented by the TypeBox schemas in service/api/schemas/event.ts (the OpenAPI document).
 */

export const TENANT_EVENT_TYPES = [
  'consultation.status',
  'consultation.no_show',
  'consultation.room_opened',
  'participant.joined',
  'participant.left',
  'recording.available',
  'composition.available',
  'billing.recorded',
  'billing.corrected',
  'lobby.joined',
  'lobby.admitted',
  'lobby.declined',
  'lobby.left',
  'callback.quarantined',
  'webhook-endpoint.disabled',
  'consent.given',
  'consent.withdrawn',
  'recording.unconsented',
] as const;

export type TenantEventType = (typeof TENANT_EVENT_TYPES)[number];

/** A change, before the log gives it a sequence. */
export interface TenantEventDraft {
  readonly tenantId: string;
  /** Null for an event about the tenant's setup, not a consultation (`webhook-endpoint.disabled`). */
  readonly consultationId: string | null;
  readonly type: TenantEventType;
  /** When the change was recorded (ISO-8601 UTC). */
  readonly at: string;
  readonly data: Record<string, unknown>;
}

/** An event as the log holds it and every channel shows it (never the tenant id). */
export interface TenantEvent {
  readonly id: string;
  /** Strictly increasing per tenant; the SSE `id:` and the `after=` cursor. */
  readonly sequence: number;
  readonly type: TenantEventType;
  readonly consultationId: string | null;
  readonly occurredAt: string;
  readonly data: Record<string, unknown>;
}

/** The cursor a client sends back (`Last-Event-ID`, `?after=`): a non-negative integer, else undefined. */
export function parseEventCursor(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,15}$/.test(value.trim())) return undefined;
  return Number(value.trim());
}
