// 商家转账 (transfer bills, in force since 2025-01-15) as it travels: paths and the JSON shapes
// (channel-protocols.md §5). The older /v3/transfer/batches is refused for merchants opened
// after the change and is not spoken here.

export const WX_TRANSFER_PATHS = {
  create: '/v3/fund-app/mch-transfer/transfer-bills',
  query: (outBillNo: string) => `/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/${encodeURIComponent(outBillNo)}`,
  cancel: (outBillNo: string) => `/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/${encodeURIComponent(outBillNo)}/cancel`,
} as const;

export const WX_TRANSFER_EVENT = 'MCHTRANSFER.BILL.FINISHED';

/** transfer_remark is string[1,32] */
export const WX_TRANSFER_REMARK_MAX = 32;

/** From this amount on (2,000.00 yuan) WeChat requires the payee's real name. */
export const WX_USER_NAME_FROM_FEN = 200_000n;

export interface WxTransferBody {
  appid: string;
  out_bill_no: string;
  transfer_scene_id: string;
  openid: string;
  user_name?: string;
  transfer_amount: number;
  transfer_remark: string;
  notify_url: string;
  user_recv_perception?: string;
  transfer_scene_report_infos: { info_type: string; info_content: string }[];
}

/** A bill as the create, query and cancel answers and the notification's resource carry it. */
export interface WxTransferBill {
  mch_id?: string;
  appid?: string;
  out_bill_no?: string;
  transfer_bill_no?: string;
  /** ACCEPTED | PROCESSING | WAIT_USER_CONFIRM | TRANSFERING | SUCCESS | FAIL | CANCELING | CANCELLED */
  state?: string;
  transfer_amount?: number;
  transfer_remark?: string;
  fail_reason?: string;
  openid?: string;
  create_time?: string;
  update_time?: string;
  /** only while the payee can confirm: what wx.requestMerchantTransfer takes as `package` */
  package_info?: string;
}
