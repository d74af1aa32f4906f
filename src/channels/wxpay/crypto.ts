// The `resource` of a WeChat Pay v3 notification: AEAD_AES_256_GCM with the APIv3 key, the
// resource's `nonce` (12 ASCII bytes) as IV and `associated_data` as AAD; `ciphertext` is
// base64(encrypted ‖ 16-byte tag). A failed tag check means the resource was not written by
// someone holding our APIv3 key, so it throws rather than returning anything.

import { createDecipheriv } from 'node:crypto';
import type { WxResource } from './wire.js';

const TAG_BYTES = 16;

export class ResourceDecryptError extends Error {
  override name = 'ResourceDecryptError';
}

export function decryptResource(resource: WxResource, apiv3Key: string): string {
  if (resource.algorithm !== 'AEAD_AES_256_GCM') throw new ResourceDecryptError(`unsupported algorithm ${String(resource.algorithm)}`);
  const key = Buffer.from(apiv3Key, 'utf8');
  if (key.length !== 32) throw new ResourceDecryptError('the APIv3 key must be 32 bytes');
  const { ciphertext, nonce } = resource;
  const aad = resource.associated_data ?? '';
  if (typeof ciphertext !== 'string' || typeof nonce !== 'string' || typeof aad !== 'string' || nonce.length === 0) {
    throw new ResourceDecryptError('resource lacks ciphertext or nonce');
  }
  const data = Buffer.from(ciphertext, 'base64');
  if (data.length <= TAG_BYTES) throw new ResourceDecryptError('ciphertext too short');
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'utf8'), { authTagLength: TAG_BYTES });
    d.setAuthTag(data.subarray(data.length - TAG_BYTES));
    d.setAAD(Buffer.from(aad, 'utf8'));
    return Buffer.concat([d.update(data.subarray(0, data.length - TAG_BYTES)), d.final()]).toString('utf8');
  } catch {
    throw new ResourceDecryptError('resource does not decrypt with the APIv3 key');
  }
}
