import t from 'tap';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helper.js';
import { CLI, runNode, type CliResult } from '../cli-runner.js';
import { channelFixtures, pemBody } from '../fixtures/channel-credentials.js';
import { testBackendDatabase } from '../backend-database.js';

// `dtpay channel set|show|remove` through the compiled CLI as a child process (CONTRACT §3).

const MASTER_KEY = 'cli-test-master-key-0123456789abcdefABCDEF=';
const OTHER_KEY = 'another-master-key-0123456789abcdefABCDEF=';
const PUBLIC_BASE_URL = 'https://pay.example.com';

/** Every byte the CLI printed in this file's runs, to search for secrets at the end. */
const printed: string[] = [];

async function runCli(cwd: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const r = await runNode(CLI, args, cwd, env);
  printed.push(r.stdout, r.stderr);
  return r;
}

function oneJson(t: { fail(msg: string): void }, r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    t.fail(`stdout is not one JSON document: ${(err as Error).message}\n${r.stdout}\nstderr: ${r.stderr}`);
    return undefined;
  }
}

const FINGERPRINT = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

t.test('channel set, show and remove for every payway', async (t) => {
  const cwd = tempDir(t);
  const db = join(cwd, 'data', 'dtpay.sqlite');
  // The SQLite file is made by `merchant create`; on PostgreSQL the database is there, empty.
  const d = await testBackendDatabase(t, db, { masterKey: MASTER_KEY });
  const onPostgres = d.backend === 'postgres';
  const env = { ...d.env, MASTER_KEY, PUBLIC_BASE_URL };
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(cwd, args, { ...env, ...extra });

  const fx = channelFixtures();
  const file = (name: string, content: string | Buffer) => {
    const p = join(cwd, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  const f = {
    appKey: file('app_private_key.pem', fx.alipay.appKey.privateKeyPem),
    // What Alipay's console shows: the bare base64 of the key.
    alipayPub: file('alipay_public_key.txt', pemBody(fx.alipay.alipayKey.publicKeyPem)),
    wxKey: file('apiclient_key.pem', fx.wxpay.merchantKey.privateKeyPem),
    wxCert: file('wechatpay_platform.pem', fx.wxpay.platformCertPem),
    wxPub: file('pub_key.pem', fx.wxpay.publicKey.publicKeyPem),
    pfx: file('acp_sign.pfx', fx.unionpay.pfx),
    root: file('acp_root.cer', fx.unionpay.rootCertPem),
    middle: file('acp_middle.cer', fx.unionpay.middleCertPem),
  };

  const [live, sandbox] = await Promise.all([
    cli(['merchant', 'create', '--name', 'Live shop', '--mode', 'live', '--json']),
    cli(['merchant', 'create', '--name', 'Sandbox shop', '--mode', 'sandbox', '--json']),
  ]).then((rs) => rs.map((r) => oneJson(t, r).mercNo as string));
  t.ok(live && sandbox);

  const alipayArgs = ['channel', 'set', live!, 'alipay', '--app-id', '2021000000000001', '--private-key-file', f.appKey, '--alipay-public-key-file', f.alipayPub];
  const wxpayArgs = [
    'channel', 'set', live!, 'wxpay', '--mchid', '1900000001', '--appid', 'wx0123456789abcdef', '--serial-no', fx.wxpay.serialNo,
    '--private-key-file', f.wxKey, '--apiv3-key', fx.wxpay.apiv3Key, '--platform-cert-file', f.wxCert, '--base-url', 'http://127.0.0.1:18081/',
  ];
  const unionpayArgs = [
    'channel', 'set', live!, 'unionpay', '--mer-id', '777290058110048', '--sign-cert-file', f.pfx, '--sign-cert-password', fx.unionpay.password,
    '--root-cert-file', f.root, '--middle-cert-file', f.middle,
  ];

  await t.test('set', async (t) => {
    // One after another: they write the same database.
    const a = await cli([...alipayArgs, '--json']);
    t.equal(a.code, 0, `alipay set exits 0 ${a.stderr}`);
    const aj = oneJson(t, a);
    t.same(Object.keys(aj).sort(), ['alipayPublicKey', 'appId', 'callbackUrl', 'createdAt', 'gatewayUrl', 'mercNo', 'mode', 'payway', 'privateKey', 'status', 'updatedAt']);
    t.match(aj, {
      mercNo: live,
      status: 'created',
      payway: 'alipay',
      appId: '2021000000000001',
      mode: 'key',
      gatewayUrl: 'https://openapi.alipay.com/gateway.do',
      callbackUrl: `${PUBLIC_BASE_URL}/channel/alipay/notify/${live}`,
      privateKey: { secret: '********', type: 'rsa', bits: 2048, sha256: FINGERPRINT },
      alipayPublicKey: { type: 'rsa', bits: 2048, sha256: FINGERPRINT },
      createdAt: ISO,
      updatedAt: ISO,
    });
    t.not(aj.privateKey.sha256, aj.alipayPublicKey.sha256);

    const w = await cli([...wxpayArgs, '--json']);
    t.equal(w.code, 0, `wxpay set exits 0 ${w.stderr}`);
    t.match(oneJson(t, w), {
      mercNo: live,
      status: 'created',
      payway: 'wxpay',
      mchid: '1900000001',
      appid: 'wx0123456789abcdef',
      serialNo: fx.wxpay.serialNo.toUpperCase(),
      baseUrl: 'http://127.0.0.1:18081',
      apiv3Key: '********',
      verifyWith: 'platform-cert',
      platformCert: { sha256: FINGERPRINT, validFrom: ISO, validTo: ISO, expired: false, serialNumber: '5157F09EFDC096DE15EBE78A47057A72' },
      callbackUrl: `${PUBLIC_BASE_URL}/channel/wxpay/notify/${live}`,
    });

    const u = await cli(unionpayArgs);
    t.equal(u.code, 0, `unionpay set exits 0 ${u.stderr}`);
    t.match(u.stdout, `stored unionpay credentials of live merchant ${live}`);
    t.match(u.stdout, /certId\s+460367961908983/, 'the certId, decimal');
    t.match(u.stdout, `callback URL (register it with UnionPay): ${PUBLIC_BASE_URL}/channel/unionpay/notify/${live}`);
    t.match(u.stdout, /signing key\s+\*{8}/);

    // Switching WeChat Pay to the public-key mode replaces the row.
    const w2 = await cli([
      'channel', 'set', live!, 'wxpay', '--mchid', '1900000001', '--appid', 'wx0123456789abcdef', '--serial-no', fx.wxpay.serialNo,
      '--private-key-file', f.wxKey, '--apiv3-key', fx.wxpay.apiv3Key, '--wechatpay-public-key-file', f.wxPub,
      '--wechatpay-public-key-id', 'PUB_KEY_ID_0114232134912410000000000000', '--json',
    ]);
    t.equal(w2.code, 0, w2.stderr);
    const w2j = oneJson(t, w2);
    t.match(w2j, { status: 'updated', verifyWith: 'public-key', baseUrl: 'https://api.mch.weixin.qq.com', wechatpayPublicKey: { id: 'PUB_KEY_ID_0114232134912410000000000000', sha256: FINGERPRINT } });
    t.notOk('platformCert' in w2j);
  });

  await t.test('show', async (t) => {
    const s = await cli(['channel', 'show', live!, '--json']);
    t.equal(s.code, 0, s.stderr);
    const doc = oneJson(t, s);
    t.same(Object.keys(doc).sort(), ['channels', 'mercNo', 'mode', 'status']);
    t.match(doc, { mercNo: live, mode: 'live', status: 'active' });
    t.same(doc.channels.map((c: { payway: string }) => c.payway), ['alipay', 'unionpay', 'wxpay']);
    const [alipay, unionpay, wxpay] = doc.channels;
    t.match(alipay, { appId: '2021000000000001', callbackUrl: `${PUBLIC_BASE_URL}/channel/alipay/notify/${live}` });
    t.match(wxpay, { mchid: '1900000001', verifyWith: 'public-key', apiv3Key: '********' });
    t.match(unionpay, {
      merId: '777290058110048',
      certId: '460367961908983',
      baseUrl: 'https://gateway.95516.com',
      signKey: { secret: '********', sha256: FINGERPRINT },
      signCert: { serialNumber: /01A2B3C4D5E6F7$/, validFrom: ISO, validTo: ISO, expired: false },
      rootCert: { subject: /CFCA test root/, sha256: FINGERPRINT },
      middleCert: { subject: /CFCA test middle/, issuer: /CFCA test root/ },
      callbackUrl: `${PUBLIC_BASE_URL}/channel/unionpay/notify/${live}`,
    });

    const text = await cli(['channel', 'show', live!]);
    t.equal(text.code, 0, text.stderr);
    for (const p of ['alipay', 'wxpay', 'unionpay']) t.match(text.stdout, `${PUBLIC_BASE_URL}/channel/${p}/notify/${live}`, `the ${p} callback URL`);
    t.match(text.stdout, /APIv3 key\s+\*{8}/);

    const sb = await cli(['channel', 'show', sandbox!, '--json']);
    t.equal(sb.code, 0);
    t.same(oneJson(t, sb), { mercNo: sandbox, mode: 'sandbox', status: 'active', channels: [] });
    // Showing a merchant without credentials needs no MASTER_KEY on SQLite. On PostgreSQL every
    // process on the database is given it (CONTRACT §7): without it, a command is a configuration error.
    const sbNoKey = await cli(['channel', 'show', sandbox!], { MASTER_KEY: '' });
    if (onPostgres) {
      t.equal(sbNoKey.code, 2, sbNoKey.stderr);
      t.match(sbNoKey.stderr, /DATABASE_URL is set, so MASTER_KEY \(or MASTER_KEY_FILE\) must be given/);
    } else {
      t.equal(sbNoKey.code, 0, sbNoKey.stderr);
      t.match(sbNoKey.stdout, 'sandbox');
    }
  });

  await t.test('errors', async (t) => {
    // None of these writes anything, so they run side by side.
    const [sb, noKey, showNoKey, wrongShow, wrongSet, unknown, shortKey, badPw, badFile, swapped, foreign, missing, badPayway, neither] = await Promise.all([
      cli(['channel', 'set', sandbox!, 'alipay', ...alipayArgs.slice(4)]),
      cli(alipayArgs, { MASTER_KEY: '' }),
      cli(['channel', 'show', live!], { MASTER_KEY: '' }),
      cli(['channel', 'show', live!, '--json'], { MASTER_KEY: OTHER_KEY }),
      cli(alipayArgs, { MASTER_KEY: OTHER_KEY }),
      cli(['channel', 'set', 'M999999999999999', ...alipayArgs.slice(3)]),
      cli(wxpayArgs.map((a) => (a === fx.wxpay.apiv3Key ? fx.wxpay.apiv3Key.slice(0, 31) : a))),
      cli(unionpayArgs.map((a) => (a === fx.unionpay.password ? 'Wrong-Password-123' : a))),
      cli(alipayArgs.map((a) => (a === f.appKey ? join(cwd, 'missing.pem') : a))),
      cli(alipayArgs.map((a) => (a === f.alipayPub ? f.appKey : a))),
      cli([...alipayArgs, '--mchid', '1900000001']),
      cli(alipayArgs.slice(0, 6)),
      cli(['channel', 'set', live!, 'paypal']),
      cli(wxpayArgs.filter((a, i, all) => a !== '--platform-cert-file' && all[i - 1] !== '--platform-cert-file')),
    ]);

    t.equal(sb.code, 1, 'a sandbox merchant is refused');
    t.match(sb.stderr, 'live merchants only');

    if (onPostgres) {
      for (const r of [noKey, showNoKey]) {
        t.equal(r.code, 2, 'no MASTER_KEY on PostgreSQL: a configuration error');
        t.match(r.stderr, 'MASTER_KEY (or MASTER_KEY_FILE) must be given');
        t.match(r.stderr, 'openssl rand -base64 32');
      }
    } else {
      t.equal(noKey.code, 1, 'no MASTER_KEY');
      t.match(noKey.stderr, 'MASTER_KEY is not set');
      t.match(noKey.stderr, 'openssl rand -base64 32');
      t.equal(showNoKey.code, 1);
      t.match(showNoKey.stderr, 'openssl rand -base64 32');
    }

    t.equal(wrongShow.code, 1, 'a wrong MASTER_KEY');
    t.match(wrongShow.stderr, 'MASTER_KEY does not decrypt the stored credentials');
    t.equal(wrongShow.stdout, '');
    t.equal(wrongSet.code, 1, 'set does not mix MASTER_KEYs');
    t.match(wrongSet.stderr, 'MASTER_KEY does not decrypt the stored credentials');

    t.equal(unknown.code, 1);
    t.match(unknown.stderr, 'no merchant M999999999999999');

    t.equal(shortKey.code, 1);
    t.match(shortKey.stderr, /--apiv3-key: must be exactly 32 bytes.*got 31/);

    t.equal(badPw.code, 1);
    t.match(badPw.stderr, '--sign-cert-password: does not open --sign-cert-file');
    t.notMatch(badPw.stderr, 'Wrong-Password-123', 'the password is not echoed');

    t.equal(badFile.code, 1);
    t.match(badFile.stderr, /--private-key-file: cannot read .*missing\.pem: no such file/);

    t.equal(swapped.code, 1);
    t.match(swapped.stderr, '--alipay-public-key-file: this is a private key');

    t.equal(foreign.code, 2, 'a flag of another payway is a usage error');
    t.match(foreign.stderr, '--mchid does not apply to alipay');
    t.equal(missing.code, 2);
    t.match(missing.stderr, '--private-key-file, --alipay-public-key-file are required');
    t.equal(badPayway.code, 2);
    t.match(badPayway.stderr, 'alipay, wxpay, unionpay');
    t.equal(neither.code, 1);
    t.match(neither.stderr, '--platform-cert-file: one is required');

    // Nothing of that changed what is stored.
    const s = oneJson(t, await cli(['channel', 'show', live!, '--json']));
    t.same(s.channels.map((c: { payway: string; appId?: string }) => c.payway), ['alipay', 'unionpay', 'wxpay']);
  });

  await t.test('remove', async (t) => {
    const r = await cli(['channel', 'remove', live!, 'wxpay', '--json']);
    t.equal(r.code, 0, r.stderr);
    t.same(oneJson(t, r), { mercNo: live, payway: 'wxpay', removed: true });
    const again = await cli(['channel', 'remove', live!, 'wxpay']);
    t.equal(again.code, 1, 'nothing to remove');
    t.match(again.stderr, `${live} has no wxpay credentials`);
    const bad = await cli(['channel', 'remove', live!, 'sandbox']);
    t.equal(bad.code, 2);
    const s = oneJson(t, await cli(['channel', 'show', live!, '--json']));
    t.same(s.channels.map((c: { payway: string }) => c.payway), ['alipay', 'unionpay']);
  });

  /** Every value of every row of the tables that hold merchants and credentials, as bytes. */
  const storedOnPostgres = async () => {
    const out: Buffer[] = [];
    for (const table of ['channel_credentials', 'merchants', 'settings']) {
      for (const row of await d.sql.all(`SELECT * FROM ${table}`)) {
        for (const v of Object.values(row)) out.push(Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
      }
    }
    return out;
  };

  await t.test('no secret is printed or stored in plain text', async (t) => {
    const privateKeys = [fx.alipay.appKey.privateKeyPem, fx.wxpay.merchantKey.privateKeyPem, fx.unionpay.signKey.privateKeyPem];
    const needles: [string, Buffer][] = [
      ['APIv3 key', Buffer.from(fx.wxpay.apiv3Key)],
      ['.pfx password', Buffer.from(fx.unionpay.password)],
    ];
    privateKeys.forEach((pem, i) => {
      const body = pemBody(pem);
      const pkcs1 = pemBody(createPrivateKey(pem).export({ type: 'pkcs1', format: 'pem' }) as string);
      needles.push(
        [`private key ${i} PEM body`, Buffer.from(body)],
        [`private key ${i} PEM body, a middle slice`, Buffer.from(body.slice(200, 264))],
        [`private key ${i} PKCS#1 body slice`, Buffer.from(pkcs1.slice(200, 264))],
        [`private key ${i} DER`, Buffer.from(createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' }).subarray(40, 104))],
      );
    });
    const out = Buffer.from(printed.join('\n'));
    t.ok(out.length > 1000, `searched ${out.length} bytes of CLI output`);
    t.notOk(out.includes('PRIVATE KEY'), 'no PEM armour of a private key in any output');
    const files = onPostgres
      ? await storedOnPostgres()
      : [db, `${db}-wal`, `${db}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p));
    const stored = Buffer.concat(files);
    t.ok(stored.length > 0, `searched ${stored.length} bytes of database files`);
    t.notOk(stored.includes('PRIVATE KEY'), 'no PEM armour in the database');
    for (const [what, needle] of needles) {
      t.notOk(out.includes(needle), `the ${what} is not in stdout/stderr`);
      t.notOk(stored.includes(needle), `the ${what} is not in the database file`);
    }
    // The non-secret parts are not encrypted away from the operator: show still lists them.
    t.ok(out.includes('2021000000000001'), 'the app id is shown');
  });
});
