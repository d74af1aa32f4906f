import t from 'tap';
import { hashPassword, passwordProblem, verifyPassword } from '../../src/console/passwords.js';
import { acceptTotp, newTotpSecret, openTotp, sealTotp, totpCode, totpUri } from '../../src/console/totp.js';
import { roleAllows } from '../../src/console/operators.js';
import { testStorage } from '../fixtures/backends.js';

t.test('passwords: at least 12 characters, scrypt, verified in constant time', async (t) => {
  t.equal(passwordProblem('elevenchars'), 'must be at least 12 characters');
  t.equal(passwordProblem('密码密码密码密码密码密码'), undefined, 'characters, not bytes, are counted');
  t.equal(passwordProblem('twelve chars'), undefined);
  const h = await hashPassword('correct horse battery');
  t.match(h, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  t.notOk(h.includes('correct horse'), 'the password is not in the hash');
  t.ok(await verifyPassword('correct horse battery', h));
  t.notOk(await verifyPassword('correct horse batterY', h));
  t.notOk(await verifyPassword('correct horse battery', 'plain'), 'an unknown hash form never verifies');
  t.not(await hashPassword('correct horse battery'), h, 'a fresh salt each time');
});

t.test('TOTP: the RFC 6238 SHA1 vectors, ±1 step, each step once', async (t) => {
  // RFC 6238 appendix B: secret "12345678901234567890" (base32 below), the last 6 of the 8 digits.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  t.equal(totpCode(secret, 'a@b.c', 59_000), '287082');
  t.equal(totpCode(secret, 'a@b.c', 1111111109_000), '081804');
  t.equal(totpCode(secret, 'a@b.c', 1234567890_000), '005924');
  t.equal(totpCode(secret, 'a@b.c', 2000000000_000), '279037');
  const at = 1111111109_000;
  const step = Math.floor(at / 30_000);
  t.equal(acceptTotp(secret, 'a@b.c', '081804', at, null), step);
  t.equal(acceptTotp(secret, 'a@b.c', '081804', at + 30_000, null), step, 'one step late is accepted');
  t.equal(acceptTotp(secret, 'a@b.c', '081804', at + 90_000, null), undefined, 'three steps late is not');
  t.equal(acceptTotp(secret, 'a@b.c', '081804', at, step), undefined, 'a step already used is refused');
  t.equal(acceptTotp(secret, 'a@b.c', '081805', at, null), undefined);
  t.equal(acceptTotp(secret, 'a@b.c', '8180', at, null), undefined);
  const fresh = newTotpSecret();
  t.match(fresh, /^[A-Z2-7]{32}$/, '20 random bytes, base32');
  t.match(totpUri(fresh, 'ops@shop.cn'), new RegExp(`^otpauth://totp/dtpay:ops%40shop\\.cn\\?issuer=dtpay&secret=${fresh}&algorithm=SHA1&digits=6&period=30$`));
  const key = 'k'.repeat(20) + 'Aa1-Bb2_Cc3+Dd4/Ee5=';
  const sealed = sealTotp(key, 'ops@shop.cn', fresh);
  t.notOk(sealed.toString('latin1').includes(fresh), 'sealed, not stored plainly');
  t.equal(openTotp(key, 'ops@shop.cn', sealed), fresh);
  t.throws(() => openTotp(key, 'other@shop.cn', sealed), 'bound to its operator');
});

t.test('roles: viewer < support < admin', async (t) => {
  t.ok(roleAllows('admin', 'support'));
  t.ok(roleAllows('support', 'support'));
  t.notOk(roleAllows('viewer', 'support'));
  t.notOk(roleAllows('support', 'admin'));
});

t.test('login limits: the 10th failure in 15 minutes locks for 15 minutes; nothing counts while locked; a clear resets', async (t) => {
  const w = (await testStorage(t)).storage.writer;
  const fail = (at: number) => w.run('recordLoginFailure', { key: 'email:a@b.c', at, limit: 10, windowMs: 900_000, lockMs: 900_000 });
  const t0 = 1_000_000;
  for (let i = 0; i < 9; i++) t.equal((await fail(t0 + i)).lockedUntil, null);
  t.equal((await fail(t0 + 10)).lockedUntil, t0 + 10 + 900_000, 'the tenth locks');
  t.equal((await fail(t0 + 20)).lockedUntil, t0 + 10 + 900_000, 'a failure while locked does not move the lock');
  t.same(await fail(t0 + 10 + 900_000), { failures: 1, lockedUntil: null }, 'after the lock a new window');
  for (let i = 0; i < 8; i++) await fail(t0 + 900_100 + i);
  await w.run('clearLoginFailures', { key: 'email:a@b.c' });
  t.same(await fail(t0 + 900_200), { failures: 1, lockedUntil: null }, 'a success (the clear) resets the count');
  // Failures spread over more than the window never lock.
  for (let i = 0; i < 20; i++) t.equal((await w.run('recordLoginFailure', { key: 'addr:x', at: i * 100_000, limit: 10, windowMs: 900_000, lockMs: 900_000 })).lockedUntil, null);
});

t.test('the session store: a row past its expiry is never handed back, and expired rows are forgotten', async (t) => {
  const { TableSessionStore } = await import('../../src/console/session-store.js');
  const { storage, sql } = await testStorage(t);
  const store = new TableSessionStore(storage.console, storage.writer, 60_000);
  const set = (sid: string, expires: Date) => new Promise<void>((resolve, reject) => store.set(sid, { cookie: { expires } }, (err) => (err ? reject(err) : resolve())));
  const get = (sid: string) => new Promise<unknown>((resolve, reject) => store.get(sid, (err, s) => (err ? reject(err) : resolve(s))));
  await set('live', new Date(Date.now() + 60_000));
  await set('old', new Date(Date.now() - 1));
  t.match(await get('live'), { cookie: {} });
  t.equal(await get('old'), null, 'expired: not handed back');
  t.equal(await get('nope'), null);
  t.equal(await store.prune(), 1, 'the expired row is removed');
  t.equal(await sql.value('SELECT count(*) FROM console_sessions'), 1);
  await new Promise<void>((resolve) => store.destroy('live', () => resolve()));
  t.equal(await get('live'), null, 'destroyed');
});
