/**
 * Appointment windows (issue 19): consultations.duration_minutes (NULL: no window, tokens any
 * time) and the tenant's join_early_minutes / join_grace_minutes (NULL: the defaults in
 * core/consultation/appointment-window.ts).
 */
import type { Kysely, Migration } from 'kysely';

export function appointmentWindows(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('consultations').addColumn('duration_minutes', 'integer').execute();
      await db.schema.alterTable('tenants').addColumn('join_early_minutes', 'integer').execute();
      await db.schema.alterTable('tenants').addColumn('join_grace_minutes', 'integer').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.alterTable('tenants').dropColumn('join_grace_minutes').execute();
      await db.schema.alterTable('tenants').dropColumn('join_early_minutes').execute();
      await db.schema.alterTable('consultations').dropColumn('duration_minutes').execute();
    },
  };
}
