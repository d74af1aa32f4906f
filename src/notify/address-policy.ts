import { isIP } from 'node:net';

export type AddressClass =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'metadata'
  | 'unspecified'
  | 'multicast'
  | 'reserved'
  | 'public';

export interface CheckOptions {
  mode: 'sandbox' | 'live';
  /** Operator setting: live merchants may reach loopback and private addresses. */
  allowPrivate: boolean;
  /** Host names or IP literals whose loopback/private addresses live merchants may reach. */
  allowHosts?: string[];
  /** Returns every address of a DNS name (in production: dns.promises.lookup with all:true). */
  resolve: (host: string) => Promise<string[]>;
}

export type CheckResult =
  | { ok: true; address: string; family: 4 | 6; host: string; port: number }
  | { ok: false; reason: string };

// No operator setting and no allow-list lifts these: they reach the machine's own cloud
// credentials, the local link, or nothing meaningful.
const NEVER: ReadonlySet<AddressClass> = new Set(['link-local', 'metadata', 'unspecified', 'multicast', 'reserved']);

interface Range {
  base: number[];
  bits: number;
  cls: AddressClass;
}

function v4(cidr: string, cls: AddressClass): Range {
  const [addr, bits] = cidr.split('/') as [string, string];
  return { base: addr.split('.').map(Number), bits: Number(bits), cls };
}

function v6(cidr: string, cls: AddressClass): Range {
  const [addr, bits] = cidr.split('/') as [string, string];
  return { base: ipv6Bytes(addr), bits: Number(bits), cls };
}

// Most specific ranges first: the first match wins.
const V4_RANGES: Range[] = [
  // Cloud metadata services. Alibaba Cloud's sits inside 100.64/10, which would otherwise only
  // count as private and so be reachable from sandbox merchants.
  v4('169.254.169.254/32', 'metadata'), // AWS, GCP, Azure, OpenStack, Huawei, ...
  v4('169.254.170.2/32', 'metadata'), // AWS ECS task credentials
  v4('100.100.100.200/32', 'metadata'), // Alibaba Cloud
  v4('192.0.0.192/32', 'metadata'), // Oracle Cloud
  v4('0.0.0.0/8', 'unspecified'), // Linux connects 0.0.0.0 to the local host
  v4('10.0.0.0/8', 'private'),
  v4('100.64.0.0/10', 'private'), // carrier-grade NAT: not reachable from the internet
  v4('127.0.0.0/8', 'loopback'),
  v4('169.254.0.0/16', 'link-local'),
  v4('172.16.0.0/12', 'private'),
  v4('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  v4('192.0.2.0/24', 'reserved'), // TEST-NET-1, documentation only
  v4('192.88.99.0/24', 'reserved'), // deprecated 6to4 relay anycast
  v4('192.168.0.0/16', 'private'),
  // Benchmarking range, but also what fake-IP DNS proxies hand out; as private it stays
  // usable by an operator who opts in, instead of being blocked outright.
  v4('198.18.0.0/15', 'private'),
  v4('198.51.100.0/24', 'reserved'), // TEST-NET-2
  v4('203.0.113.0/24', 'reserved'), // TEST-NET-3
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'), // includes 255.255.255.255 (broadcast)
];

// Checked before looking for an embedded IPv4 address, which :: and ::1 would otherwise match.
const V6_EXACT: Range[] = [
  v6('fd00:ec2::254/128', 'metadata'), // AWS
  v6('fd20:ce::254/128', 'metadata'), // GCP
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
];

const V6_RANGES: Range[] = [
  v6('100::/64', 'reserved'), // discard-only
  v6('2001::/23', 'reserved'), // IETF protocol assignments, Teredo (hides its IPv4 target)
  v6('2001:db8::/32', 'reserved'), // documentation
  v6('3fff::/20', 'reserved'), // documentation
  v6('fc00::/7', 'private'), // unique local
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'private'), // deprecated site-local
  v6('ff00::/8', 'multicast'),
  // Only 2000::/3 is allocated for global unicast; anything else outside the ranges above is
  // unassigned and has no business being a merchant's server.
  v6('2000::/3', 'public'),
];

function inRange(bytes: number[], r: Range): boolean {
  if (bytes.length !== r.base.length) return false;
  let left = r.bits;
  for (let i = 0; left > 0; i++, left -= 8) {
    const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if (((bytes[i] ?? 0) & mask) !== ((r.base[i] ?? 0) & mask)) return false;
  }
  return true;
}

function ipv4Bytes(s: string): number[] {
  return s.split('.').map(Number);
}

/** 16 bytes of a valid IPv6 address (zone id removed; the caller validates with isIP). */
function ipv6Bytes(s: string): number[] {
  const addr = s.split('%')[0] ?? '';
  let groups: number[] = [];
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        const [a, b, c, d] = ipv4Bytes(g) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const gap = addr.indexOf('::');
  if (gap >= 0) {
    const head = toGroups(addr.slice(0, gap));
    const tail = toGroups(addr.slice(gap + 2));
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    groups = toGroups(addr);
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/**
 * The IPv4 address an IPv6 address stands for, when a packet to it would (on this host, or via a
 * translator) end up at that IPv4 address. Classifying those by the IPv4 part stops
 * `::ffff:169.254.169.254` and friends from passing as harmless IPv6.
 */
function embeddedIPv4(b: number[]): number[] | undefined {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const last4 = b.slice(12, 16);
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return last4; // ::ffff:0:0/96 mapped
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return last4; // ::ffff:0:0:0/96 SIIT
  if (zero(0, 12)) return last4; // ::/96 IPv4-compatible (:: and ::1 are matched before this)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) {
    if (zero(4, 12)) return last4; // 64:ff9b::/96 well-known NAT64
    if (b[4] === 0x00 && b[5] === 0x01) {
      // 64:ff9b:1::/48 local-use NAT64: RFC 6052 puts the IPv4 around the reserved byte 8.
      return [b[6] ?? 0, b[7] ?? 0, b[9] ?? 0, b[10] ?? 0];
    }
  }
  if (b[0] === 0x20 && b[1] === 0x02) return b.slice(2, 6); // 2002::/16 6to4
  return undefined;
}

function classifyV4(bytes: number[]): AddressClass {
  return V4_RANGES.find((r) => inRange(bytes, r))?.cls ?? 'public';
}

/** Class of a literal IPv4 or IPv6 address; throws on anything that is not one. */
export function classifyAddress(ip: string): AddressClass {
  const family = isIP(ip);
  if (family === 4) return classifyV4(ipv4Bytes(ip));
  if (family !== 6) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
  const bytes = ipv6Bytes(ip);
  const exact = V6_EXACT.find((r) => inRange(bytes, r));
  if (exact) return exact.cls;
  const inner = embeddedIPv4(bytes);
  if (inner) return classifyV4(inner);
  return V6_RANGES.find((r) => inRange(bytes, r))?.cls ?? 'reserved';
}

/**
 * The canonical address for an IP-literal URL host, parsed exactly as a WHATWG URL parser (and so
 * any HTTP client built on one) would: shorthand, hex, octal and decimal IPv4, percent-encoding,
 * full-width digits, bracketed IPv6 in any spelling. IPv4 comes out dotted-decimal; IPv6 without
 * brackets in RFC 5952 form. Undefined for a DNS name or anything that is not a bare host.
 */
export function parseHostLiteral(host: string): string | undefined {
  // A bare IPv6 address is not a valid URL host; accept it for callers holding one.
  const input = isIP(host) === 6 && !host.includes('%') ? `[${host}]` : host;
  // A port equal to the scheme default would vanish in parsing and go unnoticed below.
  const afterBrackets = input.startsWith('[') ? input.slice(input.indexOf(']') + 1) : input;
  if (afterBrackets.includes(':')) return undefined;
  let url: URL;
  try {
    url = new URL(`http://${input}`);
  } catch {
    return undefined;
  }
  // Anything beyond a host (port, path, credentials) means the input was not a host.
  if (url.host !== url.hostname || url.username || url.password || url.pathname !== '/' || url.search || url.hash) {
    return undefined;
  }
  const name = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return isIP(name) === 0 ? undefined : name;
}

function normalizeHost(host: string): string {
  return (parseHostLiteral(host) ?? host.toLowerCase()).replace(/\.$/, '');
}

type Target =
  | { ok: true; host: string; port: number; literal: string | undefined }
  | { ok: false; reason: string; rule: 'url' | 'port' };

function parseTarget(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, reason: `invalid URL ${JSON.stringify(url)}`, rule: 'url' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    return { ok: false, reason: `scheme ${u.protocol} not allowed: only http and https`, rule: 'url' };
  }
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  if (port === 0) return { ok: false, reason: `host ${host}: port 0 not allowed`, rule: 'port' };
  return { ok: true, host, port, literal: parseHostLiteral(u.hostname) };
}

/**
 * Checks every address `host` stands for; the first one that passes is the one to connect to.
 * `name` says which address a reason is about.
 */
function checkAddresses(
  host: string,
  addresses: string[],
  opts: Omit<CheckOptions, 'resolve'>,
  name: (address: string) => string = (address) => `host ${host} address ${address}`,
): { ok: true; address: string; family: 4 | 6 } | { ok: false; reason: string } {
  const allowListed = (opts.allowHosts ?? []).some((h) => normalizeHost(h) === normalizeHost(host));
  const privateOk = opts.mode === 'sandbox' || opts.allowPrivate || allowListed;

  let chosen: { address: string; family: 4 | 6 } | undefined;
  for (const raw of addresses) {
    const family = isIP(raw) as 0 | 4 | 6;
    if (family === 0) return { ok: false, reason: `host ${host}: resolver returned ${JSON.stringify(raw)}, not an address` };
    // A zone id only makes sense on link-scoped addresses, and would be lost on the way to the connect.
    if (raw.includes('%')) return { ok: false, reason: `${name(raw)}: scoped addresses are never contacted` };
    const cls = classifyAddress(raw);
    if (NEVER.has(cls)) {
      return { ok: false, reason: `${name(raw)} is ${cls}: never contacted` };
    }
    if ((cls === 'loopback' || cls === 'private') && !privateOk) {
      return {
        ok: false,
        reason: `${name(raw)} is ${cls}: live merchants may only notify public addresses (operator may allow private addresses or this host)`,
      };
    }
    chosen ??= canonical(raw, family);
  }
  if (!chosen) return { ok: false, reason: `host ${host}: resolves to no address` };
  return { ok: true, ...chosen };
}

/**
 * Decides whether a notification may be sent to `url` and, if so, which address to connect to.
 * Every address a name resolves to must pass, so that a name mixing a public and a private
 * address cannot slip through; the caller must connect to the returned address (not resolve the
 * name again), which is what keeps DNS rebinding out.
 */
export async function checkTarget(url: string, opts: CheckOptions): Promise<CheckResult> {
  const target = parseTarget(url);
  if (!target.ok) return { ok: false, reason: target.reason };
  const { host, port, literal } = target;
  let addresses: string[];
  if (literal !== undefined) {
    addresses = [literal];
  } else {
    try {
      addresses = await opts.resolve(host);
    } catch (err) {
      return { ok: false, reason: `host ${host}: cannot resolve (${(err as Error).message})` };
    }
    if (addresses.length === 0) return { ok: false, reason: `host ${host}: resolves to no address` };
  }
  const checked = checkAddresses(host, addresses, opts);
  return checked.ok ? { ...checked, host, port } : checked;
}

// RFC 6761: these names are the local host's own, whatever a resolver says.
const isLocalhostName = (host: string) => /(^|\.)localhost$/.test(host.toLowerCase().replace(/\.$/, ''));

/**
 * What can be told about `url` without asking DNS: why {@link checkTarget} will refuse it on every
 * attempt (an IP literal it never contacts, a localhost name, port 0), or undefined when only
 * sending can tell. For refusing a delivery target when it is given. The reason names the address
 * in canonical form, never the host as written, so it carries no text of the caller's.
 */
export function certainRefusal(url: string, opts: Omit<CheckOptions, 'resolve'>): string | undefined {
  const target = parseTarget(url);
  if (!target.ok) return target.rule === 'port' ? 'port 0 is never contacted' : 'must be an http:// or https:// URL';
  const { host, literal } = target;
  if (literal !== undefined) {
    const checked = checkAddresses(host, [literal], opts, (address) => `address ${address}`);
    return checked.ok ? undefined : checked.reason;
  }
  if (!isLocalhostName(host)) return undefined;
  const checked = checkAddresses(host, ['127.0.0.1'], opts, () => 'localhost (this machine)');
  return checked.ok ? undefined : checked.reason;
}

// IPv4-mapped IPv6 is the IPv4 host itself; connecting over IPv4 also works where IPv6 is disabled.
function canonical(raw: string, family: 4 | 6): { address: string; family: 4 | 6 } {
  if (family === 4) return { address: raw, family };
  const b = ipv6Bytes(raw);
  if (b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return { address: b.slice(12).join('.'), family: 4 };
  }
  return { address: parseHostLiteral(`[${raw}]`) ?? raw, family: 6 };
}
