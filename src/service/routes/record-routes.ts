/** Recordings and the compositions (one per room) of one consultation; the tenant's billing records. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { billingVersionContent, findTenantBillingRecord, listTenantBillingRecords } from '../../storage/billing-repository.js';
import { findBillingChainHead, findBillingVersion, findLastBillingVersion } from '../../storage/billing-chain-repository.js';
import { chainHash, type StoredChainEntry } from '../../core/billing/billing-chain.js';
import { canonicalJson } from '../../core/billing/canonical-json.js';
import { findTenantConsultation } from '../../storage/consultation-repository.js';
import { listConsultationSessions } from '../../storage/participant-repository.js';
import { findConsultationCompositions, listConsultationRecordings } from '../../storage/recording-repository.js';
import type { TwilioRestClient } from '../twilio/twilio-rest-client.js';
import { twilioFailure } from '../twilio/twilio-failure.js';
import type { Store } from '../../storage/store.js';
import { IdParams, page, withErrors } from '../api/schemas/common.js';
import { CompositionMediaQuery, ListBillingQuery } from '../api/schemas/records.js';
import { BillingEvidenceQuery } from '../api/schemas/billing-evidence.js';
import { HttpError } from '../errors.js';
import { decodeCursor, pageOf } from './page-cursor.js';
import { toUtcTimestamp } from './utc-timestamp.js';

/** Twilio's media URL lives this long; the redirect is never cached. */
const MEDIA_URL_TTL_SECONDS = 600;

export async function recordRoutes(root: FastifyInstance, options: { store: Store; twilio: TwilioRestClient }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { store, twilio } = options;

  app.get(
    '/v1/consultations/:id/recordings',
    {
      config: { scope: 'recordings:read' },
      schema: {
        summary: "The consultation's recordings and its compositions (one per room that recorded).",
        description:
          "A media link is shown only once the recording completed / the composition is available. `composition` is the latest room's; `compositions` lists every room's.",
        params: IdParams,
        response: withErrors({ 200: Type.Ref('Recordings') }, 404),
      },
    },
    async (request) => {
      const consultation = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!consultation) throw new HttpError('NOT_FOUND');
      const [recordings, compositions, sessions] = await Promise.all([
        listConsultationRecordings(store.db, consultation.id),
        findConsultationCompositions(store.db, consultation.id),
        listConsultationSessions(store.db, consultation.id),
      ]);
      const identityOf = new Map(sessions.map((session) => [session.participant_sid, session.identity]));
      const latest = compositions.at(-1);
      const view = (composition: (typeof compositions)[number]) => ({
        roomSid: composition.room_sid,
        compositionSid: composition.composition_sid,
        status: composition.status,
        attempts: composition.attempts,
        // Once Twilio said composition-available: this service's media route, which needs
        // only the tenant's key (Twilio's own link needs the Twilio account's credentials).
        mediaUri:
          composition.status !== 'available'
            ? null
            : `/v1/consultations/${consultation.id}/composition/media${composition === latest ? '' : `?roomSid=${encodeURIComponent(composition.room_sid)}`}`,
        updatedAt: composition.updated_at,
      });
      return {
        recordings: recordings.map((row) => ({
          recordingSid: row.recording_sid,
          trackName: row.track_name,
          participantSid: row.participant_sid,
          identity: (row.participant_sid && identityOf.get(row.participant_sid)) ?? null,
          kind: row.kind,
          status: row.status,
          duration: row.duration,
          size: row.size,
          mediaUri: row.status === 'completed' ? row.media_uri : null,
          completedAt: row.completed_at,
          consentFlag: row.consent_flag === 'not-consented' ? ('not-consented' as const) : null,
        })),
        composition: latest ? view(latest) : null,
        compositions: compositions.map(view),
      };
    },
  );

  app.get(
    '/v1/consultations/:id/composition/media',
    {
      config: { scope: 'recordings:read' },
      schema: {
        summary: "Redirect to the composition's media (the latest room's, or `roomSid`'s).",
        description: `Answers 302 to Twilio's short-lived media URL (valid ${MEDIA_URL_TTL_SECONDS / 60} minutes), fetched with the Twilio account's credentials so the caller needs none. No composition available yet → 409 with its state.`,
        params: IdParams,
        querystring: CompositionMediaQuery,
        response: withErrors(
          {
            302: {
              description: "Location: Twilio's short-lived media URL.",
              headers: { location: { schema: { type: 'string', format: 'uri' } } },
              type: 'null',
            },
          },
          404,
          409,
          502,
        ),
      },
    },
    async (request, reply) => {
      const consultation = await findTenantConsultation(store.db, request.tenant.id, request.params.id);
      if (!consultation) throw new HttpError('NOT_FOUND');
      const compositions = await findConsultationCompositions(store.db, consultation.id);
      const { roomSid } = request.query;
      const composition = roomSid === undefined ? compositions.at(-1) : compositions.find((candidate) => candidate.room_sid === roomSid);
      if (!composition || composition.status !== 'available' || !composition.composition_sid) {
        throw new HttpError('CONFLICT', `The composition is ${composition?.status ?? 'not requested'}; its media is not available yet.`);
      }
      let url: string;
      try {
        url = await twilio.compositionMediaUrl(composition.composition_sid, MEDIA_URL_TTL_SECONDS);
      } catch (error) {
        throw twilioFailure(error);
      }
      return reply.code(302).header('location', url).header('cache-control', 'no-store').send();
    },
  );

  app.get(
    '/v1/billing-records',
    {
      config: { scope: 'billing:read' },
      schema: {
        summary: "The tenant's billing records, oldest change first — for syncing.",
        description:
          'One record per completed consultation. A correction (a late event changing the overlap) updates the record in place, moves its `updatedAt` and increments its `version`: a consumer that stores the last `updatedAt` it saw and asks `updatedSince=` it gets every new record and every correction. Follow `nextCursor` until it is null.',
        querystring: ListBillingQuery,
        response: withErrors({ 200: page(Type.Ref('BillingRecord')) }),
      },
    },
    async (request) => {
      const { limit = 100, cursor, since } = request.query;
      const updatedSince = request.query.updatedSince ?? since;
      const after = cursor ? decodeCursor(cursor) : undefined;
      const rows = await listTenantBillingRecords(store.db, {
        tenantId: request.tenant.id,
        limit,
        ...(updatedSince !== undefined
          ? { updatedSince: toUtcTimestamp(updatedSince, request.query.updatedSince ? 'updatedSince' : 'since') }
          : {}),
        ...(after ? { after: { updatedAt: after.createdAt, id: after.id } } : {}),
      });
      const { pageRows, nextCursor } = pageOf(rows, limit, (last) => ({ createdAt: last.updated_at ?? last.created_at, id: last.id }));
      return {
        data: pageRows.map((row) => ({
          id: row.id,
          consultationId: row.consultation_id,
          billableSeconds: row.billable_seconds,
          roundedSeconds: row.rounded_seconds,
          intervals: JSON.parse(row.intervals) as { start: string; end: string }[],
          version: row.version,
          suggestedCode: suggestedCodeOf(row.evidence),
          createdAt: row.created_at,
          updatedAt: row.updated_at ?? row.created_at,
        })),
        nextCursor,
      };
    },
  );

  app.get(
    '/v1/billing-records/:id/evidence',
    {
      config: { scope: 'billing:read' },
      schema: {
        summary: 'How a billing record was measured, and its place in the tenant’s billing chain.',
        description:
          'The current version’s evidence (or, with `version=`, an earlier version’s, as it was chained): the overlap segments (who, from, to), gaps and rejoins, audio-only versus audio-video (from the tracks published during the overlap), the rounding, and the code suggested from the tenant’s code set — a help, not coding advice. `chain` is the version’s entry in the tenant’s hash chain (`roomgate billing verify`).',
        params: IdParams,
        querystring: BillingEvidenceQuery,
        response: withErrors({ 200: Type.Ref('BillingEvidence') }, 404),
      },
    },
    async (request) => {
      const tenantId = request.tenant.id;
      const record = await findTenantBillingRecord(store.db, tenantId, request.params.id);
      if (!record) throw new HttpError('NOT_FOUND');
      const current = Number(record.version);
      const wanted = request.query.version ?? current;
      if (wanted > current) throw new HttpError('NOT_FOUND', `Billing record ${record.id} has no version ${wanted}.`);
      const [entry, head, sessions] = await Promise.all([
        wanted === current
          ? findLastBillingVersion(store.db, tenantId, record.id)
          : findBillingVersion(store.db, tenantId, record.id, wanted),
        findBillingChainHead(store.db, tenantId),
        listConsultationSessions(store.db, record.consultation_id),
      ]);
      if (!entry && wanted !== current) throw new HttpError('NOT_FOUND', `Billing record ${record.id} has no version ${wanted}.`);
      // The chained content is what was proven; the record equals it unless someone edited a row.
      const evidence = (entry ? entry.content.evidence : record.evidence ? JSON.parse(record.evidence) : null) as {
        sessions?: { participantSid: string }[];
      } | null;
      const identityOf = new Map(sessions.map((session) => [session.participant_sid, session.identity]));
      const sids = [...new Set((evidence?.sessions ?? []).map((session) => session.participantSid))];
      return {
        billingRecordId: record.id,
        consultationId: record.consultation_id,
        version: wanted,
        currentVersion: current,
        evidence: evidence as never,
        participants: sids.map((participantSid) => ({ participantSid, identity: identityOf.get(participantSid) ?? null })),
        chain: entry
          ? {
              sequence: entry.sequence,
              hash: entry.hash,
              previousHash: entry.previousHash,
              recordedAt: entry.recordedAt,
              headSequence: Number(head?.last_sequence ?? entry.sequence),
              entryIntact: entryIntact(entry, wanted === current ? record : undefined),
            }
          : null,
        updatedAt: record.updated_at ?? record.created_at,
      };
    },
  );
}

/** This entry alone: its hash recomputes and the record equals it (the whole chain: `roomgate billing verify`). */
function entryIntact(
  stored: StoredChainEntry,
  /** The record, when the entry is its current version (it must then equal the entry). */
  record?: { billable_seconds: number; rounded_seconds: number; intervals: string; evidence: string | null; version: number },
): boolean {
  const { hash, ...entry } = stored;
  if (chainHash(entry) !== hash) return false;
  return (
    record === undefined ||
    (stored.version === Number(record.version) && canonicalJson(stored.content) === canonicalJson(billingVersionContent(record)))
  );
}

/** The suggestion of a stored evidence document, in brief (the list's `suggestedCode`). */
function suggestedCodeOf(evidence: string | null) {
  if (!evidence) return null;
  const suggestion = (
    JSON.parse(evidence) as { suggestion?: { codeSet: string; code: string | null; modifier: string | null; units: number } }
  ).suggestion;
  return suggestion ? { codeSet: suggestion.codeSet, code: suggestion.code, modifier: suggestion.modifier, units: suggestion.units } : null;
}
