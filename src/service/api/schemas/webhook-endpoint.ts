/**
 * Outbound webhook endpoints over the API (`/v1/webhook-endpoints`): the model never carries the
 * secret, except in the create and rotate answers.
 */
import { Type } from 'typebox';
import { TENANT_EVENT_TYPES } from '../../../core/events/tenant-event.js';
import { NullableTimestamp, Timestamp, pageQuery } from './common.js';

const EventType = Type.Union(
  TENANT_EVENT_TYPES.map((type) => Type.Literal(type)),
  { description: 'A tenant event type (docs/events.md).' },
);
const EventTypes = Type.Array(EventType, {
  uniqueItems: true,
  maxItems: 64,
  description: 'Only these event types are delivered; absent or null: every type.',
});
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    'https only (http only to loopback in sandbox mode, or anywhere with ROOMGATE_WEBHOOK_ALLOW_HTTP=1); no credentials; private, loopback, link-local and metadata addresses are refused unless the operator allow-lists them (ROOMGATE_WEBHOOK_ALLOW_ADDRESSES).',
});
const Description = Type.String({ maxLength: 500 });

export const CreateWebhookEndpointBody = Type.Object(
  {
    url: Url,
    eventTypes: Type.Optional(Type.Union([EventTypes, Type.Null()])),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);

export const UpdateWebhookEndpointBody = Type.Object(
  {
    url: Type.Optional(Url),
    eventTypes: Type.Optional(Type.Union([EventTypes, Type.Null()])),
    description: Type.Optional(Type.Union([Description, Type.Null()])),
    enabled: Type.Optional(Type.Boolean({ description: 'true re-enables a disabled endpoint: its waiting messages are sent again.' })),
  },
  { additionalProperties: false },
);

const endpointFields = {
  id: Type.String(),
  url: Type.String(),
  eventTypes: Type.Union([Type.Array(Type.String()), Type.Null()], { description: 'Null: every type.' }),
  description: Type.Union([Type.String(), Type.Null()]),
  enabled: Type.Boolean(),
  disabledReason: Type.Optional(Type.String({ description: 'Why the endpoint is disabled (by the tenant, or failing for too long).' })),
  failingSince: NullableTimestamp,
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

export const WebhookEndpoint = Type.Object(endpointFields, {
  additionalProperties: false,
  $id: 'WebhookEndpoint',
  title: 'WebhookEndpoint',
});

const Secret = Type.String({
  pattern: '^whsec_',
  description: 'The signing secret (Standard Webhooks): shown in this answer only; store it now.',
});

export const CreatedWebhookEndpoint = Type.Object(
  { ...endpointFields, secret: Secret },
  { additionalProperties: false, $id: 'CreatedWebhookEndpoint', title: 'CreatedWebhookEndpoint' },
);

export const RotatedWebhookSecret = Type.Object(
  {
    secret: Secret,
    previousSecretExpiresAt: Timestamp,
  },
  {
    additionalProperties: false,
    $id: 'RotatedWebhookSecret',
    title: 'RotatedWebhookSecret',
    description: 'Until previousSecretExpiresAt every delivery carries a signature with each secret.',
  },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ description: 'The attempt id (redeliver with it).' }),
    eventId: Type.String({ description: 'The event id: the `webhook-id` header.' }),
    eventType: Type.String(),
    attempt: Type.Integer({ minimum: 1 }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('retrying')], {
      description: 'pending: in flight; retrying: failed, tried again at nextAttemptAt; failed: failed and given up (or cut off).',
    }),
    responseStatus: Type.Optional(
      Type.Integer({ description: "The receiver's answer code (none after a timeout or refused connection)." }),
    ),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0 })),
    error: Type.Optional(Type.String()),
    attemptedAt: Timestamp,
    nextAttemptAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false, $id: 'WebhookDelivery', title: 'WebhookDelivery' },
);

export const Queued = Type.Object(
  { queued: Type.Integer({ minimum: 0, description: 'Messages queued for delivery.' }) },
  { additionalProperties: false, $id: 'WebhookQueued', title: 'WebhookQueued' },
);

export const RecoverBody = Type.Object(
  { since: Type.String({ format: 'date-time', description: 'Every event from this time on (up to now) is sent again.' }) },
  { additionalProperties: false },
);

export const ListWebhookEndpointsQuery = Type.Object({ ...pageQuery }, { additionalProperties: false });

export const DeliveryParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 64 }), deliveryId: Type.String({ minLength: 1, maxLength: 64 }) },
  { additionalProperties: false },
);
