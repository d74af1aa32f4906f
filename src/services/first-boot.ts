import type { Services } from './context.js';
import { createMerchant, type NewMerchant } from './merchants.js';
import { cliCommand } from '../runtime/resources.js';

/** On an empty database, one sandbox merchant so that a new user can try the gateway at once. */
export async function ensureFirstMerchant(s: Services): Promise<NewMerchant | undefined> {
  if ((await s.reads.merchantCount()) > 0) return undefined;
  // Once per database, not per instance (CONTRACT §7): of instances starting together on
  // PostgreSQL, the one that takes this lease makes the merchant.
  if (s.storage.dialect === 'postgres') {
    const at = s.now();
    const holder = s.instance ?? 'gateway';
    if (!(await s.writer.run('takeLease', { name: 'first-boot', holder, at, until: at + FIRST_BOOT_LEASE_MS }))) return undefined;
    if ((await s.reads.merchantCount()) > 0) return undefined;
  }
  return createMerchant(s, 'Sandbox shop', 'sandbox', s.now());
}

const RULE = '='.repeat(78);
const FIRST_BOOT_LEASE_MS = 60_000;

/**
 * The first-start block, framed and set off by blank lines so that it stands apart from the JSON
 * log lines around it. Its lines carry no border, so the example copies and pastes as it is.
 */
export function firstBootMessage(m: NewMerchant, publicBaseUrl: string, databaseFile: string): string {
  const order = `{"mercNo":"${m.mercNo}","mercOrderNo":"FIRST0001","subject":"First order","tradeType":"01","tradeAmt":"0.01","tradeTime":"20240618125826","orderPeriod":"30","notifyUrl":"http://127.0.0.1:9999/notify","termType":"pc","paywayCode":"alipay","sceneCode":"scan","ip":"127.0.0.1"}`;
  const title = ' dtpay: First start ';
  return [
    '',
    `${'='.repeat(4)}${title}${'='.repeat(RULE.length - 4 - title.length)}`,
    'Created a sandbox merchant (no money moves in the sandbox). Its key is shown only now.',
    `  mercNo:   ${m.mercNo}`,
    `  key:      ${m.key}`,
    `  database: ${databaseFile}`,
    /^postgres(ql)?:/.test(databaseFile)
      ? '  (the CLI sees this merchant when it runs with the same DATABASE_URL)'
      : '  (the CLI sees this merchant when it runs with the same DATABASE_PATH, e.g. from this folder)',
    'Try it:',
    `  echo '${order}' \\`,
    `    | ${cliCommand()} sign --key='${m.key}' \\`,
    `    | curl -s -H 'content-type: application/json' --data-binary @- ${publicBaseUrl}/api/pay`,
    RULE,
    '',
    '',
  ].join('\n');
}
