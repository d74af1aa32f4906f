import type { Writer } from '../src/db/writer.js';
import { startGateway, type TestGateway } from './helper.js';
import { createOperator, enableOperatorTotp } from '../src/console/operators.js';
import { totpCode } from '../src/console/totp.js';

// A browser's part in a console exchange, over plain HTTP: a cookie jar, forms, the CSRF token
// taken from the page as a browser's form would carry it. Redirects are not followed.

export const TEST_MASTER_KEY = 'TestMasterKey-0123456789abcdefghijKLMNOP+/=';

export interface Page {
  status: number;
  headers: Headers;
  text: string;
  location: string | null;
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  /** the CSRF token of the last page fetched */
  csrf = '';

  constructor(readonly base: string, readonly headers: Record<string, string> = {}) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private async take(res: Response): Promise<Page> {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(text);
    if (m) this.csrf = m[1]!;
    return { status: res.status, headers: res.headers, text, location: res.headers.get('location') };
  }

  async get(path: string): Promise<Page> {
    return this.take(await fetch(this.base + path, { redirect: 'manual', headers: { ...this.headers, cookie: this.cookieHeader() } }));
  }

  /** POSTs a form; with the page's CSRF token unless `csrf` is false (or a string to send instead). */
  async post(path: string, form: Record<string, string> = {}, opts: { csrf?: boolean | string } = {}): Promise<Page> {
    const body = new URLSearchParams(form);
    if (opts.csrf !== false) body.set('_csrf', typeof opts.csrf === 'string' ? opts.csrf : this.csrf);
    return this.take(
      await fetch(this.base + path, {
        method: 'POST',
        redirect: 'manual',
        headers: { ...this.headers, cookie: this.cookieHeader(), 'content-type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
      }),
    );
  }

  async login(email: string, password: string, totp = ''): Promise<Page> {
    await this.get('/console/login');
    return this.post('/console/login', { email, password, totp });
  }
}

export const PASSWORD = 'correct horse battery staple';
let passwordHash: Promise<string> | undefined;

/** Operators of each role, made as `dtpay operator create` makes them; the TOTP secret of the one that has it. */
export async function makeOperators(writer: Writer, at = Date.now()) {
  // One made as the CLI makes it; the others share its hash (one scrypt instead of four).
  await createOperator(writer, { email: 'viewer@shop.test', role: 'viewer', password: PASSWORD, at });
  passwordHash ??= (await import('../src/console/passwords.js')).hashPassword(PASSWORD);
  for (const [email, role] of [['support@shop.test', 'support'], ['admin@shop.test', 'admin'], ['totp@shop.test', 'support']] as const) {
    await writer.run('insertOperator', { email, role, passwordHash: await passwordHash, at });
  }
  const totp = (await enableOperatorTotp(writer, TEST_MASTER_KEY, { email: 'totp@shop.test', at }))!;
  return { totpSecret: totp.secret, code: (ms: number) => totpCode(totp.secret, 'totp@shop.test', ms) };
}

/** A gateway with the console's operators (makeOperators) and a client maker for it. */
export async function setupConsole(t: { teardown(fn: () => unknown): void }, env: Record<string, string> = {}, opts: { now?: () => number } = {}) {
  const gw = await startGateway(t, { MASTER_KEY: TEST_MASTER_KEY, ...env }, opts);
  const ops = await makeOperators(gw.gateway.writer);
  return { gw, ops, client: (headers: Record<string, string> = {}) => new ConsoleClient(gw.url, headers) };
}

/** The audit log as stored, oldest first. */
export const auditRows = (gw: TestGateway) =>
  gw.sql.all<{ operator: string; action: string; target: string | null; outcome: string; address: string; amount_fen: number | null }>('SELECT * FROM console_audit ORDER BY id');
