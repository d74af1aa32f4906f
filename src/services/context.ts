import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { StoragePort } from '../db/port.js';
import type { Writer } from '../db/writer.js';
import type { ChannelRegistry } from '../channels/registry.js';
import type { ChannelContext } from '../channels/types.js';
import type { OrderIdGenerator } from '../domain/ids.js';
import type { MerchantRow, QueuedNotification } from '../db/rows.js';
import type { CashierLinks } from '../domain/cashier-links.js';
import type { AlertRecorder } from './alert-recorder.js';
import type { MerchantKeys } from '../secrets/merchant-keys.js';
import type { PayeeData } from '../secrets/payee-data.js';

/** What the use cases need from the outside world; app.ts builds it once. */
export interface Services {
  config: Config;
  /** the database, whichever adapter serves it; `reads` and `writer` are its parts, at hand */
  storage: StoragePort;
  /** The name this process holds leases under (services/instance-slot.ts); absent where no lease is taken (the CLI). */
  instance?: string;
  reads: StoragePort['reads'];
  writer: Writer;
  /** Seals new merchant keys and opens stored ones, under the gateway's MASTER_KEY. */
  merchantKeys: MerchantKeys;
  /** Seals and opens payouts' payee data under the same MASTER_KEY. */
  payees: PayeeData;
  registry: ChannelRegistry;
  ids: OrderIdGenerator;
  now: () => number;
  log: Logger;
  /** Told of every notification that has just committed (the dispatcher, in the server). */
  notifier: { queued(n: QueuedNotification | undefined): void };
  /** Where alerts go: counted per source, so that no stream of requests writes a row each. */
  alerts: Pick<AlertRecorder, 'record'>;
  /** The payer's links of an order, each carrying the order's token. */
  links: CashierLinks;
  /** What a driver call gets: clock, public URL, HTTP transport, cancellation. */
  channelContext(signal?: AbortSignal): ChannelContext;
  /** The payways a merchant can be served on: every one for a sandbox merchant, the configured ones for a live one. */
  configuredPayways(merchant: Pick<MerchantRow, 'mode' | 'merc_no'>): Promise<ReadonlySet<string>>;
  /** The credentials a driver gets for this merchant; the sandbox's come from the settings table. */
  credentialsFor(merchant: Pick<MerchantRow, 'mode' | 'merc_no'>, driverName: string): Promise<unknown>;
}
