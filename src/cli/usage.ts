// Every command's usage, in one table: the top-level list, `dtpay <command> --help` and the usage
// errors are all printed from it, so what the CLI says about itself cannot drift apart.

export interface CommandHelp {
  /** The words that name it after `dtpay`, e.g. `merchant create`. */
  name: string;
  /** Its usage lines, each without the leading `dtpay `. */
  usage: readonly string[];
  /** One line for the list of commands. */
  summary: string;
  /** What `--help` says besides the usage. */
  details?: string;
}

const TIMES =
  'Times are Beijing time (UTC+8) as yyyyMMddHHmmss, as the API gives them; with --json, the times the gateway ' +
  'recorded (createdAt, at, dueAt, …) are ISO 8601 in UTC and the API\'s own fields (tradeEndTime, refundEndTime) keep the API\'s form.';

export const COMMANDS: readonly CommandHelp[] = [
  {
    name: 'serve',
    usage: ['serve'],
    summary: 'start the gateway (same as npm start)',
    details:
      'Listens on HOST:PORT and serves until SIGTERM or SIGINT. On its first start with an empty database it creates one ' +
      'sandbox merchant and prints its mercNo, its key and a curl example.',
  },
  {
    name: 'migrate',
    usage: ['migrate [--json]'],
    summary: 'apply the database migrations (the gateway also does at start-up)',
    details: '--json prints {"applied":[…],"current":"…"}. Creates the database if there is none.',
  },
  {
    name: 'merchant create',
    usage: ['merchant create --name NAME --mode sandbox|live [--json]'],
    summary: 'a new merchant and its key, shown only now',
    details:
      'A sandbox merchant uses the built-in sandbox channel (no money moves); a live merchant the channels stored for it ' +
      'with `dtpay channel set`. --json prints {"mercNo","key","mode"}. Creates the database if there is none.',
  },
  {
    name: 'merchant list',
    usage: ['merchant list [--json]'],
    summary: 'every merchant: number, mode, status, name (never a key)',
  },
  {
    name: 'merchant show',
    usage: ['merchant show MERCNO [--json]'],
    summary: 'one merchant: mode, status, name, dates, live channels (never its key)',
    details: TIMES,
  },
  {
    name: 'merchant rotate-key',
    usage: ['merchant rotate-key MERCNO [--json]'],
    summary: 'a new key, shown only now; the old key stops verifying at once',
  },
  {
    name: 'merchant disable',
    usage: ['merchant disable MERCNO [--json]'],
    summary: 'refuse the merchant\'s requests (100003) from the next one on',
  },
  {
    name: 'merchant enable',
    usage: ['merchant enable MERCNO [--json]'],
    summary: 'serve a disabled merchant again',
  },
  {
    name: 'merchant payouts',
    usage: [
      'merchant payouts MERCNO --enable --daily-limit AMOUNT [--per-payout-limit AMOUNT] [--json]',
      'merchant payouts MERCNO --disable [--json]',
      'merchant payouts MERCNO [--json]',
    ],
    summary: 'turn payouts (tradeType 02/03) on with their limits, or off; without a flag, show them',
    details:
      'Payouts move money out of the merchant\'s own channel account, so they are off until turned on here. AMOUNT is yuan ' +
      '(e.g. 5000.00). The daily limit counts the payouts of the Beijing day that are submitted, in progress or paid out. ' +
      '--json prints {"mercNo":"…","payouts":{"enabled":true,"dailyLimit":"5000.00","perPayoutLimit":"500.00"}} (a limit not set is left out). ' +
      'For a live merchant, --enable warns about configured channels that cannot pay out yet (Alipay in key mode, WeChat without a transfer scene, ' +
      'UnionPay without the encryption certificate).',
  },
  {
    name: 'notify list',
    usage: ['notify list [--status pending|delivered|failed|superseded] [--limit N] [--json]'],
    summary: 'notifications, newest first (50 unless --limit), each with its last attempt',
    details: TIMES,
  },
  {
    name: 'notify resend',
    usage: ['notify resend ORDERID [--json]'],
    summary: 'queue a fresh notification of the order\'s current state',
    details: 'A new webhook-id and the full retry schedule; a running gateway sends it within about a second.',
  },
  {
    name: 'order show',
    usage: ['order show ORDERID [--json]'],
    summary: 'the order, its state changes, its notifications and their attempts, its refunds',
    details: TIMES,
  },
  {
    name: 'order list',
    usage: ['order list [--status p0001|p0002|p0000|p0004|p0005|p0006] [--merchant MERCNO] [--limit N] [--json]'],
    summary: 'orders, newest first (50 unless --limit)',
    details: TIMES,
  },
  {
    name: 'channel set',
    usage: [
      'channel set MERCNO alipay --app-id ID --private-key-file F\n' +
        '      (--alipay-public-key-file F | --app-cert-file F --alipay-cert-file F --alipay-root-cert-file F) [--gateway-url URL] [--json]',
      'channel set MERCNO wxpay --mchid ID --appid ID --serial-no HEX --private-key-file F --apiv3-key KEY\n' +
        '      (--platform-cert-file F | --wechatpay-public-key-file F --wechatpay-public-key-id ID) [--base-url URL]\n' +
        '      [--transfer-scene-id ID [--transfer-scene-report-file F] [--user-recv-perception TEXT]]\n' +
        '      [--withdraw-scene-id ID [--withdraw-scene-report-file F] [--withdraw-recv-perception TEXT]] [--json]',
      'channel set MERCNO unionpay --mer-id ID --sign-cert-file F.pfx --sign-cert-password P\n' +
        '      --root-cert-file F --middle-cert-file F [--encrypt-cert-file F] [--base-url URL] [--json]',
    ],
    summary: 'store a live merchant\'s channel credentials (encrypted with MASTER_KEY)',
    details:
      'Keys and certificates are read from files and checked before anything is stored; running it again replaces them. ' +
      'Needs MASTER_KEY. Prints the callback URL to register with the channel. Alipay in certificate mode (公钥证书, needed ' +
      'for payouts) takes the three files of the Alipay console: appCertPublicKey_<appid>.crt, alipayCertPublicKey_RSA2.crt, alipayRootCert.crt. ' +
      'Payouts: wxpay needs a transfer scene (02; --withdraw-scene-id gives 03 its own, else 03 uses it), the report file ' +
      'being a JSON array of {"info_type","info_content"}; unionpay needs UnionPay\'s encryption certificate (--encrypt-cert-file).',
  },
  {
    name: 'channel show',
    usage: ['channel show MERCNO [--json]'],
    summary: 'a merchant\'s channels, secrets masked, and the callback URLs to register',
    details: TIMES,
  },
  {
    name: 'channel remove',
    usage: ['channel remove MERCNO PAYWAY [--json]'],
    summary: 'forget a live merchant\'s credentials for one payway',
  },
  {
    name: 'reconcile',
    usage: ['reconcile --date YYYY-MM-DD [--merchant MERCNO] [--payway alipay|wxpay|unionpay] [--json]'],
    summary: 'compare a day\'s channel bills with dtpay\'s records now; heal and report',
    details:
      'One run per merchant and payway with lines that day on either side; a run replaces the stored one of the same merchant, ' +
      'payway and day. The day is a Beijing calendar day, today or before (live channels bill the day after: today is not_ready). ' +
      '--json prints {"date","runs":[…]} (see docs/reconciliation.md). Exit 0 when every run compared, 1 when one failed or ' +
      'was not ready, 2 for a usage error. Needs MASTER_KEY for live merchants.',
  },
  {
    name: 'reconcile show',
    usage: ['reconcile show --date YYYY-MM-DD [--merchant MERCNO] [--json]'],
    summary: 'the stored report of a day: runs, counts, the bill\'s totals, the lines that did not match',
    details: 'The same document and exit status as `dtpay reconcile`, from what its last runs stored; nothing is downloaded.',
  },
  {
    name: 'alerts list',
    usage: ['alerts list [--open] [--limit N] [--json]'],
    summary: 'alerts, newest first (100 unless --limit): refused callbacks, reconciliation items',
    details: '--open lists only those nobody has marked handled. With --json, times are ISO 8601 in UTC.',
  },
  {
    name: 'alerts handle',
    usage: ['alerts handle ID [--json]'],
    summary: 'mark an alert handled (it stays listed, no longer open)',
  },
  {
    name: 'backup',
    usage: ['backup FILE [--force] [--json]'],
    summary: 'a consistent copy of the database, while the gateway serves',
    details:
      'The copy is checked (integrity_check) before it is reported. An existing FILE is overwritten only with --force. ' +
      'SQLite only: with DATABASE_URL set it refuses (exit 2); back PostgreSQL up with pg_dump (docs/several-instances.md).',
  },
  {
    name: 'db copy',
    usage: ['db copy --to postgres://USER:PASS@HOST:PORT/DB [--from PATH] [--json]'],
    summary: 'copy a stopped SQLite gateway into an empty PostgreSQL database',
    details:
      'The source is DATABASE_PATH (or --from); the target is migrated, must hold no rows, and gets every table in one transaction. ' +
      'Row counts and a sample of rows are verified before the commit (exit 1 on a mismatch, and nothing is copied). ' +
      '--json prints {"from","to","schemaVersion","rows","tables":[{"table","rows","sampled"}]}.',
  },
  {
    name: 'prune',
    usage: ['prune --before YYYY-MM-DD [--dry-run] [--json]'],
    summary: 'remove orders that ended before then (at least 365 days ago, the refund window)',
    details:
      'Open orders, orders with a notification still to deliver and orders with a refund in progress or within the window are kept. ' +
      'Runs in batches beside a serving gateway; --dry-run counts what would go.',
  },
  {
    name: 'operator create',
    usage: ['operator create --email E --role admin|support|viewer --password-stdin [--json]'],
    summary: 'a console operator (/console); the password is read from stdin',
    details:
      'viewer reads; support also resends notifications, closes orders and refunds; admin also manages merchants and ' +
      'operators and reads the audit log. --password-stdin reads one line (its newline is not part of the password), ' +
      'at least 12 characters, stored as an scrypt hash. --json prints {"email","role","totp":false}. Creates the database if there is none.',
  },
  {
    name: 'operator list',
    usage: ['operator list [--json]'],
    summary: 'every console operator: email, role, status, TOTP on or off, last login',
  },
  {
    name: 'operator disable',
    usage: ['operator disable EMAIL [--json]'],
    summary: 'the operator can no longer log in; their sessions end',
  },
  {
    name: 'operator reset-password',
    usage: ['operator reset-password EMAIL --password-stdin [--json]'],
    summary: 'a new password, read from stdin; the operator\'s sessions end',
  },
  {
    name: 'operator totp',
    usage: ['operator totp EMAIL [--json]'],
    summary: 'turn on TOTP (SHA1, 30 s, 6 digits): prints the otpauth:// URI once',
    details:
      'Each run makes a new secret (the old one stops working) and ends the operator\'s sessions. The secret is sealed under ' +
      'MASTER_KEY. --json prints {"email","otpauthUri"}.',
  },
  {
    name: 'sign',
    usage: ['sign --key KEY [--sign-type MD5|HMAC-SHA256]'],
    summary: 'sign the JSON object on stdin; print it with "signature" added',
    details: 'Every field must be a string. --sign-type sets the signType field; without it, the field\'s own signType (MD5 if none).',
  },
  {
    name: 'help',
    usage: ['help [COMMAND]'],
    summary: 'this list, or one command\'s usage (as `dtpay COMMAND --help`)',
  },
];

const DATABASE_NOTE =
  'The database is DATABASE_PATH (default ./data/dtpay.sqlite, relative to the current folder), taken from the ' +
  'environment or from .env in the current folder, exactly as the gateway takes it: run the CLI in the folder the ' +
  'gateway runs in, with the same environment, or it works on another database.';

const COLUMN = 42;

function wrap(text: string, indent: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

/** One command in the list: its usage lines, and its summary beside the last one or below it. */
function listed(c: CommandHelp): string {
  const lines = c.usage.flatMap((u) => u.split('\n')).map((u) => `  ${u}`);
  const last = lines.length - 1;
  if (lines[last]!.length < COLUMN - 1) lines[last] = lines[last]!.padEnd(COLUMN) + c.summary;
  else lines.push(' '.repeat(COLUMN) + c.summary);
  return lines.join('\n');
}

export function topUsage(): string {
  return [
    'usage: dtpay <command> [options]',
    '       dtpay <command> --help              that command\'s usage',
    '',
    ...COMMANDS.map(listed),
    '',
    wrap('Every command that prints data takes --json and then prints exactly one JSON document.', ''),
    wrap(DATABASE_NOTE, ''),
    '',
  ].join('\n');
}

/** `usage: dtpay …` for one command, its continuation lines aligned under the first. */
export function usageOf(name: string): string {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) throw new Error(`no usage for ${name}`);
  return c.usage.map((u, i) => `${i === 0 ? 'usage: ' : '       '}dtpay ${u.replaceAll('\n', '\n       ')}`).join('\n');
}

/** The subcommands of a group such as `merchant`, as "a, b or c". */
export function subcommandsOf(group: string): string {
  const subs = COMMANDS.filter((c) => c.name.startsWith(`${group} `)).map((c) => c.name.slice(group.length + 1));
  return subs.length > 1 ? `${subs.slice(0, -1).join(', ')} or ${subs.at(-1)}` : subs.join('');
}

/**
 * What `dtpay WORDS --help` prints: one command's usage and details, or a group's commands.
 * Undefined when the words name no command.
 */
export function helpFor(words: readonly string[]): string | undefined {
  const [first, second] = words;
  if (first === undefined) return topUsage();
  const exact = second !== undefined ? COMMANDS.find((c) => c.name === `${first} ${second}`) : undefined;
  const single = COMMANDS.find((c) => c.name === first);
  const command = exact ?? single;
  if (command) {
    const parts = [usageOf(command.name), '', wrap(command.summary, '')];
    if (command.details) parts.push('', wrap(command.details, ''));
    return `${parts.join('\n')}\n`;
  }
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `));
  if (group.length === 0 || second !== undefined) return undefined;
  return `usage: dtpay ${first} <${group.map((c) => c.name.slice(first.length + 1)).join('|')}> [options]\n\n${group.map(listed).join('\n')}\n`;
}
