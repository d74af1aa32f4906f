import { packSealed, seal, unpackSealed, unseal } from './sealing.js';

// A payout's payee (account number and real name) at rest: sealed for "payee-data" and bound to
// the order it belongs to, packed into orders.payee_sealed (CONTRACT §4). The clear values live
// only in memory on the way to the channel and when a replayed request is compared with the first.

export interface Payee {
  payeeAccount: string;
  payeeName?: string;
}

export class PayeeData {
  constructor(private readonly masterKey: () => string) {}

  seal(mercNo: string, orderId: string, payee: Payee): Buffer {
    const plain = Buffer.from(JSON.stringify([payee.payeeAccount, payee.payeeName ?? '']), 'utf8');
    try {
      return packSealed(seal(this.masterKey(), 'payee-data', [mercNo, orderId], plain));
    } finally {
      plain.fill(0);
    }
  }

  /** Throws UnsealError when the value does not open with this MASTER_KEY on this row. */
  open(mercNo: string, orderId: string, sealed: Uint8Array): Payee {
    const plain = unseal(this.masterKey(), 'payee-data', [mercNo, orderId], unpackSealed(sealed));
    try {
      const [payeeAccount, payeeName] = JSON.parse(plain.toString('utf8')) as [string, string];
      return payeeName ? { payeeAccount, payeeName } : { payeeAccount };
    } finally {
      plain.fill(0);
    }
  }
}
