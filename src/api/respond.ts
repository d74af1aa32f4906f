import type { FastifyReply } from 'fastify';
import { httpStatusOf, type RespCode } from '../errors.js';
import { signed, type SignType } from '../domain/sign.js';
import type { MerchantRow } from '../db/rows.js';

/** Who the answer is for, once known: responses to an identified merchant are signed. */
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

/** Builds the JSON body of a merchant API answer: envelope, fields (empty ones left out), signature. */
export function envelopeBody(e: Envelope, signer: Signer | undefined): Record<string, string> {
  const body: Record<string, string> = { respCode: e.respCode, respDesc: e.respDesc, interfaceCode: e.interfaceCode };
  for (const [k, v] of Object.entries(e.fields ?? {})) if (v !== undefined && v !== '') body[k] = v;
  if (!signer) return body;
  body.mercNo = signer.merchant.merc_no;
  return signed(body, signer.merchant.key, signer.signType);
}

export function sendEnvelope(reply: FastifyReply, e: Envelope, signer: Signer | undefined): FastifyReply {
  return reply
    .code(e.status ?? httpStatusOf(e.respCode))
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(envelopeBody(e, signer)));
}
