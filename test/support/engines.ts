/**
 * The database engines every storage test runs on, each able to create a fresh, uniquely named
 * database per call — suites run in parallel and never share or drop the `test` database.
 *
 * All three run unless ROOMGATE_TEST_ENGINES (comma list: sqlite,postgres,mysql) restricts
 * them. An engine that is listed but unreachable fails the test loudly; it is never skipped.
 * Admin URLs: ROOMGATE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test),
 * ROOMGATE_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/test).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';

export type EngineName = 'sqlite' | 'postgres' | 'mysql';

export interface TestDatabase {
  /** A ROOMGATE_DATABASE_URL for openStore(). */
  readonly url: string;
  drop(): Promise<void>;
}

export interface EngineUnderTest {
  readonly name: EngineName;
  /** host and port of the server, for a TCP proxy in front of it (undefined for SQLite). */
  readonly server?: { readonly host: string; readonly port: number };
  createTestDatabase(): Promise<TestDatabase>;
  /** The URL of the test database reached through another host:port (a proxy). */
  viaAddress?(url: string, address: { host: string; port: number }): string;
}

const ALL: readonly EngineName[] = ['sqlite', 'postgres', 'mysql'];

const POSTGRES_ADMIN_URL = process.env.ROOMGATE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MYSQL_ADMIN_URL = process.env.ROOMGATE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

const uniqueName = () => `rg_${randomBytes(6).toString('hex')}`;

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function withAddress(url: string, address: { host: string; port: number }): string {
  const parsed = new URL(url);
  parsed.hostname = address.host;
  parsed.port = String(address.port);
  return parsed.toString();
}

function unreachable(name: string, adminUrl: string, error: unknown): Error {
  const where = new URL(adminUrl).host;
  return new Error(
    `${name} test server at ${where} is unreachable (${error instanceof Error ? error.message : String(error)}). ` +
      `Start it, or restrict the engines with ROOMGATE_TEST_ENGINES=sqlite.`,
    { cause: error },
  );
}

const sqlite: EngineUnderTest = {
  name: 'sqlite',
  async createTestDatabase() {
    const dir = await mkdtemp(path.join(tmpdir(), 'roomgate-test-'));
    return {
      url: `sqlite:${path.join(dir, 'roomgate.db')}`,
      drop: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

async function postgresAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw unreachable('PostgreSQL', POSTGRES_ADMIN_URL, error);
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const postgresServer = new URL(POSTGRES_ADMIN_URL);
const postgres: EngineUnderTest = {
  name: 'postgres',
  server: { host: postgresServer.hostname, port: Number(postgresServer.port || 5432) },
  async createTestDatabase() {
    const name = uniqueName();
    await postgresAdmin((client) => client.query(`create database ${name} encoding 'UTF8' template template0`));
    return {
      url: withDatabase(POSTGRES_ADMIN_URL, name),
      // WITH (FORCE): a store a failed test forgot to close must not keep the database alive.
      drop: () => postgresAdmin(async (client) => void (await client.query(`drop database if exists ${name} with (force)`))),
    };
  },
  viaAddress: withAddress,
};

async function mysqlAdmin<T>(work: (connection: mysql.Connection) => Promise<T>): Promise<T> {
  let connection: mysql.Connection;
  try {
    connection = await mysql.createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 5000 });
  } catch (error) {
    throw unreachable('MySQL/MariaDB', MYSQL_ADMIN_URL, error);
  }
  try {
    return await work(connection);
  } finally {
    await connection.end().catch(() => undefined);
  }
}

const mysqlServer = new URL(MYSQL_ADMIN_URL);
const mysqlEngine: EngineUnderTest = {
  name: 'mysql',
  server: { host: mysqlServer.hostname, port: Number(mysqlServer.port || 3306) },
  async createTestDatabase() {
    const name = uniqueName();
    await mysqlAdmin((connection) => connection.query(`create database ${name} character set utf8mb4 collate utf8mb4_bin`));
    return {
      url: withDatabase(MYSQL_ADMIN_URL, name),
      drop: () => mysqlAdmin(async (connection) => void (await connection.query(`drop database if exists ${name}`))),
    };
  },
  viaAddress: withAddress,
};

const ENGINES: Record<EngineName, EngineUnderTest> = { sqlite, postgres, mysql: mysqlEngine };

/** The engines to test: all three, or those named in ROOMGATE_TEST_ENGINES. */
export function enginesUnderTest(): EngineUnderTest[] {
  const wanted = process.env.ROOMGATE_TEST_ENGINES?.trim();
  if (!wanted) return ALL.map((name) => ENGINES[name]);
  return wanted.split(',').map((raw) => {
    const name = raw.trim().toLowerCase() as EngineName;
    if (!ALL.includes(name)) throw new Error(`ROOMGATE_TEST_ENGINES: unknown engine '${raw}' (expected ${ALL.join(', ')})`);
    return ENGINES[name];
  });
}
