import t from 'tap';
import { certainRefusal, checkTarget, classifyAddress, parseHostLiteral, type AddressClass, type CheckOptions } from '../../src/notify/address-policy.js';

t.test('parseHostLiteral: every spelling of an IP literal', async (t) => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f.0.0.1', '127.0.0.1'],
    ['0x7F.1', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0x7f000001', '127.0.0.1'],
    ['%31%32%37.0.0.1', '127.0.0.1'],
    ['\uff11\uff12\uff17.0.0.1', '127.0.0.1'],
    ['127.0.0.1.', '127.0.0.1'],
    ['169.254.169.254', '169.254.169.254'],
    ['0', '0.0.0.0'],
    ['[::ffff:127.0.0.1]', '::ffff:7f00:1'],
    ['[::ffff:7f00:1]', '::ffff:7f00:1'],
    ['[0:0:0:0:0:0:0:1]', '::1'],
    ['[::1]', '::1'],
    ['::1', '::1'],
    ['[FD00:EC2:0::254]', 'fd00:ec2::254'],
    ['[::]', '::'],
    ['example.com', undefined],
    ['localhost', undefined],
    ['127.0.0.1.example.com', undefined],
    ['256.0.0.1', undefined],
    ['127.0.0.1:80', undefined],
    ['127.0.0.1/x', undefined],
    ['', undefined],
  ];
  for (const [input, want] of cases) t.equal(parseHostLiteral(input), want, JSON.stringify(input));
});

t.test('classifyAddress', async (t) => {
  const cases: [string, AddressClass][] = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['100.64.0.1', 'private'],
    ['100.127.255.255', 'private'],
    ['100.128.0.1', 'public'],
    ['100.100.100.200', 'metadata'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.0.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.0.0.8', 'reserved'],
    ['192.0.0.192', 'metadata'],
    ['192.0.2.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'private'],
    ['198.19.255.255', 'private'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.7', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'private'],
    ['fd00::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fd20:ce::254', 'metadata'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:a9fe:a9fe', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:0:127.0.0.1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['::0.0.0.2', 'unspecified'],
    ['64:ff9b::169.254.169.254', 'metadata'],
    ['64:ff9b::a00:1', 'private'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1:7f00:0:100::', 'loopback'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:808:808::1', 'public'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['2001:4860:4860::8888', 'public'],
    ['2606:4700:4700::1111', 'public'],
  ];
  for (const [ip, want] of cases) t.equal(classifyAddress(ip), want, ip);
  t.throws(() => classifyAddress('example.com'), TypeError);
  t.throws(() => classifyAddress('127.1'), TypeError, 'non-canonical spellings go through parseHostLiteral first');
});

type Want = { address: string; family: 4 | 6; port?: number } | RegExp;

t.test('checkTarget', async (t) => {
  const dns: Record<string, string[]> = {
    'shop.example.com': ['8.8.8.8', '2001:4860:4860::8888'],
    'v6.example.com': ['2001:4860:4860::8888'],
    'mixed.example.com': ['8.8.8.8', '10.0.0.5'],
    'mixed-meta.example.com': ['8.8.8.8', '169.254.169.254'],
    'internal.example.com': ['10.0.0.5'],
    'mapped.example.com': ['::ffff:192.168.1.10'],
    'local.example.com': ['127.0.0.1', '::1'],
    'meta.example.com': ['169.254.169.254'],
    'empty.example.com': [],
    'junk.example.com': ['not-an-ip'],
    'zoned.example.com': ['fe80::1%eth0'],
  };
  const calls: string[] = [];
  const resolve = async (host: string): Promise<string[]> => {
    calls.push(host);
    const a = dns[host];
    if (!a) throw new Error(`ENOTFOUND ${host}`);
    return a;
  };
  const live: CheckOptions = { mode: 'live', allowPrivate: false, resolve };
  const sandbox: CheckOptions = { mode: 'sandbox', allowPrivate: false, resolve };
  const livePriv: CheckOptions = { mode: 'live', allowPrivate: true, resolve };
  const liveList: CheckOptions = { mode: 'live', allowPrivate: false, allowHosts: ['Internal.Example.com.', '127.1', '[::1]'], resolve };

  const never = /never contacted/;
  const notPublic = /live merchants may only notify public addresses/;
  const cases: [string, string, CheckOptions, Want][] = [
    ['public IPv4 literal', 'http://8.8.8.8/notify', live, { address: '8.8.8.8', family: 4, port: 80 }],
    ['https default port', 'https://8.8.8.8/', live, { address: '8.8.8.8', family: 4, port: 443 }],
    ['explicit port', 'https://8.8.8.8:8443/n', live, { address: '8.8.8.8', family: 4, port: 8443 }],
    ['public IPv6 literal', 'http://[2001:4860:4860:0:0:0:0:8888]:81/', live, { address: '2001:4860:4860::8888', family: 6, port: 81 }],
    ['DNS name, first address chosen', 'https://shop.example.com/n', live, { address: '8.8.8.8', family: 4, port: 443 }],
    ['DNS name, IPv6 only', 'https://v6.example.com/n', live, { address: '2001:4860:4860::8888', family: 6 }],
    ['DNS mixing public and private, live', 'https://mixed.example.com/n', live, /mixed\.example\.com address 10\.0\.0\.5 is private/],
    ['DNS mixing public and private, sandbox', 'https://mixed.example.com/n', sandbox, { address: '8.8.8.8', family: 4 }],
    ['DNS mixing public and metadata, sandbox', 'https://mixed-meta.example.com/n', sandbox, /169\.254\.169\.254 is metadata: never/],
    ['DNS to private, live', 'http://internal.example.com/', live, notPublic],
    ['DNS to private, allowPrivate', 'http://internal.example.com/', livePriv, { address: '10.0.0.5', family: 4 }],
    ['DNS to private, allowHosts', 'http://internal.example.com/', liveList, { address: '10.0.0.5', family: 4 }],
    ['DNS to mapped private, live', 'http://mapped.example.com/', live, notPublic],
    ['DNS to mapped private, sandbox: connect over IPv4', 'http://mapped.example.com/', sandbox, { address: '192.168.1.10', family: 4 }],
    ['DNS to loopback, sandbox', 'http://local.example.com:3000/', sandbox, { address: '127.0.0.1', family: 4, port: 3000 }],
    ['DNS to metadata, allowHosts', 'http://meta.example.com/', { ...liveList, allowHosts: ['meta.example.com'] }, never],
    ['DNS with no address', 'http://empty.example.com/', sandbox, /no address/],
    ['DNS failure', 'http://nowhere.example.com/', sandbox, /cannot resolve.*ENOTFOUND/],
    ['resolver returns junk', 'http://junk.example.com/', sandbox, /not an address/],
    ['resolver returns zoned address', 'http://zoned.example.com/', sandbox, /scoped/],
    // Tricky literal spellings of loopback, all of which a WHATWG client would connect to 127.0.0.1.
    ['127.1, live', 'http://127.1/', live, /127\.0\.0\.1 is loopback/],
    ['0x7f.0.0.1, live', 'http://0x7f.0.0.1/', live, notPublic],
    ['0177.0.0.1, live', 'http://0177.0.0.1/', live, notPublic],
    ['2130706433, live', 'http://2130706433/', live, notPublic],
    ['0x7f000001, live', 'http://0x7f000001/', live, notPublic],
    ['[::ffff:127.0.0.1], live', 'http://[::ffff:127.0.0.1]/', live, notPublic],
    ['[::ffff:7f00:1], live', 'http://[::ffff:7f00:1]/', live, notPublic],
    ['[0:0:0:0:0:0:0:1], live', 'http://[0:0:0:0:0:0:0:1]/', live, /::1 is loopback/],
    ['127.1, sandbox', 'http://127.1:8080/', sandbox, { address: '127.0.0.1', family: 4, port: 8080 }],
    ['[::ffff:127.0.0.1], sandbox', 'http://[::ffff:127.0.0.1]/', sandbox, { address: '127.0.0.1', family: 4 }],
    ['[::1], sandbox', 'http://[::1]/', sandbox, { address: '::1', family: 6 }],
    ['127.1 in allowHosts matches 127.0.0.1', 'http://127.0.0.1/', liveList, { address: '127.0.0.1', family: 4 }],
    ['[::1] in allowHosts matches 0:0:...:1', 'http://[0:0:0:0:0:0:0:1]/', liveList, { address: '::1', family: 6 }],
    // Never allowed, whatever the mode or setting.
    ['metadata', 'http://169.254.169.254/latest/meta-data/', sandbox, never],
    ['metadata, allowPrivate', 'http://169.254.169.254/', livePriv, never],
    ['metadata, mapped', 'http://[::ffff:169.254.169.254]/', sandbox, /is metadata: never/],
    ['metadata, decimal', 'http://2852039166/', sandbox, /169\.254\.169\.254 is metadata/],
    ['metadata, AWS IPv6', 'http://[fd00:ec2::254]/', sandbox, never],
    ['metadata, Alibaba Cloud', 'http://100.100.100.200/', sandbox, never],
    ['link-local IPv6', 'http://[fe80::1]/', sandbox, /is link-local: never/],
    ['link-local IPv4', 'http://169.254.1.1/', livePriv, never],
    ['unspecified 0.0.0.0', 'http://0.0.0.0:8080/', sandbox, /is unspecified: never/],
    ['unspecified 0', 'http://0/', sandbox, never],
    ['unspecified [::]', 'http://[::]/', sandbox, never],
    ['multicast', 'http://224.0.0.1/', sandbox, /is multicast: never/],
    ['broadcast', 'http://255.255.255.255/', sandbox, /is reserved: never/],
    ['documentation', 'http://203.0.113.7/', live, never],
    // Private ranges under the three settings.
    ['unique local fd00::1, live', 'http://[fd00::1]/', live, notPublic],
    ['unique local fd00::1, sandbox', 'http://[fd00::1]/', sandbox, { address: 'fd00::1', family: 6 }],
    ['unique local fd00::1, allowPrivate', 'http://[fd00::1]/', livePriv, { address: 'fd00::1', family: 6 }],
    ['CGNAT, live', 'http://100.64.0.1/', live, /100\.64\.0\.1 is private/],
    ['CGNAT, allowPrivate', 'http://100.64.0.1/', livePriv, { address: '100.64.0.1', family: 4 }],
    ['private, allowHosts for another host', 'http://10.0.0.5/', liveList, notPublic],
    // Schemes and malformed URLs.
    ['ftp', 'ftp://8.8.8.8/', live, /scheme ftp: not allowed/],
    ['file', 'file:///etc/passwd', sandbox, /scheme file: not allowed/],
    ['javascript', 'javascript:alert(1)', sandbox, /scheme javascript: not allowed/],
    ['not a URL', 'shop.example.com/notify', sandbox, /invalid URL/],
    ['bad IPv4', 'http://256.0.0.1/', sandbox, /invalid URL/],
    ['port 0', 'http://8.8.8.8:0/', live, /port 0/],
  ];

  for (const [name, url, opts, want] of cases) {
    const got = await checkTarget(url, opts);
    if (want instanceof RegExp) {
      t.equal(got.ok, false, `${name}: refused`);
      if (!got.ok) t.match(got.reason, want, `${name}: reason`);
    } else {
      t.equal(got.ok, true, `${name}: allowed${got.ok ? '' : ` (${got.reason})`}`);
      if (got.ok) {
        t.equal(got.address, want.address, `${name}: address`);
        t.equal(got.family, want.family, `${name}: family`);
        if (want.port !== undefined) t.equal(got.port, want.port, `${name}: port`);
      }
    }
  }
  t.notOk(calls.some((h) => /^[\d.[]|:/.test(h)), 'IP literals never reach the resolver');
});

t.test('reasons name the host, the address and the rule', async (t) => {
  const got = await checkTarget('https://mixed.example.com/n', {
    mode: 'live',
    allowPrivate: false,
    resolve: async () => ['8.8.8.8', '10.0.0.5'],
  });
  t.same(got, {
    ok: false,
    reason:
      'host mixed.example.com address 10.0.0.5 is private: live merchants may only notify public addresses (operator may allow private addresses or this host)',
  });
  const ok = await checkTarget('https://Shop.Example.COM./n', { mode: 'live', allowPrivate: false, resolve: async () => ['8.8.8.8'] });
  t.same(ok, { ok: true, address: '8.8.8.8', family: 4, host: 'shop.example.com.', port: 443 });
});

t.test('certainRefusal: what checkTarget will refuse on every attempt, told without DNS', async (t) => {
  const live = { mode: 'live' as const, allowPrivate: false };
  const livePriv = { mode: 'live' as const, allowPrivate: true };
  const liveList = { mode: 'live' as const, allowPrivate: false, allowHosts: ['10.1.2.3', 'LocalHost', '[::1]'] };
  const sandbox = { mode: 'sandbox' as const, allowPrivate: false };
  const notPublic = /is (loopback|private): live merchants may only notify public addresses/;
  const never = /never contacted/;

  const refused: [string, Omit<CheckOptions, 'resolve'>, RegExp][] = [
    ['http://127.0.0.1/n', live, /^address 127\.0\.0\.1 is loopback/],
    ['http://127.1:8080/n', live, /^address 127\.0\.0\.1 is loopback/],
    ['http://0x7f000001/n', live, notPublic],
    ['http://2130706433/n', live, notPublic],
    ['http://0177.0.0.1/n', live, notPublic],
    ['http://%31%32%37.0.0.1/n', live, notPublic],
    ['http://[::1]/n', live, /^address ::1 is loopback/],
    ['http://[::ffff:127.0.0.1]/n', live, notPublic],
    ['http://[::ffff:10.0.0.1]/n', live, /is private/],
    ['http://10.0.0.1/n', live, /^address 10\.0\.0\.1 is private/],
    ['http://192.168.1.1/n', live, notPublic],
    ['http://[fd00::1]/n', live, notPublic],
    ['http://10.9.9.9/n', liveList, notPublic],
    ['http://169.254.169.254/latest/meta-data/', livePriv, /^address 169\.254\.169\.254 is metadata: never contacted$/],
    ['http://2852039166/', liveList, /169\.254\.169\.254 is metadata/],
    ['http://[fd00:ec2::254]/', livePriv, never],
    ['http://100.100.100.200/', livePriv, never],
    ['http://169.254.1.1/', livePriv, /is link-local/],
    ['http://[fe80::1]/', livePriv, /is link-local/],
    ['http://0.0.0.0:8080/', livePriv, /is unspecified/],
    ['http://0/', livePriv, /is unspecified/],
    ['http://[::]/', livePriv, /is unspecified/],
    ['http://224.0.0.1/', livePriv, /is multicast/],
    ['http://203.0.113.7/', livePriv, /is reserved/],
    ['http://localhost:3000/n', live, /^localhost \(this machine\) is loopback: live merchants may only notify public addresses/],
    ['http://LOCALHOST./n', live, notPublic],
    ['https://shop.localhost/n', live, notPublic],
    ['https://a&payStatus=p0000.localhost/n', live, /^localhost \(this machine\) is loopback/],
    ['http://shop.example.com:0/n', live, /^port 0 is never contacted$/],
    ['http://169.254.169.254/', sandbox, never],
  ];
  for (const [url, opts, want] of refused) {
    const reason = certainRefusal(url, opts);
    t.match(reason, want, `${url} (${JSON.stringify(opts)}) is refused`);
    const sent = await checkTarget(url, { ...opts, resolve: async () => ['127.0.0.1'] });
    t.equal(sent.ok, false, `${url}: the dispatcher refuses it too`);
  }
  t.notMatch(certainRefusal('https://a&payStatus=p0000.localhost/n', live), /payStatus/i, 'no text of the URL in the reason');

  const passed: [string, Omit<CheckOptions, 'resolve'>][] = [
    ['https://shop.example.com/n', live],
    ['https://localhost.example.com/n', live],
    ['https://mylocalhost/n', live],
    ['http://8.8.8.8/n', live],
    ['http://[2001:4860:4860::8888]/n', live],
    ['http://127.0.0.1/n', livePriv],
    ['http://10.0.0.1/n', livePriv],
    ['http://localhost:3000/n', livePriv],
    ['http://10.1.2.3/n', liveList],
    ['http://localhost/n', liveList],
    ['http://[0:0:0:0:0:0:0:1]/n', liveList],
    ['http://127.0.0.1:3000/n', sandbox],
    ['http://localhost:3000/n', sandbox],
  ];
  for (const [url, opts] of passed) t.equal(certainRefusal(url, opts), undefined, `${url} (${JSON.stringify(opts)}) is left to sending`);
  t.equal(certainRefusal('https://unresolvable.invalid/n', live), undefined, 'names are judged when sending, not here');
});
