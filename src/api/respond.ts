import type { FastifyReply } from 'fastify';
import { httpStatusOf, type RespCode } from '../errors.js';
import { signed, type SignType } from '../domain/sign.js';
import type { MerchantRow } from '../db/rows.js';

/** Who the answer is for, once the request's signature verified: only then is an answer signed. */
export interface Signer {
  merchant: MerchantRow;
  signType: SignType;
}

export interface Envelope {
  interfaceCode: string;
  respCode: RespCode;
  respDesc: string;
  fields?: Record<string, string>;
  status?: number;
}

// The signed string joins name=value pairs with '&' (CONTRACT §2.1). Whatever a description says,
// it must not be able to pose as more fields of a signed answer: callerText() keeps what callers
// chose out of descriptions already, and this is the last guard of the one free-text field.
const SEPARATORS = /[&=]/g;
const guarded = (desc: string) => desc.replace(SEPARATORS, (c) => (c === '&' ? '%26' : '%3D'));

/** Builds the JSON body of a merchant API answer: envelope, fields (empty ones left out), signature. */
export function envelopeBody(e: Envelope, signer: Signer | undefined): Record<string, string> {
  const body: Record<string, string> = { respCode: e.respCode, respDesc: e.respDesc, interfaceCode: e.interfaceCode };
  for (const [k, v] of Object.entries(e.fields ?? {})) if (v !== undefined && v !== '') body[k] = v;
  if (!signer) return body;
  body.respDesc = guarded(body.respDesc!);
  body.mercNo = signer.merchant.merc_no;
  return signed(body, signer.merchant.key, signer.signType);
}

export function sendEnvelope(reply: FastifyReply, e: Envelope, signer: Signer | undefined): FastifyReply {
  return reply
    .code(e.status ?? httpStatusOf(e.respCode))
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(envelopeBody(e, signer)));
}
