/**
 * The usual alternative, for comparison: Express with the official twilio.webhook() middleware
 * and a plain insert per callback (no dedupe, no state). Same durability as Roomgate: SQLite in
 * WAL with synchronous=FULL, or PostgreSQL's default commit.
 *
 *   BASELINE_DB=sqlite:/tmp/x.db|postgres://… TWILIO_AUTH_TOKEN=… PORT=… tsx bench/servers/express-baseline.ts
 */
import Database from 'better-sqlite3';
import express from 'express';
import pg from 'pg';
import twilio from 'twilio';

const token = process.env.TWILIO_AUTH_TOKEN!;
const dbUrl = process.env.BASELINE_DB ?? 'sqlite:/tmp/roomgate-baseline.db';
const port = Number(process.env.PORT ?? 0);

type Insert = (sid: string, event: string, body: string) => Promise<void>;
let insert: Insert;
if (dbUrl.startsWith('sqlite:')) {
  const db = new Database(dbUrl.slice('sqlite:'.length));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS callbacks (id INTEGER PRIMARY KEY, room_sid TEXT, event TEXT, body TEXT)');
  const statement = db.prepare('INSERT INTO callbacks (room_sid, event, body) VALUES (?, ?, ?)');
  insert = async (sid, event, body) => void statement.run(sid, event, body);
} else {
  const pool = new pg.Pool({ connectionString: dbUrl, max: 10 });
  await pool.query('CREATE TABLE IF NOT EXISTS baseline_callbacks (id SERIAL PRIMARY KEY, room_sid TEXT, event TEXT, body TEXT)');
  insert = async (sid, event, body) =>
    void (await pool.query('INSERT INTO baseline_callbacks (room_sid, event, body) VALUES ($1, $2, $3)', [sid, event, body]));
}

const app = express();
app.use(express.urlencoded({ extended: false }));
app.post('/webhooks/twilio/video', twilio.webhook(token, { validate: true }), async (req, res) => {
  try {
    await insert(req.body.RoomSid, req.body.StatusCallbackEvent, JSON.stringify(req.body));
    res.status(204).end();
  } catch {
    res.status(503).end();
  }
});
const server = app.listen(port, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ listening: typeof address === 'object' && address ? address.port : port }));
});
