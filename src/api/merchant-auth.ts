import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ApiError, RESP, invalid } from '../errors.js';
import { isSignType, verify, type SignType } from '../domain/sign.js';
import type { StoragePort } from '../db/port.js';
import type { Signer } from './respond.js';
import { callerText } from '../domain/caller-text.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set once the request's signature verified, and only then: an answer is signed for the
     * merchant who proved to hold the key, never for one a stranger merely names.
     */
    signer?: Signer;
    /** The request's fields once every one is known to be a string and the signature verified. */
    fields?: Record<string, string>;
  }
  interface FastifyContextConfig {
    interfaceCode?: string;
  }
}

// Text only: no C0 or C1 control characters (U+0000–U+001F, U+007F–U+009F) and no bidirectional
// embeddings, overrides or isolates (U+202A–U+202E, U+2066–U+2069), which would let a subject
// reorder what the cashier page shows around it. Broken Unicode is refused apart (isWellFormed).
const WELL_FORMED = /^[^\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]*$/u;

/**
 * Identifies the merchant and checks the signature: shape → merchant (unknown: 100003) → string
 * fields → signature (100002). Until the signature verifies, every answer is unsigned. After it:
 * a disabled merchant (100003) and an unknown signType (100001), signed.
 */
export async function authenticate(request: FastifyRequest, reads: Pick<StoragePort['reads'], 'merchant'>): Promise<void> {
  const body = request.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid('body: must be a JSON object (or a form) of string fields');
  }
  const input = body as Record<string, unknown>;
  const mercNo = input.mercNo;
  if (mercNo === undefined || mercNo === '') throw invalid('mercNo: is required');
  if (typeof mercNo !== 'string') throw invalid('mercNo: must be a string');
  const merchant = mercNo.length <= 32 ? await reads.merchant(mercNo) : undefined;
  if (!merchant) throw new ApiError(RESP.MERCHANT_REFUSED, `mercNo: unknown merchant ${callerText(mercNo, 32)}`);

  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(input)) {
    if (typeof value !== 'string') throw invalid(`${callerText(name)}: must be a string`);
    if (!value.isWellFormed() || !WELL_FORMED.test(value)) {
      throw invalid(`${callerText(name)}: must be text without control characters, bidirectional overrides or broken Unicode`);
    }
    // A field named __proto__ stays a field (and is rejected as unknown): assigned, it would set the
    // prototype. Every other name is assigned, which keeps the object's fast shape: an object
    // built by defineProperty reads several times slower in each step after this one.
    if (name === '__proto__') Object.defineProperty(fields, name, { value, enumerable: true, writable: true, configurable: true });
    else fields[name] = value;
  }
  if (!fields.signature) throw invalid('signature: is required');
  // A signType we do not know is checked as MD5, the default: if that verifies, the merchant is
  // proven and told (signed) what is wrong with it.
  const known = fields.signType === undefined || fields.signType === '' || isSignType(fields.signType);
  const signType: SignType = isSignType(fields.signType) ? fields.signType : 'MD5';
  if (!verify(fields, merchant.key, signType, fields.signature)) {
    if (!known) throw invalid('signType: must be one of MD5, HMAC-SHA256');
    throw new ApiError(RESP.BAD_SIGNATURE, `signature: does not verify (${signType} over the sorted non-empty fields and &key=)`);
  }
  request.signer = { merchant, signType };
  if (merchant.status !== 'active') throw new ApiError(RESP.MERCHANT_REFUSED, `mercNo: merchant ${merchant.merc_no} is disabled`);
  if (!known) throw invalid('signType: must be one of MD5, HMAC-SHA256');
  request.fields = fields;
}

/** Counts a request against its merchant's budget once the signature verified; throws 100008 beyond it. */
export type AdmitMerchant = (request: FastifyRequest, reply: FastifyReply) => void;

/**
 * Every merchant API route (one with an interfaceCode) authenticates before its handler runs, so
 * no interface can forget to; a request that proved its merchant then counts against that
 * merchant's rate limit, whatever else is wrong with it. Call before the routes are added.
 */
export function installMerchantAuth(app: FastifyInstance, reads: Pick<StoragePort['reads'], 'merchant'>, admit?: AdmitMerchant): void {
  const check = async (request: FastifyRequest, reply: FastifyReply) => {
    let refused: unknown;
    try {
      await authenticate(request, reads);
    } catch (err) {
      refused = err;
    }
    if (request.signer) admit?.(request, reply);
    if (refused) throw refused;
  };
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.config?.interfaceCode) return;
    const existing = route.preHandler;
    route.preHandler = existing === undefined ? [check] : Array.isArray(existing) ? [check, ...existing] : [check, existing];
  });
}
