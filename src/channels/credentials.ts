// What each live channel needs from a merchant, as `dtpay channel set` stores it (encrypted with
// MASTER_KEY) and as the driver receives it. Keys and certificates are PEM text (UnionPay's signing
// certificate arrives as a PFX and is stored as its PEM key plus the certificate's decimal serial).

export interface AlipayCredentials {
  appId: string;
  /** the merchant's application private key, PEM (PKCS#8 or PKCS#1) */
  privateKeyPem: string;
  /** Alipay's public key, PEM; in certificate mode, the key of the Alipay certificate's leaf */
  alipayPublicKeyPem: string;
  /** default https://openapi.alipay.com/gateway.do */
  gatewayUrl: string;
  /** 公钥证书 mode (needed for fund transfers); absent in public-key mode */
  cert?: AlipayCertMode;
}

export interface AlipayCertMode {
  /** appCertPublicKey_<appid>.crt: the application's certificate, PEM */
  appCertPem: string;
  /** app_cert_sn, sent on every request */
  appCertSn: string;
  /** alipayCertPublicKey_RSA2.crt: Alipay's leaf certificate, then its intermediate, PEM */
  alipayCertPem: string;
  /** the SN of the leaf: answers naming it are verified with alipayPublicKeyPem */
  alipayCertSn: string;
  /** alipayRootCert.crt: the root bundle, PEM; rotated Alipay certificates must chain to it */
  alipayRootCertPem: string;
  /** alipay_root_cert_sn, sent on every request */
  alipayRootCertSn: string;
}

export interface WxpayCredentials {
  mchid: string;
  appid: string;
  /** serial number of the merchant API certificate, hex */
  serialNo: string;
  /** the merchant API private key, PEM */
  privateKeyPem: string;
  /** 32-byte APIv3 key (AES-256-GCM for notifications and certificates) */
  apiv3Key: string;
  /** how WeChat Pay's answers are verified: its platform certificate, or its public key and id */
  platformCertPem?: string;
  wechatpayPublicKeyPem?: string;
  /** PUB_KEY_ID_… */
  wechatpayPublicKeyId?: string;
  /** default https://api.mch.weixin.qq.com */
  baseUrl: string;
  /** 商家转账 settings for 02 payouts; without them the merchant cannot pay out through WeChat */
  transferScene?: WxTransferScene;
  /** the same for 03 (withdrawals); absent: 03 uses transferScene */
  withdrawScene?: WxTransferScene;
}

/** A transfer scene registered in the WeChat Pay merchant platform (商家转账 → 转账场景). */
export interface WxTransferScene {
  /** transfer_scene_id, e.g. 1000 (现金营销), 1005 (佣金报酬) */
  sceneId: string;
  /** transfer_scene_report_infos: the report items the scene requires */
  reportInfos: { info_type: string; info_content: string }[];
  /** user_recv_perception: what the payee is shown; WeChat picks the scene's default when absent */
  userRecvPerception?: string;
}

export interface UnionpayCredentials {
  merId: string;
  /** the signing private key, PEM, from the PFX */
  signKeyPem: string;
  /** the signing certificate, PEM, from the PFX */
  signCertPem: string;
  /** the signing certificate's serial number, decimal (certId) */
  certId: string;
  /** UnionPay's root and intermediate certificates, PEM, that signPubKeyCert must chain to */
  rootCertPem: string;
  middleCertPem: string;
  /** UnionPay's sensitive-data encryption certificate, PEM (payouts encrypt accNo and the name with it) */
  encryptCertPem?: string;
  /** its serial number, decimal (encryptCertId) */
  encryptCertId?: string;
  /** default https://gateway.95516.com */
  baseUrl: string;
}

export type LivePayway = 'alipay' | 'wxpay' | 'unionpay';

export interface CredentialsByPayway {
  alipay: AlipayCredentials;
  wxpay: WxpayCredentials;
  unionpay: UnionpayCredentials;
}

export const CHANNEL_DEFAULT_URLS: Readonly<Record<LivePayway, string>> = Object.freeze({
  alipay: 'https://openapi.alipay.com/gateway.do',
  wxpay: 'https://api.mch.weixin.qq.com',
  unionpay: 'https://gateway.95516.com',
});

export const LIVE_PAYWAYS: readonly LivePayway[] = ['alipay', 'wxpay', 'unionpay'];

export const isLivePayway = (s: string): s is LivePayway => (LIVE_PAYWAYS as readonly string[]).includes(s);

/** Where the channel sends its asynchronous results for this merchant (registered by the operator). */
export function channelCallbackUrl(publicBaseUrl: string, payway: LivePayway, mercNo: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/channel/${payway}/notify/${mercNo}`;
}
