/**
 * A composition per room (rejoining: a consultation spans rooms, and each room that recorded is
 * composed on its own). `compositions` gains `room_sid`; its one-row-per-consultation UNIQUE
 * becomes UNIQUE (consultation_id, room_sid). No engine drops a column's UNIQUE the same way
 * (SQLite not at all), so the table is rebuilt through a plain copy — fresh constraint names on
 * every engine. An existing row's room is the room its composition's callbacks named, else the
 * consultation's current room.
 * Down keeps one row per consultation: its current room's.
 */
import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { DialectCapabilities } from '../dialect-capabilities.js';

const ID = 'varchar(64)';
const SID = 'varchar(64)';
const TIMESTAMP = 'char(24)';
const COPY = 'compositions_0016_copy';
const COLUMNS = ['id', 'consultation_id', 'room_sid', 'composition_sid', 'status', 'attempts', 'media_uri', 'created_at', 'updated_at'];

export function compositionsPerRoom(capabilities: DialectCapabilities): Migration {
  const table = <N extends string>(db: Kysely<any>, name: N) => {
    const builder = db.schema.createTable(name);
    return (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder) as CreateTableBuilder<N, never>;
  };
  /** The rows as they are, in a table with no constraints (so no name can collide). */
  const copyOut = async (db: Kysely<any>, room: (eb: any) => any) => {
    await table(db, COPY)
      .addColumn('id', ID)
      .addColumn('consultation_id', ID)
      .addColumn('room_sid', SID)
      .addColumn('composition_sid', SID)
      .addColumn('status', 'varchar(32)')
      .addColumn('attempts', 'integer')
      .addColumn('media_uri', 'varchar(2048)')
      .addColumn('created_at', TIMESTAMP)
      .addColumn('updated_at', TIMESTAMP)
      .execute();
    await db
      .insertInto(COPY)
      .columns(COLUMNS)
      .expression((eb: any) =>
        eb
          .selectFrom('compositions')
          .select([
            'id',
            'consultation_id',
            room(eb).as('room_sid'),
            'composition_sid',
            'status',
            'attempts',
            'media_uri',
            'created_at',
            'updated_at',
          ]),
      )
      .execute();
    await db.schema.dropTable('compositions').execute();
  };
  const copyBack = async (db: Kysely<any>, columns: string[], where: (eb: any) => any) => {
    await db
      .insertInto('compositions')
      .columns(columns)
      .expression((eb: any) => eb.selectFrom(COPY).select(columns).where(where(eb)))
      .execute();
    await db.schema.dropTable(COPY).execute();
  };
  const base = (db: Kysely<any>) =>
    table(db, 'compositions')
      .addColumn('id', ID, (c) => c.primaryKey())
      .addColumn('consultation_id', ID, (c) => c.notNull().references('consultations.id').onDelete('cascade'));
  const rest = <N extends string>(builder: CreateTableBuilder<N, any>) =>
    builder
      .addColumn('composition_sid', SID, (c) => c.unique())
      .addColumn('status', 'varchar(32)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('media_uri', 'varchar(2048)')
      .addColumn('created_at', TIMESTAMP, (c) => c.notNull())
      .addColumn('updated_at', TIMESTAMP, (c) => c.notNull());

  return {
    async up(db: Kysely<any>) {
      await copyOut(db, (eb) =>
        eb.fn.coalesce(
          eb
            .selectFrom('callbacks')
            .select(eb.fn.max('callbacks.room_sid').as('r'))
            .whereRef('callbacks.composition_sid', '=', 'compositions.composition_sid'),
          eb.selectFrom('consultations').select('consultations.room_sid').whereRef('consultations.id', '=', 'compositions.consultation_id'),
        ),
      );
      await rest(base(db).addColumn('room_sid', SID, (c) => c.notNull()))
        .addUniqueConstraint('compositions_room_uq', ['consultation_id', 'room_sid'])
        .execute();
      await copyBack(db, COLUMNS, (eb) => eb('room_sid', 'is not', null));
    },
    async down(db: Kysely<any>) {
      await copyOut(db, () => sql.ref('room_sid'));
      const columns = COLUMNS.filter((column) => column !== 'room_sid');
      const builder = db.schema.createTable('compositions');
      await rest(
        (capabilities.createTableSuffix ? builder.modifyEnd(capabilities.createTableSuffix) : builder)
          .addColumn('id', ID, (c) => c.primaryKey())
          .addColumn('consultation_id', ID, (c) => c.notNull().unique().references('consultations.id').onDelete('cascade')),
      ).execute();
      await copyBack(db, columns, (eb) =>
        eb.exists(
          eb
            .selectFrom('consultations')
            .select('consultations.id')
            .whereRef('consultations.id', '=', `${COPY}.consultation_id`)
            .whereRef('consultations.room_sid', '=', `${COPY}.room_sid`),
        ),
      );
    },
  };
}
