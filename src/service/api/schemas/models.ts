/** The named models of the document (components.schemas); routes refer to them by `$id`. */
import type { TSchema } from 'typebox';
import { ApiKey, CreatedApiKey } from './api-key.js';
import { Consultation, ConsultationCallback } from './consultation.js';
import { TenantEventSchema } from './event.js';
import { LobbyEntry } from './lobby.js';
import { TenantSettings } from './tenant-settings.js';
import { BillingEvidence } from './billing-evidence.js';
import { ConsoleSession, DiagnoseResult, OperatorTenant, QuarantinedCallback, ReconciliationActivity, RefusalChart } from './operator.js';
import { CreatedWebhookEndpoint, Queued, RotatedWebhookSecret, WebhookDelivery, WebhookEndpoint } from './webhook-endpoint.js';
import { ConsentEntry, ConsentLedger } from './consent.js';
import { AccessToken, AuditEntry, BillingRecord, ErasureResult, Recordings } from './records.js';

export const API_MODELS: readonly TSchema[] = [
  Consultation,
  ConsultationCallback,
  AccessToken,
  Recordings,
  BillingRecord,
  BillingEvidence,
  AuditEntry,
  ErasureResult,
  ApiKey,
  CreatedApiKey,
  TenantEventSchema,
  LobbyEntry,
  TenantSettings,
  ConsoleSession,
  RefusalChart,
  QuarantinedCallback,
  DiagnoseResult,
  OperatorTenant,
  ReconciliationActivity,
  WebhookEndpoint,
  CreatedWebhookEndpoint,
  RotatedWebhookSecret,
  WebhookDelivery,
  Queued,
  ConsentEntry,
  ConsentLedger,
];
