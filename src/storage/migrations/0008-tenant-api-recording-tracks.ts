/**
 * Whose track each recording is, and of what kind: recordings.participant_sid (Twilio's PA…,
 * not personal data — the identity is read through participant_sessions, which erasure
 * pseudonymises) and recordings.kind (`audio`, `video`, `data`: Twilio's `Type`). NULL for
 * recordings stored before this migration, until their next callback.
 */
import type { Kysely, Migration } from 'kysely';

export function recordingTracks(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('recordings').addColumn('participant_sid', 'varchar(64)').execute();
      await db.schema.alterTable('recordings').addColumn('kind', 'varchar(16)').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('recordings').dropColumn('kind').execute();
      await db.schema.alterTable('recordings').dropColumn('participant_sid').execute();
    },
  };
}
