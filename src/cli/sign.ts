import { parseArgs } from 'node:util';
import { isSignType, sign } from '../domain/sign.js';
import { CliError, type Io } from './io.js';

/** Reads a JSON object of string fields on stdin and prints it with `signature` added (CONTRACT §2.1). */
export async function runSign(args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({ args, options: { key: { type: 'string' }, 'sign-type': { type: 'string' } } });
  if (!values.key) throw new CliError('sign: --key KEY is required');
  const text = await io.stdin();
  let fields: unknown;
  try {
    fields = JSON.parse(text);
  } catch (err) {
    throw new CliError(`sign: stdin is not JSON: ${(err as Error).message}`);
  }
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw new CliError('sign: stdin must be a JSON object');
  const obj = { ...(fields as Record<string, unknown>) };
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== 'string') throw new CliError(`sign: field ${k} must be a string (every field of the API is)`);
  }
  const requested = values['sign-type'];
  if (requested !== undefined && !isSignType(requested)) throw new CliError('sign: --sign-type must be MD5 or HMAC-SHA256');
  if (requested) obj.signType = requested;
  const signType = isSignType(obj.signType) ? obj.signType : 'MD5';
  if (obj.signType !== undefined && obj.signType !== '' && !isSignType(obj.signType)) {
    throw new CliError('sign: signType must be MD5 or HMAC-SHA256');
  }
  delete obj.signature;
  const strings = obj as Record<string, string>;
  io.out(`${JSON.stringify({ ...strings, signature: sign(strings, values.key, signType) })}\n`);
  return 0;
}
