/**
 * The Twilio account a consultation's room was created under: a callback applies to the room
 * only when it is signed for, and names, that account. NULL for consultations created before
 * this migration (the service then binds them to its first configured account, the one whose
 * API key created every room until now).
 */
import type { Kysely, Migration } from 'kysely';

export function consultationAccount(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('consultations').addColumn('account_sid', 'varchar(64)').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('consultations').dropColumn('account_sid').execute();
    },
  };
}
