import t from 'tap';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helper.js';
import { CLI, runNode, type CliResult } from '../cli-runner.js';
import { makeAlipayPki } from '../simulators/alipay-pki.js';
import { testBackendDatabase } from '../backend-database.js';

// `dtpay channel set MERCNO alipay` in 公钥证书 mode through the compiled CLI (CONTRACT §3, §4):
// the three certificate files instead of the Alipay public key, exactly one mode, and what
// `channel show` says about the certificates.

const MASTER_KEY = 'cli-test-master-key-0123456789abcdefABCDEF=';
const PUBLIC_BASE_URL = 'https://pay.example.com';

const appKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const appPrivatePem = appKeys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const pki = makeAlipayPki(appPrivatePem);

const json = (r: CliResult) => JSON.parse(r.stdout) as any;
const iso = (pem: string) => new Date(new X509Certificate(pem).validTo).toISOString();

t.test('certificate mode: set, show, and the usage errors', async (t) => {
  const cwd = tempDir(t);
  const d = await testBackendDatabase(t, join(cwd, 'data', 'dtpay.sqlite'), { masterKey: MASTER_KEY });
  const env = { ...d.env, MASTER_KEY, PUBLIC_BASE_URL };
  const cli = (args: string[]) => runNode(CLI, args, cwd, env);
  const file = (name: string, content: string) => {
    const p = join(cwd, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  const f = {
    appKey: file('app_private_key.pem', appPrivatePem),
    appCert: file('appCertPublicKey_2021000000000001.crt', pki.app.certPem),
    alipayCert: file('alipayCertPublicKey_RSA2.crt', pki.alipay.filePem),
    root: file('alipayRootCert.crt', pki.rootBundlePem),
    rogue: file('rogue.crt', pki.rogue.filePem),
    alipayPub: file('alipay_public_key.pem', new X509Certificate(pki.alipay.certPem).publicKey.export({ type: 'spki', format: 'pem' }).toString()),
  };
  const live = json(await cli(['merchant', 'create', '--name', 'Cert shop', '--mode', 'live', '--json'])).mercNo as string;
  const base = ['channel', 'set', live, 'alipay', '--app-id', '2021000000000001', '--private-key-file', f.appKey];
  const certArgs = [...base, '--app-cert-file', f.appCert, '--alipay-cert-file', f.alipayCert, '--alipay-root-cert-file', f.root];

  const set = await cli([...certArgs, '--json']);
  t.equal(set.code, 0, set.stderr);
  const s = json(set);
  t.match(s, {
    status: 'created',
    mode: 'cert',
    appCert: { sn: pki.app.sn, validTo: iso(pki.app.certPem), expired: false },
    alipayCert: { sn: pki.alipay.sn, validTo: iso(pki.alipay.certPem) },
    alipayRootCertSn: pki.rootSn,
    callbackUrl: `${PUBLIC_BASE_URL}/channel/alipay/notify/${live}`,
  });
  t.equal(s.alipayCertChain.length, 1);
  t.equal(s.alipayRootCerts.length, 1);

  const text = await cli(['channel', 'show', live]);
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, /mode\s+certificate \(公钥证书\)/);
  t.match(text.stdout, new RegExp(`app cert\\s+.*valid .* to .*; app_cert_sn ${pki.app.sn}`));
  t.match(text.stdout, new RegExp(`Alipay cert\\s+.*alipay_cert_sn ${pki.alipay.sn}`));
  t.match(text.stdout, /Alipay root cert\s+.*Ant Financial Certification Authority R1/);
  t.match(text.stdout, new RegExp(`root cert SN\\s+${pki.rootSn}`));
  t.notMatch(text.stdout, /PRIVATE KEY/);

  // Back to key mode, and the summary says so.
  const key = await cli([...base, '--alipay-public-key-file', f.alipayPub, '--json']);
  t.equal(key.code, 0, key.stderr);
  t.match(json(key), { status: 'updated', mode: 'key' });
  t.notOk('appCert' in json(key));

  const [both, partial, rogue, none] = await Promise.all([
    cli([...certArgs, '--alipay-public-key-file', f.alipayPub]),
    cli([...base, '--app-cert-file', f.appCert, '--alipay-root-cert-file', f.root]),
    cli(certArgs.map((a) => (a === f.alipayCert ? f.rogue : a))),
    cli(base),
  ]);
  t.equal(both.code, 2, 'two modes at once is a usage error');
  t.match(both.stderr, 'give either --alipay-public-key-file (public-key mode) or --app-cert-file, --alipay-cert-file and --alipay-root-cert-file (certificate mode), not both');
  t.equal(partial.code, 2);
  t.match(partial.stderr, '--alipay-cert-file is required');
  t.equal(rogue.code, 1);
  t.match(rogue.stderr, '--alipay-cert-file: does not chain to --alipay-root-cert-file');
  t.equal(none.code, 2);
  t.match(none.stderr, '--alipay-public-key-file is required');
  t.match(none.stderr, '--app-cert-file F --alipay-cert-file F --alipay-root-cert-file F', 'the usage shows both modes');
  t.match(json(await cli(['channel', 'show', live, '--json'])).channels[0], { mode: 'key' }, 'the refused runs changed nothing');
});
