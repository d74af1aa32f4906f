import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helper.js';
import { CLI, runNode, type CliResult } from '../cli-runner.js';
import { certificatePem, channelFixtures, rsaKeyPair } from '../fixtures/channel-credentials.js';
import { testBackendDatabase } from '../backend-database.js';

// `dtpay channel set|show` with the payout settings (CONTRACT §3/§4): WeChat's transfer scenes and
// UnionPay's encryption certificate, through the compiled CLI as a child process.

const MASTER_KEY = 'cli-test-master-key-0123456789abcdefABCDEF=';
/** The environment naming a database of its own on the test backend. */
const env = async (t: { teardown(fn: () => unknown): void }, cwd: string) => ({
  ...(await testBackendDatabase(t, join(cwd, 'data', 'dtpay.sqlite'), { masterKey: MASTER_KEY })).env,
  MASTER_KEY,
  PUBLIC_BASE_URL: 'https://pay.example.com',
});

function oneJson(t: { fail(msg: string): void }, r: CliResult): any {
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    t.fail(`stdout is not one JSON document: ${(err as Error).message}\n${r.stdout}\nstderr: ${r.stderr}`);
    return undefined;
  }
}

t.test('transfer scenes and the encryption certificate: set, validated, shown', async (t) => {
  const cwd = tempDir(t);
  const cliEnv = await env(t, cwd);
  const cli = (args: string[]) => runNode(CLI, args, cwd, cliEnv);
  const fx = channelFixtures();
  const file = (name: string, content: string | Buffer) => {
    const p = join(cwd, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };
  const encKey = rsaKeyPair();
  const report = [
    { info_type: '活动名称', info_content: '新会员有礼' },
    { info_type: '奖励说明', info_content: '注册会员抽奖一等奖' },
  ];
  const withdrawReport = [{ info_type: '岗位类型', info_content: '外卖骑手' }, { info_type: '报酬说明', info_content: '11月佣金' }];
  const f = {
    wxKey: file('apiclient_key.pem', fx.wxpay.merchantKey.privateKeyPem),
    wxCert: file('wechatpay_platform.pem', fx.wxpay.platformCertPem),
    report: file('report.json', JSON.stringify(report)),
    withdrawReport: file('withdraw.json', JSON.stringify(withdrawReport)),
    badReport: file('bad.json', '[{"info_type":"活动名称"}]'),
    pfx: file('acp_sign.pfx', fx.unionpay.pfx),
    root: file('acp_root.cer', fx.unionpay.rootCertPem),
    middle: file('acp_middle.cer', fx.unionpay.middleCertPem),
    enc: file('acp_enc.cer', certificatePem({ subjectCn: 'UnionPay test encryption', key: encKey, serialHex: '69a3c5e7f1b20c4d', issuer: { cn: 'CFCA test middle', key: fx.unionpay.middleKey } })),
    expiredEnc: file('old_enc.cer', certificatePem({ subjectCn: 'old enc', key: encKey, serialHex: '0a', notBefore: new Date('2020-01-01'), notAfter: new Date('2021-01-01') })),
  };
  const live = oneJson(t, await cli(['merchant', 'create', '--name', 'Live shop', '--mode', 'live', '--json'])).mercNo as string;
  const wx = [
    'channel', 'set', live, 'wxpay', '--mchid', '1900000001', '--appid', 'wx0123456789abcdef', '--serial-no', fx.wxpay.serialNo,
    '--private-key-file', f.wxKey, '--apiv3-key', fx.wxpay.apiv3Key, '--platform-cert-file', f.wxCert,
  ];
  const up = [
    'channel', 'set', live, 'unionpay', '--mer-id', '777290058110048', '--sign-cert-file', f.pfx, '--sign-cert-password', fx.unionpay.password,
    '--root-cert-file', f.root, '--middle-cert-file', f.middle,
  ];

  await t.test('wxpay without scenes: shown as no payouts', async (t) => {
    const r = await cli(wx);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /transfer scene\s+none \(no payouts\)/);
    t.notOk('transferScene' in oneJson(t, await cli(['channel', 'show', live, '--json'])).channels[0]);
  });

  await t.test('wxpay with a transfer scene and a withdraw scene', async (t) => {
    const r = await cli([
      ...wx, '--transfer-scene-id', '1000', '--transfer-scene-report-file', f.report, '--user-recv-perception', '现金奖励',
      '--withdraw-scene-id', '1005', '--withdraw-scene-report-file', f.withdrawReport, '--withdraw-recv-perception', '劳务报酬', '--json',
    ]);
    t.equal(r.code, 0, r.stderr);
    const doc = oneJson(t, r);
    t.same(doc.transferScene, { sceneId: '1000', reportInfos: report, userRecvPerception: '现金奖励' });
    t.same(doc.withdrawScene, { sceneId: '1005', reportInfos: withdrawReport, userRecvPerception: '劳务报酬' });
    const text = await cli(['channel', 'show', live]);
    t.match(text.stdout, /transfer scene\s+1000, payee sees "现金奖励"; report 活动名称=新会员有礼, 奖励说明=注册会员抽奖一等奖/);
    t.match(text.stdout, /withdraw scene\s+1005, payee sees "劳务报酬"; report 岗位类型=外卖骑手, 报酬说明=11月佣金/);
    const only02 = await cli([...wx, '--transfer-scene-id', '1000', '--transfer-scene-report-file', f.report]);
    t.equal(only02.code, 0, only02.stderr);
    t.match(only02.stdout, /withdraw scene\s+the transfer scene/, '03 uses the 02 settings');
  });

  await t.test('wxpay settings that do not hold up', async (t) => {
    const [badReport, missingFile, noScene, badId] = await Promise.all([
      cli([...wx, '--transfer-scene-id', '1000', '--transfer-scene-report-file', f.badReport]),
      cli([...wx, '--transfer-scene-id', '1000', '--transfer-scene-report-file', join(cwd, 'nope.json')]),
      cli([...wx, '--user-recv-perception', '现金奖励']),
      cli([...wx, '--transfer-scene-id', 'cash']),
    ]);
    t.equal(badReport.code, 1);
    t.match(badReport.stderr, 'channel set wxpay: --transfer-scene-report-file: item 1: "info_content" must be a string of 1–32 characters');
    t.equal(missingFile.code, 1);
    t.match(missingFile.stderr, /--transfer-scene-report-file: cannot read .*nope\.json: no such file/);
    t.equal(noScene.code, 1);
    t.match(noScene.stderr, '--user-recv-perception: applies to a transfer scene; give --transfer-scene-id with it');
    t.equal(badId.code, 1);
    t.match(badId.stderr, '--transfer-scene-id: must be the transfer scene id');
    const doc = oneJson(t, await cli(['channel', 'show', live, '--json']));
    t.same(doc.channels[0].transferScene?.sceneId, '1000', 'nothing of that replaced what is stored');
  });

  await t.test('unionpay with the encryption certificate, shown with its expiry', async (t) => {
    const without = await cli(up);
    t.equal(without.code, 0, without.stderr);
    t.match(without.stdout, /encryption cert\s+none \(no payouts\)/);
    const r = await cli([...up, '--encrypt-cert-file', f.enc, '--json']);
    t.equal(r.code, 0, r.stderr);
    const doc = oneJson(t, r);
    t.match(doc.encryptCert, { encryptCertId: BigInt('0x69a3c5e7f1b20c4d').toString(10), serialNumber: '69A3C5E7F1B20C4D', expired: false, validTo: /^\d{4}-/ });
    const text = await cli(['channel', 'show', live]);
    t.match(text.stdout, new RegExp(`encryption cert\\s+encryptCertId ${BigInt('0x69a3c5e7f1b20c4d')}; .*valid .* to `));
    const old = await cli([...up, '--encrypt-cert-file', f.expiredEnc]);
    t.equal(old.code, 0, old.stderr);
    t.match(old.stderr, 'dtpay: warning: the encryption certificate expired on 20210101');
    t.match(old.stdout, /encryption cert .*\(EXPIRED\)/);
    const own = await cli([...up, '--encrypt-cert-file', f.middle]);
    t.equal(own.code, 1);
    t.match(own.stderr, '--encrypt-cert-file: is a CA certificate');
    const foreign = await cli([...wx, '--encrypt-cert-file', f.enc]);
    t.equal(foreign.code, 2, 'a unionpay flag given to wxpay');
    t.match(foreign.stderr, '--encrypt-cert-file does not apply to wxpay');
  });
});
