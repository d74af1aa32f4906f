import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';
import type { ChannelCredentialRow } from '../db/credential-reads.js';
import { LIVE_PAYWAYS, channelCallbackUrl, isLivePayway, type CredentialsByPayway, type LivePayway, type WxTransferScene } from '../channels/credentials.js';
import { CredentialInputError } from '../channels/credential-input.js';
import { buildAlipayCredentials } from '../channels/alipay/credential-input.js';
import { buildWxpayCredentials } from '../channels/wxpay/credential-input.js';
import { buildUnionpayCredentials } from '../channels/unionpay/credential-input.js';
import { summarizeCredentials, type CertSummary, type CredentialSummary, type KeySummary } from '../channels/credential-summary.js';
import { CredentialDecryptError, openCredentials } from '../secrets/channel-credentials.js';
import { storeLiveCredentials } from '../services/live-credentials.js';
import { masterKeyId } from '../secrets/sealing.js';
import { formatBeijing } from '../domain/time.js';
import { notFound, withDatabase } from './database.js';
import { CliError, printJson, type Io } from './io.js';
import { cliSecrets } from './secrets.js';
import { subcommandsOf, usageOf } from './usage.js';

// dtpay channel set | show | remove (CONTRACT §3). Secrets come from files (the APIv3 key and the
// .pfx password as flags), are validated, encrypted with MASTER_KEY and never printed again.

const CHANNEL_NAMES: Record<LivePayway, string> = { alipay: 'Alipay', wxpay: 'WeChat Pay', unionpay: 'UnionPay' };

/** The flags each payway takes; anything else given to `channel set` is refused, naming it. */
const FLAGS: Record<LivePayway, readonly string[]> = {
  alipay: ['app-id', 'private-key-file', 'alipay-public-key-file', 'app-cert-file', 'alipay-cert-file', 'alipay-root-cert-file', 'gateway-url'],
  wxpay: [
    'mchid', 'appid', 'serial-no', 'private-key-file', 'apiv3-key', 'platform-cert-file',
    'wechatpay-public-key-file', 'wechatpay-public-key-id', 'base-url',
    'transfer-scene-id', 'transfer-scene-report-file', 'user-recv-perception',
    'withdraw-scene-id', 'withdraw-scene-report-file', 'withdraw-recv-perception',
  ],
  unionpay: ['mer-id', 'sign-cert-file', 'sign-cert-password', 'root-cert-file', 'middle-cert-file', 'encrypt-cert-file', 'base-url'],
};

const REQUIRED: Record<LivePayway, readonly string[]> = {
  alipay: ['app-id', 'private-key-file', 'alipay-public-key-file'],
  wxpay: ['mchid', 'appid', 'serial-no', 'private-key-file', 'apiv3-key'],
  unionpay: ['mer-id', 'sign-cert-file', 'sign-cert-password', 'root-cert-file', 'middle-cert-file'],
};

const OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  json: { type: 'boolean', default: false },
  ...Object.fromEntries([...new Set(Object.values(FLAGS).flat())].map((f) => [f, { type: 'string' as const }])),
};

const USAGE_SET = usageOf('channel set');

export async function runChannel(config: Config, args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: OPTIONS });
  const flags = values as Record<string, string | boolean | undefined>;
  const json = flags.json === true;

  switch (sub) {
    case 'set': {
      if (positionals.length !== 2) throw new CliError(USAGE_SET);
      const [mercNo, payway] = positionals as [string, string];
      if (!isLivePayway(payway)) throw new CliError(`channel set: the payway must be one of ${LIVE_PAYWAYS.join(', ')}\n${USAGE_SET}`);
      const given = Object.keys(flags).filter((f) => f !== 'json' && flags[f] !== undefined);
      const foreign = given.filter((f) => !FLAGS[payway].includes(f));
      if (foreign.length > 0) {
        throw new CliError(`channel set ${payway}: ${foreign.map((f) => `--${f}`).join(', ')} does not apply to ${payway}\n${USAGE_SET}`);
      }
      const missing = requiredFlags(payway, flags).filter((f) => flags[f] === undefined);
      if (missing.length > 0) throw new CliError(`channel set ${payway}: ${missing.map((f) => `--${f}`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} required\n${USAGE_SET}`);
      return withDatabase(config, 'channel set', async (d) => {
        const merchant = await d.storage.reads.merchant(mercNo);
        if (!merchant) throw await notFound(d, config, `no merchant ${mercNo}`);
        if (merchant.mode !== 'live') {
          throw new CliError(
            `channel set: ${mercNo} is a sandbox merchant; channel credentials are for live merchants only ` +
              '(create one with `dtpay merchant create --name NAME --mode live`)',
            1,
          );
        }
        const { masterKey } = await cliSecrets(d, config, io, 'channel set');
        const creds = d.storage.credentials;
        // One MASTER_KEY for all rows: the server refuses to start when any row does not decrypt.
        const keyId = masterKeyId(masterKey);
        const other = (await creds.allChannelCredentials()).find((r) => r.key_id !== keyId && !(r.merc_no === mercNo && r.payway === payway));
        if (other) {
          throw new CliError(
            `channel set: MASTER_KEY does not decrypt the stored credentials (${other.merc_no}/${other.payway} were stored ` +
              'with a different MASTER_KEY); run with that MASTER_KEY so that every channel uses the same one',
            1,
          );
        }
        const credentials = buildCredentials(payway, flags);
        const status = await storeLiveCredentials(d.storage.writer, masterKey, mercNo, payway, credentials);
        const row = (await creds.channelCredentials(mercNo, payway))!;
        const entry = describeRow(config, row, credentials);
        for (const w of expiryWarnings(entry)) io.err(`dtpay: warning: ${w}\n`);
        if (json) printJson(io, { mercNo, status, ...entry });
        else {
          io.out(`${status === 'created' ? 'stored' : 'replaced'} ${payway} credentials of live merchant ${mercNo} (${merchant.name})\n`);
          io.out(renderEntry(entry));
        }
        return 0;
      });
    }

    case 'show': {
      if (positionals.length !== 1) throw new CliError(usageOf('channel show'));
      if (Object.keys(flags).some((f) => f !== 'json' && flags[f] !== undefined)) {
        throw new CliError(usageOf('channel show'));
      }
      const mercNo = positionals[0]!;
      return withDatabase(config, 'channel show', async (d) => {
        const merchant = await d.storage.reads.merchant(mercNo);
        if (!merchant) throw await notFound(d, config, `no merchant ${mercNo}`);
        const rows = await d.storage.credentials.channelCredentialsOf(mercNo);
        const masterKey = rows.length > 0 ? (await cliSecrets(d, config, io, 'channel show')).masterKey : undefined;
        const channels = rows.map((row) => {
          try {
            return describeRow(config, row, openCredentials(masterKey!, row.merc_no, row.payway, sealedOf(row)));
          } catch (err) {
            if (err instanceof CredentialDecryptError) throw new CliError(err.message, 1);
            throw err;
          }
        });
        if (json) {
          printJson(io, { mercNo, mode: merchant.mode, status: merchant.status, channels });
          return 0;
        }
        io.out(`${mercNo} (${merchant.name}): ${merchant.mode} merchant, ${merchant.status}\n`);
        if (merchant.mode === 'sandbox') io.out('sandbox merchants use the built-in sandbox channel; they have no live channel credentials\n');
        else if (channels.length === 0) io.out(`no live channels configured; add one with \`dtpay channel set ${mercNo} alipay|wxpay|unionpay …\`\n`);
        for (const c of channels) io.out(`\n${renderEntry(c)}`);
        return 0;
      });
    }

    case 'remove': {
      if (positionals.length !== 2) throw new CliError(usageOf('channel remove'));
      if (Object.keys(flags).some((f) => f !== 'json' && flags[f] !== undefined)) {
        throw new CliError(usageOf('channel remove'));
      }
      const [mercNo, payway] = positionals as [string, string];
      if (!isLivePayway(payway)) throw new CliError(`channel remove: the payway must be one of ${LIVE_PAYWAYS.join(', ')}`);
      return withDatabase(config, 'channel remove', async (d) => {
        if (!(await d.storage.reads.merchant(mercNo))) throw await notFound(d, config, `no merchant ${mercNo}`);
        const removed = await d.storage.writer.run('removeChannelCredentials', { mercNo, payway });
        if (!removed) throw new CliError(`${mercNo} has no ${payway} credentials`, 1);
        if (json) printJson(io, { mercNo, payway, removed: true });
        else io.out(`removed the ${payway} credentials of ${mercNo}; its ${payway} orders can no longer be created\n`);
        return 0;
      });
    }

    default:
      throw new CliError(`channel: expected ${subcommandsOf('channel')}`);
  }
}

/** Alipay takes one of two modes: a certificate flag given asks for all three, instead of the public key. */
function requiredFlags(payway: LivePayway, flags: Record<string, unknown>): readonly string[] {
  if (payway !== 'alipay') return REQUIRED[payway];
  const certMode = ['app-cert-file', 'alipay-cert-file', 'alipay-root-cert-file'];
  if (!certMode.some((f) => flags[f] !== undefined)) return REQUIRED.alipay;
  if (flags['alipay-public-key-file'] !== undefined) {
    throw new CliError(
      'channel set alipay: give either --alipay-public-key-file (public-key mode) or --app-cert-file, --alipay-cert-file and ' +
        `--alipay-root-cert-file (certificate mode), not both\n${USAGE_SET}`,
    );
  }
  return ['app-id', 'private-key-file', ...certMode];
}

const sealedOf = (row: ChannelCredentialRow) => ({ keyId: row.key_id, iv: row.iv, tag: row.tag, ciphertext: row.ciphertext });

/** Reads a file named by a flag; the error names the flag and the path, never the contents. */
function readFlagFile(flags: Record<string, unknown>, flag: string): Buffer | undefined {
  const path = flags[flag];
  if (typeof path !== 'string') return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code ?? 'unreadable';
    throw new CliError(`--${flag}: cannot read ${path}: ${why}`, 1);
  }
}

function buildCredentials<P extends LivePayway>(payway: P, flags: Record<string, string | boolean | undefined>): CredentialsByPayway[P] {
  const s = (f: string) => (typeof flags[f] === 'string' ? (flags[f] as string) : undefined);
  try {
    switch (payway) {
      case 'alipay':
        return buildAlipayCredentials({
          appId: s('app-id'),
          privateKey: readFlagFile(flags, 'private-key-file'),
          alipayPublicKey: readFlagFile(flags, 'alipay-public-key-file'),
          appCert: readFlagFile(flags, 'app-cert-file'),
          alipayCert: readFlagFile(flags, 'alipay-cert-file'),
          alipayRootCert: readFlagFile(flags, 'alipay-root-cert-file'),
          gatewayUrl: s('gateway-url'),
        }) as CredentialsByPayway[P];
      case 'wxpay':
        return buildWxpayCredentials({
          mchid: s('mchid'),
          appid: s('appid'),
          serialNo: s('serial-no'),
          privateKey: readFlagFile(flags, 'private-key-file'),
          apiv3Key: s('apiv3-key'),
          platformCert: readFlagFile(flags, 'platform-cert-file'),
          wechatpayPublicKey: readFlagFile(flags, 'wechatpay-public-key-file'),
          wechatpayPublicKeyId: s('wechatpay-public-key-id'),
          baseUrl: s('base-url'),
          transferSceneId: s('transfer-scene-id'),
          transferSceneReport: readFlagFile(flags, 'transfer-scene-report-file'),
          userRecvPerception: s('user-recv-perception'),
          withdrawSceneId: s('withdraw-scene-id'),
          withdrawSceneReport: readFlagFile(flags, 'withdraw-scene-report-file'),
          withdrawRecvPerception: s('withdraw-recv-perception'),
        }) as CredentialsByPayway[P];
      default:
        return buildUnionpayCredentials({
          merId: s('mer-id'),
          signCertPfx: readFlagFile(flags, 'sign-cert-file'),
          signCertPassword: s('sign-cert-password'),
          rootCert: readFlagFile(flags, 'root-cert-file'),
          middleCert: readFlagFile(flags, 'middle-cert-file'),
          encryptCert: readFlagFile(flags, 'encrypt-cert-file'),
          baseUrl: s('base-url'),
        }) as CredentialsByPayway[P];
    }
  } catch (err) {
    if (err instanceof CredentialInputError) throw new CliError(`channel set ${payway}: ${err.message}`, 1);
    throw err;
  }
}

type Entry = CredentialSummary & { callbackUrl: string; createdAt: string; updatedAt: string };

function describeRow(config: Config, row: ChannelCredentialRow, credentials: CredentialsByPayway[LivePayway]): Entry {
  return {
    ...summarizeCredentials(row.payway, credentials),
    callbackUrl: channelCallbackUrl(config.PUBLIC_BASE_URL, row.payway, row.merc_no),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

function expiryWarnings(e: Entry): string[] {
  const certs: [string, CertSummary | undefined][] =
    e.payway === 'wxpay'
      ? [['the platform certificate', e.platformCert]]
      : e.payway === 'unionpay'
        ? [['the signing certificate', e.signCert], ['the root certificate', e.rootCert], ['the middle certificate', e.middleCert], ['the encryption certificate', e.encryptCert]]
        : [
            ['the application certificate', e.appCert],
            ['the Alipay certificate', e.alipayCert],
            ...(e.alipayCertChain ?? []).map((c): [string, CertSummary] => ['the Alipay intermediate certificate', c]),
            ...(e.alipayRootCerts ?? []).map((c): [string, CertSummary] => ['an Alipay root certificate', c]),
          ];
  return certs.flatMap(([name, c]) => (c?.expired ? [`${name} expired on ${beijing(c.validTo)}`] : []));
}

/** The text shows times as the API does (Beijing time); --json keeps ISO 8601 UTC. */
const beijing = (isoTime: string) => formatBeijing(Date.parse(isoTime));

const key = (k: KeySummary) => `${k.type}${k.bits ? ` ${k.bits}` : ''}, public key sha256 ${k.sha256}`;
const cert = (c: CertSummary) =>
  `${c.subject}; serial ${c.serialNumber}; valid ${beijing(c.validFrom)} to ${beijing(c.validTo)}${c.expired ? ' (EXPIRED)' : ''}; sha256 ${c.sha256}`;

/** A transfer scene on one line: its id, what the payee sees, and its report items. */
const scene = (s: WxTransferScene) =>
  `${s.sceneId}${s.userRecvPerception ? `, payee sees ${JSON.stringify(s.userRecvPerception)}` : ''}` +
  `${s.reportInfos.length > 0 ? `; report ${s.reportInfos.map((r) => `${r.info_type}=${r.info_content}`).join(', ')}` : '; no report items'}`;

function renderEntry(e: Entry): string {
  const lines: [string, string][] = [];
  switch (e.payway) {
    case 'alipay':
      lines.push(
        ['app id', e.appId],
        ['gateway URL', e.gatewayUrl],
        ['private key', `${e.privateKey.secret} (${key(e.privateKey)})`],
        ['mode', e.mode === 'cert' ? 'certificate (公钥证书)' : 'public key'],
        ['Alipay public key', key(e.alipayPublicKey)],
      );
      if (e.appCert) lines.push(['app cert', `${cert(e.appCert)}; app_cert_sn ${e.appCert.sn}`]);
      if (e.alipayCert) lines.push(['Alipay cert', `${cert(e.alipayCert)}; alipay_cert_sn ${e.alipayCert.sn}`]);
      for (const c of e.alipayCertChain ?? []) lines.push(['Alipay intermediate', cert(c)]);
      for (const c of e.alipayRootCerts ?? []) lines.push(['Alipay root cert', cert(c)]);
      if (e.alipayRootCertSn) lines.push(['root cert SN', e.alipayRootCertSn]);
      break;
    case 'wxpay':
      lines.push(
        ['mchid', e.mchid],
        ['appid', e.appid],
        ['serial no', e.serialNo],
        ['base URL', e.baseUrl],
        ['private key', `${e.privateKey.secret} (${key(e.privateKey)})`],
        ['APIv3 key', e.apiv3Key],
      );
      if (e.platformCert) lines.push(['platform cert', cert(e.platformCert)]);
      if (e.wechatpayPublicKey) lines.push(['WeChat Pay key', `${e.wechatpayPublicKey.id}: ${key(e.wechatpayPublicKey)}`]);
      lines.push(['transfer scene', e.transferScene ? scene(e.transferScene) : 'none (no payouts)']);
      lines.push(['withdraw scene', e.withdrawScene ? scene(e.withdrawScene) : e.transferScene ? 'the transfer scene' : 'none (no payouts)']);
      break;
    case 'unionpay':
      lines.push(
        ['merId', e.merId],
        ['certId', e.certId],
        ['base URL', e.baseUrl],
        ['signing key', `${e.signKey.secret} (${key(e.signKey)})`],
        ['signing cert', cert(e.signCert)],
        ['root cert', cert(e.rootCert)],
        ['middle cert', cert(e.middleCert)],
        ['encryption cert', e.encryptCert ? `encryptCertId ${e.encryptCert.encryptCertId}; ${cert(e.encryptCert)}` : 'none (no payouts)'],
      );
      break;
  }
  lines.push(['updated', beijing(e.updatedAt)]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  return (
    `${e.payway}\n` +
    lines.map(([k, v]) => `  ${k.padEnd(width)}${v}\n`).join('') +
    `  callback URL (register it with ${CHANNEL_NAMES[e.payway]}): ${e.callbackUrl}\n`
  );
}
