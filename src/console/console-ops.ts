import type { Db } from '../db/open.js';

// The console's write operations, run in the writer's transaction like every other write
// (src/db/write-ops.ts). Sealed values travel to the writer thread as base64.

export type OperatorRole = 'viewer' | 'support' | 'admin';

export interface AuditEntry {
  at: number;
  operator: string;
  action: string;
  target?: string;
  amountFen?: bigint | number;
  address: string;
  outcome: string;
  detail?: string;
}

export interface LoginLimit {
  /** failures counted in the window */
  failures: number;
  /** set once the limit is reached: until then every login for the key is refused */
  lockedUntil: number | null;
}

export function prepareConsoleOps(db: Db) {
  const insertOperator = db.prepare(`INSERT INTO console_operators (email, role, password_hash, status, created_at, updated_at)
    VALUES (@email, @role, @passwordHash, 'active', @at, @at) ON CONFLICT (email) DO NOTHING`);
  const setPassword = db.prepare(`UPDATE console_operators SET password_hash = @passwordHash, session_epoch = session_epoch + 1,
    updated_at = @at WHERE email = @email`);
  const setTotp = db.prepare(`UPDATE console_operators SET totp_sealed = @sealed, totp_last_step = NULL, session_epoch = session_epoch + 1,
    updated_at = @at WHERE email = @email`);
  const setStatus = db.prepare(`UPDATE console_operators SET status = @status, session_epoch = session_epoch + 1, updated_at = @at
    WHERE email = @email AND status <> @status`);
  // A code's step is accepted only if it is newer than the last one: two logins racing with one code cannot both win.
  const useStep = db.prepare(`UPDATE console_operators SET totp_last_step = @step, last_login_at = @at
    WHERE id = @id AND (totp_last_step IS NULL OR totp_last_step < @step)`);
  const loggedIn = db.prepare('UPDATE console_operators SET last_login_at = @at WHERE id = @id');

  const putSession = db.prepare(`INSERT INTO console_sessions (sid, data, expires_at) VALUES (@sid, @data, @expiresAt)
    ON CONFLICT (sid) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at`);
  const dropSession = db.prepare('DELETE FROM console_sessions WHERE sid = ?');
  const dropExpired = db.prepare('DELETE FROM console_sessions WHERE sid IN (SELECT sid FROM console_sessions WHERE expires_at <= ? LIMIT 500)');

  const limitRow = db.prepare('SELECT failures, window_start, locked_until FROM console_login_limits WHERE key = ?');
  const putLimit = db.prepare(`INSERT INTO console_login_limits (key, failures, window_start, locked_until) VALUES (@key, @failures, @windowStart, @lockedUntil)
    ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start, locked_until = excluded.locked_until`);
  const clearLimit = db.prepare('DELETE FROM console_login_limits WHERE key = ?');

  const insertAudit = db.prepare(`INSERT INTO console_audit (at, operator, action, target, amount_fen, address, outcome, detail)
    VALUES (@at, @operator, @action, @target, @amountFen, @address, @outcome, @detail)`);

  return {
    /** false when the email is taken. */
    insertOperator(a: { email: string; role: OperatorRole; passwordHash: string; at: number }): boolean {
      return insertOperator.run(a).changes === 1;
    },
    /** A new password ends the operator's sessions. */
    setOperatorPassword(a: { email: string; passwordHash: string; at: number }): boolean {
      return setPassword.run(a).changes === 1;
    },
    /** A new TOTP secret (sealed, base64) ends the operator's sessions. */
    setOperatorTotp(a: { email: string; sealed: string; at: number }): boolean {
      return setTotp.run({ ...a, sealed: Buffer.from(a.sealed, 'base64') }).changes === 1;
    },
    /** false when there was no such operator or it already had that status. */
    setOperatorStatus(a: { email: string; status: 'active' | 'disabled'; at: number }): boolean {
      return setStatus.run(a).changes === 1;
    },
    /** Records a login; with a TOTP step, only if that step is newer than the last one used (false: a replayed code). */
    recordOperatorLogin(a: { id: number; step?: number; at: number }): boolean {
      if (a.step === undefined) return loggedIn.run({ id: a.id, at: a.at }).changes === 1;
      return useStep.run({ id: a.id, step: a.step, at: a.at }).changes === 1;
    },

    putConsoleSession(a: { sid: string; data: string; expiresAt: number }): true {
      putSession.run(a);
      return true;
    },
    dropConsoleSession(a: { sid: string }): boolean {
      return dropSession.run(a.sid).changes === 1;
    },
    /** Forgets up to 500 expired sessions; returns how many. */
    dropExpiredConsoleSessions(a: { now: number }): number {
      return dropExpired.run(a.now).changes;
    },

    /**
     * Counts a failed login against `key`: `limit` failures within `windowMs` lock it for
     * `lockMs`; the next failure after the lock starts a new window.
     */
    recordLoginFailure(a: { key: string; at: number; limit: number; windowMs: number; lockMs: number }): LoginLimit {
      const row = limitRow.get(a.key) as { failures: number; window_start: number; locked_until: number | null } | undefined;
      // While locked nothing more is counted: the lock ends when it was set to.
      if (row?.locked_until != null && row.locked_until > a.at) return { failures: row.failures, lockedUntil: row.locked_until };
      const fresh = !row || row.locked_until != null || a.at - row.window_start >= a.windowMs;
      const failures = fresh ? 1 : row.failures + 1;
      const lockedUntil = failures >= a.limit ? a.at + a.lockMs : null;
      putLimit.run({ key: a.key, failures, windowStart: fresh ? a.at : row.window_start, lockedUntil });
      return { failures, lockedUntil };
    },
    clearLoginFailures(a: { key: string }): boolean {
      return clearLimit.run(a.key).changes === 1;
    },

    audit(e: AuditEntry): true {
      insertAudit.run({
        at: e.at,
        operator: e.operator.slice(0, 320),
        action: e.action,
        target: e.target ?? null,
        amountFen: e.amountFen ?? null,
        address: e.address,
        outcome: e.outcome,
        detail: e.detail?.slice(0, 1000) ?? null,
      });
      return true;
    },
  };
}
