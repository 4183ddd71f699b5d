/**
 * A PostgreSQL cluster of the test's own (pg_createcluster, trust auth, a port in the faults
 * range 55400–55449), so a test can stop, start and restart a real server without touching the
 * shared one. Dropped (stopped and deleted) by drop().
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export interface OwnPostgres {
  readonly port: number;
  /** A database created in the cluster for the test. */
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctlcluster … restart -m fast`: every session is ended, the server is back at once. */
  restart(): Promise<void>;
  drop(): Promise<void>;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export async function createOwnPostgres(firstPort: number): Promise<OwnPostgres> {
  const version = readdirSync('/usr/lib/postgresql').sort().at(-1)!;
  let port = firstPort;
  while (!(await portIsFree(port))) port += 1;
  if (port > 55449) throw new Error('no free port in 55400–55449 for a private PostgreSQL cluster');
  const name = `rgfaults_${randomBytes(4).toString('hex')}`;
  const ctl = (...args: string[]) => run('pg_ctlcluster', [version, name, ...args]);
  // Small: it only serves a test.
  const settings = ['shared_buffers=16MB', 'max_connections=60', 'fsync=off'].flatMap((setting) => ['-o', setting]);
  await run('pg_createcluster', [version, name, '-p', String(port), ...settings, '--', '--auth-local=trust', '--auth-host=trust']);
  await ctl('start');
  const admin = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  await admin.query('create database rg');
  await admin.end();
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/rg`,
    stop: async () => void (await ctl('stop', '-m', 'fast')),
    start: async () => void (await ctl('start')),
    restart: async () => void (await ctl('restart', '-m', 'fast')),
    drop: async () => void (await run('pg_dropcluster', [version, name, '--stop'])),
  };
}
