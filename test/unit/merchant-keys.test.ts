import t from 'tap';
import { newMercNo, newMerchantKey } from '../../src/services/merchants.js';

t.test('merchant keys: 43 base64url characters, never one a command line takes for an option', async (t) => {
  const keys = Array.from({ length: 3000 }, newMerchantKey);
  // One key in 64 would start with "-" if nothing prevented it: 3000 keys make that near certain.
  t.ok(keys.every((k) => /^[A-Za-z0-9_][A-Za-z0-9_-]{42}$/.test(k)), 'shape');
  t.equal(new Set(keys).size, keys.length, 'all different');
  t.ok(keys.some((k) => k.includes('-')), 'the alphabet is still base64url');
});

t.test('merchant numbers: M and 15 digits', async (t) => {
  for (let i = 0; i < 100; i++) t.match(newMercNo(), /^M[1-9][0-9]{14}$/);
});
