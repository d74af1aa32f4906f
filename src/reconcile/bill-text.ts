import { gunzipSync, inflateSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import iconv from 'iconv-lite';
import { BillError } from './bill.js';

// The small readers every bill parser shares: archives (zip, gzip, zlib) with a size limit, GBK
// text, signed decimal amounts, Beijing wall-clock times. Pure: bytes in, values out, BillError
// for anything that cannot be read.

/**
 * No day's trade bill of a self-hosted merchant comes near this; a larger archive is refused
 * rather than inflated (a zip bomb, or the wrong file).
 */
export const MAX_BILL_BYTES = 64 * 1024 * 1024;

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * The files of a zip whose (decoded) names `want` accepts, by name. Names without the zip's UTF-8
 * flag are GBK, as the channels' (Windows-made) archives write them.
 */
export function unzipFiles(zip: Uint8Array, want: (name: string) => boolean, what: string): Map<string, Uint8Array> {
  const names: string[] = [];
  let raw: Record<string, Uint8Array>;
  try {
    raw = unzipSync(zip, {
      filter: (f) => {
        const name = zipEntryName(f.name);
        names.push(name);
        if (!want(name)) return false;
        if (f.originalSize > MAX_BILL_BYTES) {
          throw new BillError('archive', `${what}: ${name} would inflate to ${f.originalSize} bytes, more than ${MAX_BILL_BYTES}`);
        }
        return true;
      },
    });
  } catch (e) {
    if (e instanceof BillError) throw e;
    throw new BillError('archive', `${what}: not a readable zip archive (${message(e)})`);
  }
  const out = new Map<string, Uint8Array>();
  for (const [name, data] of Object.entries(raw)) out.set(zipEntryName(name), data);
  if (out.size === 0) {
    throw new BillError('archive', `${what}: the archive holds ${names.length ? names.join(', ') : 'no files'}, not the file expected`);
  }
  return out;
}

/**
 * fflate hands a name without the UTF-8 flag over as Latin-1, one character per byte; such a name
 * is GBK bytes. A name that has characters above U+00FF was flagged UTF-8 and is already right.
 */
function zipEntryName(name: string): string {
  if (!/[^\x00-\x7f]/.test(name) || /[^\x00-\xff]/.test(name)) return name;
  return iconv.decode(Buffer.from(name, 'latin1'), 'gbk');
}

export function gunzipBill(bytes: Uint8Array, what: string): Uint8Array {
  try {
    return gunzipSync(bytes, { maxOutputLength: MAX_BILL_BYTES });
  } catch (e) {
    throw new BillError('archive', `${what}: not a readable gzip stream (${message(e)})`);
  }
}

/** zlib (RFC 1950) data, as Java's Inflater reads it: UnionPay's fileContent. */
export function inflateBill(bytes: Uint8Array, what: string): Uint8Array {
  try {
    return inflateSync(bytes, { maxOutputLength: MAX_BILL_BYTES });
  } catch (e) {
    throw new BillError('archive', `${what}: not readable zlib data (${message(e)})`);
  }
}

/** GBK text (a UTF-8 BOM, should a channel ever switch, is honoured); bytes that are not GBK are an error. */
export function decodeGbk(bytes: Uint8Array, what: string): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return decodeUtf8(bytes, what);
  const text = iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), 'gbk');
  if (text.includes('\ufffd')) throw new BillError('layout', `${what}: not GBK text`);
  return text;
}

/** UTF-8 text, BOM dropped; malformed UTF-8 is an error, not a replacement character. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new BillError('layout', `${what}: not UTF-8 text`);
  }
}

/** Lines of a text file, either line ending, without a last empty line. */
export function textLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/**
 * One CSV record: comma-separated, a field may be double-quoted (with "" inside). Undefined when a
 * quote is left open.
 */
export function splitCsv(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) return undefined;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            v += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += line[i++];
      }
      out.push(v);
      if (i === line.length) return out;
      if (line[i] !== ',') return undefined;
      i++;
    } else {
      const comma = line.indexOf(',', i);
      if (comma < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, comma));
      i = comma + 1;
    }
  }
}

/**
 * A signed decimal with at most `scale` decimals, as an integer count of 10^-scale units:
 * `decimalUnits('-0.07', 2)` is -7n. Undefined for anything else (no exponents, no spaces, no
 * thousands separators).
 */
export function decimalUnits(text: string, scale: number): bigint | undefined {
  const m = /^(-?)(\d{1,18})(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const frac = m[3] ?? '';
  if (frac.length > scale) return undefined;
  const units = BigInt(m[2]!) * 10n ** BigInt(scale) + BigInt(frac.padEnd(scale, '0') || '0');
  return m[1] === '-' ? -units : units;
}

/** Units of 10^-scale yuan as fen, rounded half away from zero (WeChat prints fees to five decimals). */
export function unitsToFen(units: bigint, scale: number): bigint {
  if (scale <= 2) return units * 10n ** BigInt(2 - scale);
  const div = 10n ** BigInt(scale - 2);
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const fen = (abs + div / 2n) / div;
  return neg ? -fen : fen;
}

/** `yyyy-MM-dd HH:mm:ss` Beijing wall-clock time as epoch ms; undefined if it is not a real time. */
export function beijingDateTime(text: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  return beijingParts(m.slice(1).map(Number) as [number, number, number, number, number, number]);
}

/** Beijing wall-clock parts as epoch ms; undefined if they do not name a real time (no 02-30, no 24:00). */
export function beijingParts([y, mo, d, h, mi, s]: [number, number, number, number, number, number]): number | undefined {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return undefined;
  const utc = Date.UTC(y, mo - 1, d, h, mi, s);
  if (new Date(utc).getUTCDate() !== d) return undefined;
  return utc - 8 * 3600_000;
}

/** A field without the tab Alipay appends to long ids (so spreadsheets keep them as text) or padding. */
export const cell = (s: string | undefined) => (s ?? '').trim();

/** Signed units of 10^-scale yuan as text with `scale` decimals: `signedYuan(-7n)` is `-0.07`. */
export function signedYuan(units: bigint, scale = 2): string {
  const neg = units < 0n;
  const s = (neg ? -units : units).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, -scale)}.${s.slice(-scale)}`;
}
