import t from 'tap';
import { CashierLinks, cashierToken, cashierTokenValid } from '../../src/domain/cashier-links.js';

const SECRET = 'a'.repeat(64);
const ID = '2026010112000000000001';

t.test('cashierToken: 128 bits of HMAC, per secret and per order', async (t) => {
  const token = cashierToken(SECRET, ID);
  t.match(token, /^[A-Za-z0-9_-]{22}$/);
  t.equal(cashierToken(SECRET, ID), token, 'the same for the same order: nothing to store');
  t.not(cashierToken(SECRET, '2026010112000000000002'), token, 'the next order id has another');
  t.not(cashierToken('b'.repeat(64), ID), token, 'another secret, another token');
});

t.test('cashierTokenValid', async (t) => {
  const token = cashierToken(SECRET, ID);
  t.ok(cashierTokenValid(SECRET, ID, token));
  for (const bad of [undefined, null, 42, [token], '', token.slice(1), `${token}=`, token.toUpperCase(), cashierToken(SECRET, '2026010112000000000002')]) {
    t.notOk(cashierTokenValid(SECRET, ID, bad), `refuses ${JSON.stringify(bad)}`);
  }
});

t.test('CashierLinks: every payer link of an order carries its token', async (t) => {
  const links = new CashierLinks(SECRET, 'https://pay.example.com');
  const token = cashierToken(SECRET, ID);
  t.equal(links.cashierUrl(ID), `https://pay.example.com/cashier/${ID}?t=${token}`);
  t.equal(links.qrImageUrl(ID), `https://pay.example.com/qr/${ID}.png?t=${token}`);
  t.equal(links.statusPath(ID), `/cashier/${ID}/status?t=${token}`);
  t.equal(links.formPath(ID), `/cashier/${ID}/form?t=${token}`);
  t.ok(links.allows(ID, { t: token }));
  t.notOk(links.allows(ID, {}));
  t.notOk(links.allows(ID, { t: [token, token] }), 'a repeated parameter is not a token');
  t.notOk(links.allows(ID, undefined));
});
