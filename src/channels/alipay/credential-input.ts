import { createPublicKey } from 'node:crypto';
import type { AlipayCredentials } from '../credentials.js';
import { CHANNEL_DEFAULT_URLS } from '../credentials.js';
import { CredentialInputError, baseUrl, identifier, pkcs8Pem, privateKey, publicKey, samePublic, spkiPem } from '../credential-input.js';

export interface AlipayInput {
  appId?: string;
  privateKey?: string | Buffer;
  alipayPublicKey?: string | Buffer;
  gatewayUrl?: string;
}

export function buildAlipayCredentials(input: AlipayInput): AlipayCredentials {
  const appId = identifier('--app-id', input.appId, 'the Alipay application id');
  const key = privateKey('--private-key-file', input.privateKey);
  const alipayKey = publicKey('--alipay-public-key-file', input.alipayPublicKey);
  if (samePublic(createPublicKey(key), alipayKey)) {
    throw new CredentialInputError(
      '--alipay-public-key-file',
      "this is your application's own public key (the public half of --private-key-file); give the Alipay public key from the Alipay console",
    );
  }
  return {
    appId,
    privateKeyPem: pkcs8Pem(key),
    alipayPublicKeyPem: spkiPem(alipayKey),
    gatewayUrl: baseUrl('--gateway-url', input.gatewayUrl, CHANNEL_DEFAULT_URLS.alipay),
  };
}
