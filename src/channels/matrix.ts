import type { Payway, Scene } from './types.js';

// CONTRACT §2.3: the cells a payway serves, and where each one's answer goes in the response.
export type ResultField = 'codeUrl' | 'mwebUrl' | 'payInfo' | 'resultHtml';

export const SCENE_MATRIX: Record<Payway, Partial<Record<Scene, ResultField>>> = {
  alipay: { scan: 'codeUrl', h5: 'mwebUrl', app: 'payInfo', jspay: 'payInfo', gateway: 'resultHtml' },
  wxpay: { scan: 'codeUrl', h5: 'mwebUrl', app: 'payInfo', jspay: 'payInfo' },
  unionpay: { scan: 'codeUrl', h5: 'resultHtml', app: 'payInfo', gateway: 'resultHtml', ebank: 'resultHtml' },
};

export function supportedCells(): string[] {
  return Object.entries(SCENE_MATRIX).flatMap(([payway, scenes]) => Object.keys(scenes).map((s) => `${payway}.${s}`));
}
