import type { Services } from './context.js';
import { createMerchant, type NewMerchant } from './merchants.js';
import { cliCommand } from '../runtime/resources.js';

/** On an empty database, one sandbox merchant so that a new user can try the gateway at once. */
export async function ensureFirstMerchant(s: Services): Promise<NewMerchant | undefined> {
  if (s.reads.merchantCount() > 0) return undefined;
  return createMerchant(s.writer, 'Sandbox shop', 'sandbox', s.now());
}

export function firstBootMessage(m: NewMerchant, publicBaseUrl: string): string {
  const order = `{"mercNo":"${m.mercNo}","mercOrderNo":"FIRST0001","subject":"First order","tradeType":"01","tradeAmt":"0.01","tradeTime":"20240618125826","orderPeriod":"30","notifyUrl":"http://127.0.0.1:9999/notify","termType":"pc","paywayCode":"alipay","sceneCode":"scan","ip":"127.0.0.1"}`;
  return [
    'First start: created a sandbox merchant (no money moves in the sandbox).',
    `  mercNo: ${m.mercNo}`,
    `  key:    ${m.key}`,
    'Try it:',
    `  echo '${order}' | ${cliCommand()} sign --key='${m.key}' \\`,
    `    | curl -s -H 'content-type: application/json' --data-binary @- ${publicBaseUrl}/api/pay`,
  ].join('\n');
}
