import type { PayStatus } from '../domain/order-states.js';

export type MerchantMode = 'sandbox' | 'live';

export interface MerchantRow {
  merc_no: string;
  name: string;
  mode: MerchantMode;
  key: string;
  status: 'active' | 'disabled';
  created_at: number;
  updated_at: number;
}

export type ChannelState = 'accepted' | 'refused' | 'unknown';

export interface OrderRow {
  order_id: string;
  merc_no: string;
  merc_order_no: string;
  request_hash: string;
  payway: string;
  scene: string;
  trade_type: string;
  amount_fen: bigint;
  fee_type: string;
  trade_time: string;
  order_period: number;
  term_type: string;
  notify_url: string;
  return_url: string | null;
  request_json: string;
  pay_status: PayStatus;
  channel_state: ChannelState;
  channel_trade_no: string | null;
  channel_code: string | null;
  channel_msg: string | null;
  response_json: string;
  created_at: number;
  expire_at: number;
  trade_end_time: string | null;
  bank_type: string | null;
  late_payment: number;
  updated_at: number;
}
