import type { Session } from 'fastify';
import type { Writer } from '../db/writer.js';
import type { StoragePort } from '../db/port.js';

// @fastify/session's store over the console_sessions table, read and written through the storage
// port (so a session outlives a restart and is shared by every instance on one database). A row
// past its expiry is never handed back; expired rows are forgotten a few
// hundred at a time on each login and every 200 session writes.

type Callback = (err?: unknown) => void;

export class TableSessionStore {
  private writes = 0;

  constructor(
    private readonly reads: Pick<StoragePort['console'], 'session'>,
    private readonly writer: Writer,
    private readonly idleMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(sid: string, cb: (err: unknown, session?: Session | null) => void): void {
    this.reads.session(sid).then(
      (row) => {
        let session: Session | null = null;
        try {
          if (row && row.expires_at > Date.now()) session = JSON.parse(row.data) as Session;
        } catch (err) {
          return cb(err);
        }
        cb(null, session);
      },
      (err) => cb(err),
    );
  }

  set(sid: string, session: { cookie?: { expires?: Date | string | null } }, cb: Callback): void {
    const cookieExpiry = session.cookie?.expires ? new Date(session.cookie.expires).getTime() : NaN;
    const expiresAt = Number.isFinite(cookieExpiry) ? cookieExpiry : Date.now() + this.idleMs;
    this.writer.run('putConsoleSession', { sid, data: JSON.stringify(session), expiresAt }).then(() => cb(), cb);
    // Visits to the login page make sessions too: every so many writes, a batch of expired ones goes.
    if (++this.writes % 200 === 0) void this.prune().catch(() => {});
  }

  destroy(sid: string, cb: Callback): void {
    this.writer.run('dropConsoleSession', { sid }).then(() => cb(), cb);
  }

  /** Forgets expired sessions (a bounded batch). */
  prune(): Promise<number> {
    return this.writer.run('dropExpiredConsoleSessions', { now: Math.min(Date.now(), this.now()) });
  }
}
