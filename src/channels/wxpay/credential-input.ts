import { createPublicKey } from 'node:crypto';
import type { WxpayCredentials } from '../credentials.js';
import { CHANNEL_DEFAULT_URLS } from '../credentials.js';
import {
  CredentialInputError,
  baseUrl,
  certificate,
  identifier,
  pkcs8Pem,
  privateKey,
  publicKey,
  requireRsa,
  samePublic,
  spkiPem,
} from '../credential-input.js';
import { buildTransferSettings, type WxTransferSettingsInput } from './transfer-settings.js';

export interface WxpayInput extends WxTransferSettingsInput {
  mchid?: string;
  appid?: string;
  serialNo?: string;
  privateKey?: string | Buffer;
  apiv3Key?: string;
  platformCert?: string | Buffer;
  wechatpayPublicKey?: string | Buffer;
  wechatpayPublicKeyId?: string;
  baseUrl?: string;
}

export function buildWxpayCredentials(input: WxpayInput): WxpayCredentials {
  const mchid = identifier('--mchid', input.mchid, 'the merchant id (mchid)');
  const appid = identifier('--appid', input.appid, 'the appid');
  const serial = input.serialNo?.trim() ?? '';
  if (!/^[0-9A-Fa-f]{1,64}$/.test(serial)) {
    throw new CredentialInputError('--serial-no', 'must be the merchant API certificate serial number in hex');
  }
  const key = privateKey('--private-key-file', input.privateKey);
  const apiv3Key = input.apiv3Key ?? '';
  const apiv3Bytes = Buffer.byteLength(apiv3Key, 'utf8');
  if (apiv3Bytes !== 32) {
    throw new CredentialInputError('--apiv3-key', `must be exactly 32 bytes (the APIv3 key set in the merchant platform); got ${apiv3Bytes}`);
  }
  if (!/^[\x21-\x7e]{32}$/.test(apiv3Key)) {
    throw new CredentialInputError('--apiv3-key', 'must be 32 printable ASCII characters (the APIv3 key set in the merchant platform)');
  }
  const hasCert = input.platformCert !== undefined;
  const hasPub = input.wechatpayPublicKey !== undefined || input.wechatpayPublicKeyId !== undefined;
  if (hasCert && hasPub) {
    throw new CredentialInputError(
      '--platform-cert-file',
      'give either --platform-cert-file or --wechatpay-public-key-file with --wechatpay-public-key-id, not both',
    );
  }
  if (!hasCert && !hasPub) {
    throw new CredentialInputError(
      '--platform-cert-file',
      'one is required: --platform-cert-file, or --wechatpay-public-key-file with --wechatpay-public-key-id',
    );
  }
  const out: WxpayCredentials = {
    mchid,
    appid,
    serialNo: serial.toUpperCase(),
    privateKeyPem: pkcs8Pem(key),
    apiv3Key,
    baseUrl: baseUrl('--base-url', input.baseUrl, CHANNEL_DEFAULT_URLS.wxpay),
    ...buildTransferSettings(input),
  };
  const own = createPublicKey(key);
  if (hasCert) {
    const cert = certificate('--platform-cert-file', input.platformCert);
    requireRsa('--platform-cert-file', cert.publicKey, 'certificate key');
    if (samePublic(cert.publicKey, own)) {
      throw new CredentialInputError('--platform-cert-file', "this is your own merchant certificate; give WeChat Pay's platform certificate");
    }
    out.platformCertPem = cert.toString();
  } else {
    if (input.wechatpayPublicKey === undefined) {
      throw new CredentialInputError('--wechatpay-public-key-file', 'is required with --wechatpay-public-key-id');
    }
    const pub = publicKey('--wechatpay-public-key-file', input.wechatpayPublicKey);
    if (samePublic(pub, own)) {
      throw new CredentialInputError('--wechatpay-public-key-file', "this is the public half of --private-key-file; give WeChat Pay's public key");
    }
    const id = input.wechatpayPublicKeyId?.trim() ?? '';
    if (!/^PUB_KEY_ID_[0-9A-Za-z_]{1,64}$/.test(id)) {
      throw new CredentialInputError('--wechatpay-public-key-id', 'must be the public key id shown with the key, PUB_KEY_ID_…');
    }
    out.wechatpayPublicKeyPem = spkiPem(pub);
    out.wechatpayPublicKeyId = id;
  }
  return out;
}
