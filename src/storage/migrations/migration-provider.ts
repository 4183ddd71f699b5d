/**
 * The migrations, listed in code (no file-system discovery: works the same from src via tsx,
 * from a bundle, and under vitest). Names sort in the order they must run; never rename one
 * that has shipped, only append.
 */
import type { Migration, MigrationProvider } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';
import { initialSchema } from './0001-initial-schema.js';
import { callbacksPendingProjection } from './0002-callbacks-pending-projection.js';
import { consultationAccount } from './0004-consultation-account.js';
import { serviceHeartbeats } from './0005-service-heartbeats.js';
import { reconciliation } from './0006-reconciliation.js';
import { consultationFoldState } from './0007-consultation-fold-state.js';
import { tenantApiContract } from './0008-tenant-api-contract.js';
import { recordingTracks } from './0008-tenant-api-recording-tracks.js';
import { tenantEventLog } from './0009-tenant-event-log.js';
import { appointmentWindows } from './0010-appointment-windows.js';
import { waitingRoom } from './0010-waiting-room.js';
import { noShows } from './0010-no-shows.js';
import { webhookEndpoints } from './0011-webhook-endpoints.js';
import { consultationRooms } from './0012-consultation-rooms.js';
import { consentLedger } from './0013-consent-ledger.js';
import { billingChain } from './0014-billing-chain.js';
import { callbacksLeanIndexes } from './0015-callbacks-lean-indexes.js';
import { compositionsPerRoom } from './0016-compositions-per-room.js';

export function migrationProvider(capabilities: DialectCapabilities): MigrationProvider {
  const migrations: Record<string, Migration> = {
    '0001_initial_schema': initialSchema(capabilities),
    '0002_callbacks_pending_projection': callbacksPendingProjection(capabilities),
    '0004_consultation_account': consultationAccount(),
    '0005_service_heartbeats': serviceHeartbeats(capabilities),
    '0006_reconciliation': reconciliation(capabilities),
    '0007_consultation_fold_state': consultationFoldState(capabilities),
    '0008_tenant_api_contract': tenantApiContract(capabilities),
    '0008_tenant_api_recording_tracks': recordingTracks(),
    '0009_tenant_event_log': tenantEventLog(capabilities),
    '0010_appointment_windows': appointmentWindows(),
    '0010_no_shows': noShows(capabilities),
    '0010_waiting_room': waitingRoom(capabilities),
    '0011_webhook_endpoints': webhookEndpoints(capabilities),
    '0012_consultation_rooms': consultationRooms(capabilities),
    '0013_consent_ledger': consentLedger(capabilities),
    '0014_billing_chain': billingChain(capabilities),
    '0015_callbacks_lean_indexes': callbacksLeanIndexes(capabilities),
    '0016_compositions_per_room': compositionsPerRoom(capabilities),
  };
  return { getMigrations: async () => migrations };
}
