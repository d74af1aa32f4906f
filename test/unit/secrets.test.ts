import t from 'tap';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { UnsealError, masterKeyId, packSealed, seal, unpackSealed, unseal } from '../../src/secrets/sealing.js';
import { MerchantKeyError, MerchantKeys, openMerchantKey, sealMerchantKey } from '../../src/secrets/merchant-keys.js';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { prepareReads } from '../../src/db/reads.js';
import { InlineWriter } from '../../src/db/writer.js';
import { createMerchant } from '../../src/services/merchants.js';
import { MasterKeyFileError, findMasterKey, generateMasterKeyFile } from '../../src/secrets/master-key.js';
import { masterKeyWeakness } from '../../src/secrets/key-strength.js';
import { tempDir } from '../helper.js';

const KEY = 'Xq7mB2vR9kLz4Wc0Ns8Ht5Yj1Gd6Pf3Ue+aKo/TiE2=';
const OTHER = 'Lp4sN8xT1vQz6Wb3Rc9Hk0Yf5Gj2Md7Ua+eKi/SoE3=';
const M1 = 'M100000000000001';
const M2 = 'M100000000000002';
const MERCHANT_KEY = 'TfQd3x8w0yZ1H4kq6Nb2Vc9Lm5Rs7Pj-Ga_Uo3Ei8Wn';

t.test('a sealed value opens only with its MASTER_KEY, purpose and row', async (t) => {
  const plain = Buffer.from('payee: 6222 0000 0000 0000, 张三');
  const sealed = seal(KEY, 'payee-data', ['P1'], plain);
  t.equal(sealed.keyId, masterKeyId(KEY));
  t.equal(sealed.iv.length, 12);
  t.equal(sealed.tag.length, 16);
  t.notOk(sealed.ciphertext.includes(plain), 'the ciphertext is not the plaintext');
  t.same(unseal(KEY, 'payee-data', ['P1'], sealed), plain);
  t.not(seal(KEY, 'payee-data', ['P1'], plain).iv.toString('hex'), sealed.iv.toString('hex'), 'a fresh IV every time');

  t.throws(() => unseal(OTHER, 'payee-data', ['P1'], sealed), { name: 'UnsealError', reason: 'wrong-key' });
  t.throws(() => unseal(KEY, 'payee-data', ['P2'], sealed), { name: 'UnsealError', reason: 'tampered' }, 'another row');
  t.throws(() => unseal(KEY, 'merchant-key', ['P1'], sealed), { name: 'UnsealError', reason: 'tampered' }, 'another purpose');
  const flipped = { ...sealed, ciphertext: Buffer.from(sealed.ciphertext) };
  flipped.ciphertext[0]! ^= 1;
  t.throws(() => unseal(KEY, 'payee-data', ['P1'], flipped), { name: 'UnsealError', reason: 'tampered' }, 'an altered byte');
  // Row parts are joined with "|": one inside a part could make two rows' data the same.
  t.throws(() => seal(KEY, 'payee-data', ['M1|x'], plain), /must not contain "\|"/);

  const packed = packSealed(sealed);
  t.equal(packed.length, 1 + 8 + 12 + 16 + plain.length);
  t.same(unseal(KEY, 'payee-data', ['P1'], unpackSealed(packed)), plain, 'packed into one BLOB and back');
  t.throws(() => unpackSealed(Buffer.from([2, ...packed.subarray(1)])), UnsealError, 'an unknown version');
  t.throws(() => unpackSealed(packed.subarray(0, 30)), UnsealError, 'too short');
});

t.test('merchant keys: sealed per merchant, a copy onto another merchant does not open', async (t) => {
  const sealed = sealMerchantKey(KEY, M1, MERCHANT_KEY);
  t.notOk(sealed.includes(Buffer.from(MERCHANT_KEY)));
  t.equal(openMerchantKey(KEY, M1, sealed), MERCHANT_KEY);
  t.throws(() => openMerchantKey(KEY, M2, sealed), { name: 'MerchantKeyError', reason: 'tampered', message: /merchant M100000000000002.*rotate-key/ });
  t.throws(() => openMerchantKey(OTHER, M1, sealed), {
    name: 'MerchantKeyError',
    reason: 'wrong-key',
    message: new RegExp(`merchant ${M1}: sealed with the MASTER_KEY whose key id is ${masterKeyId(KEY)}.*MASTER_KEY_FILE`),
  });
  const err = (() => {
    try {
      openMerchantKey(OTHER, M1, sealed);
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  t.notOk(err?.message.includes(KEY) || err?.message.includes(OTHER) || err?.message.includes(MERCHANT_KEY), 'no secret in the message');
});

t.test('MerchantKeys: opened once per sealed value, a rotated key is picked up, never serialized', async (t) => {
  let asked = 0;
  const keys = new MerchantKeys(() => {
    asked++;
    return KEY;
  });
  t.equal(asked, 0, 'MASTER_KEY is not needed before a key is');
  const first = keys.seal(M1, MERCHANT_KEY);
  t.equal(asked, 1);
  t.equal(keys.open(M1, first), MERCHANT_KEY);
  t.equal(keys.open(M1, Buffer.from(first)), MERCHANT_KEY, 'equal bytes: served from memory');
  // Altered in place after caching: the bytes differ, so the cache does not answer for them.
  const altered = Buffer.from(first);
  altered[altered.length - 1]! ^= 1;
  t.throws(() => keys.open(M1, altered), MerchantKeyError);

  const rotatedKey = 'Rt5w8Zq1Xv4Ny7Lb0Mc3Kd6Jf9Hg2Ps-Ua_Eo1Ti4Wn';
  const rotated = keys.seal(M1, rotatedKey);
  t.equal(keys.open(M1, rotated), rotatedKey, 'the new sealed value opens the new key');
  t.equal(keys.open(M1, first), MERCHANT_KEY, 'and the old one still its own');
  t.equal(asked, 1, 'MASTER_KEY asked for once');

  t.throws(() => keys.open(M2, null), { name: 'MerchantKeyError', message: /not sealed yet/ });

});

t.test('merchant rows open their key when it is used, and never print it', async (t) => {
  const db = openDb(':memory:');
  t.teardown(() => db.close());
  migrate(db);
  const keys = new MerchantKeys(() => KEY);
  const m = await createMerchant({ writer: new InlineWriter(db), merchantKeys: keys }, 'Shop', 'sandbox');
  const row = prepareReads(db, keys).merchant(m.mercNo)!;
  t.equal(row.key, m.key);
  t.notOk(JSON.stringify(row).includes(m.key), 'the key is not in the JSON of the row');
  t.notOk(Object.keys(row).includes('key'));
  t.same(prepareReads(db, keys).merchants().map((r) => r.key), [m.key]);

  // A reader without MASTER_KEY reads rows, and refuses only when a key is used.
  const locked = prepareReads(db).merchant(m.mercNo)!;
  t.match(locked, { merc_no: m.mercNo, name: 'Shop', mode: 'sandbox', status: 'active' });
  t.throws(() => locked.key, { name: 'MerchantKeyError', message: /no MASTER_KEY/ });
});

t.test('MASTER_KEY_FILE: generated 0600 in a 0700 folder, found again, never replaced', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'keys', 'master.key');
  const settings = { MASTER_KEY_FILE: file };
  t.equal(findMasterKey(settings), undefined, 'no variable, no file');
  const key = generateMasterKeyFile(file);
  t.equal(masterKeyWeakness(key), undefined, 'a strong key');
  t.match(key, /^[A-Za-z0-9+/]{43}=$/, 'the shape openssl rand -base64 32 prints');
  t.equal(readFileSync(file, 'utf8'), `${key}\n`);
  t.equal((statSync(file).mode & 0o777).toString(8), '600');
  t.equal((statSync(join(dir, 'keys')).mode & 0o777).toString(8), '700');
  t.same(findMasterKey(settings), { key, from: 'file' });
  t.equal(generateMasterKeyFile(file), key, 'a second process finds the first one\'s key, and keeps it');

  t.same(findMasterKey({ ...settings, MASTER_KEY: key }), { key, from: 'environment' }, 'the same key both ways is fine');
  t.throws(() => findMasterKey({ ...settings, MASTER_KEY: OTHER }), {
    name: 'MasterKeyFileError',
    message: /MASTER_KEY is set and MASTER_KEY_FILE \(.*master\.key\) holds a different key/,
  });
  t.same(findMasterKey({ MASTER_KEY_FILE: join(dir, 'none'), MASTER_KEY: OTHER }), { key: OTHER, from: 'environment' }, 'the variable alone');

  chmodSync(file, 0o644);
  t.same(findMasterKey(settings), { key, from: 'file', tightenedFrom: 0o644 }, 'a file readable by others is made private');
  t.equal((statSync(file).mode & 0o777).toString(8), '600');

  const weak = join(dir, 'weak.key');
  writeFileSync(weak, `${'a'.repeat(44)}\n`, { mode: 0o600 });
  t.throws(() => findMasterKey({ MASTER_KEY_FILE: weak }), { name: 'MasterKeyFileError', message: /weak\.key\) holds a key too weak.*openssl rand -base64 32/ });
  writeFileSync(weak, 'not a key at all\n', { mode: 0o600 });
  t.throws(() => findMasterKey({ MASTER_KEY_FILE: weak }), { message: /must hold one key of at least 32 characters/ });
  t.throws(() => findMasterKey({ MASTER_KEY_FILE: dir }), MasterKeyFileError, 'a folder is not a key file');

  writeFileSync(join(dir, 'plain'), 'x');
  t.throws(() => generateMasterKeyFile(join(dir, 'plain', 'master.key')), {
    name: 'MasterKeyFileError',
    message: /cannot be written: E[A-Z]+\. Set MASTER_KEY, or MASTER_KEY_FILE to a writable place/,
  });
});

t.test('a key file that lets others read it and cannot be changed (not its owner) is used, and said to be loose', async (t) => {
  // A user who does not own the file cannot chmod it (EPERM), as on a read-only secret mount
  // (EROFS): the key works, and the answer carries the mode and the reason for the warning.
  if (process.getuid?.() !== 0) {
    t.comment('needs root, to read the key as another user (nobody)');
    return;
  }
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const file = join(dir, 'master.key');
  writeFileSync(file, `${KEY}\n`, { mode: 0o644 });
  chmodSync(file, 0o644);
  const module = new URL('../../src/secrets/master-key.js', import.meta.url).href;
  const script = `import(${JSON.stringify(module)}).then((m) => console.log(JSON.stringify(m.findMasterKey({ MASTER_KEY_FILE: ${JSON.stringify(file)} }))))`;
  const r = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, '-e', script], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.same(JSON.parse(r.stdout), { key: KEY, loose: { mode: 0o644, why: 'EPERM' }, from: 'file' });
  t.equal((statSync(file).mode & 0o777).toString(8), '644', 'left as it was');
});
