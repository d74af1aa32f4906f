// The 商家转账 settings of `dtpay channel set MERCNO wxpay` (CONTRACT §3/§4 "WeChat transfer
// settings"): a transfer scene for 02, optionally another for 03, each with the report items the
// scene requires (transfer_scene_report_infos) and what the payee is shown (user_recv_perception).

import type { WxTransferScene } from '../credentials.js';
import { CredentialInputError } from '../credential-input.js';

export interface WxTransferSettingsInput {
  transferSceneId?: string;
  transferSceneReport?: string | Buffer;
  userRecvPerception?: string;
  withdrawSceneId?: string;
  withdrawSceneReport?: string | Buffer;
  withdrawRecvPerception?: string;
}

// WeChat's limits: info_type string[1,15], info_content string[1,32], user_recv_perception string[1,32].
const INFO_TYPE_MAX = 15;
const INFO_CONTENT_MAX = 32;
const PERCEPTION_MAX = 32;
const REPORT_ITEMS_MAX = 10;

const chars = (s: string) => [...s].length;

function sceneId(flag: string, v: string): string {
  const id = v.trim();
  if (!/^[0-9]{1,32}$/.test(id)) throw new CredentialInputError(flag, 'must be the transfer scene id shown in the merchant platform (digits, e.g. 1000)');
  return id;
}

/** A JSON array of {"info_type","info_content"}, each a non-empty string within WeChat's lengths. */
export function reportInfos(flag: string, input: string | Buffer): WxTransferScene['reportInfos'] {
  const text = (typeof input === 'string' ? input : input.toString('utf8')).replace(/^\uFEFF/, '');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CredentialInputError(flag, 'is not JSON; expected an array of {"info_type","info_content"}');
  }
  if (!Array.isArray(doc)) throw new CredentialInputError(flag, 'must hold a JSON array of {"info_type","info_content"}');
  if (doc.length > REPORT_ITEMS_MAX) throw new CredentialInputError(flag, `holds ${doc.length} report items; at most ${REPORT_ITEMS_MAX}`);
  return doc.map((item, i) => {
    const at = `item ${i + 1}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw new CredentialInputError(flag, `${at} is not an object {"info_type","info_content"}`);
    const extra = Object.keys(item).filter((k) => k !== 'info_type' && k !== 'info_content');
    if (extra.length > 0) throw new CredentialInputError(flag, `${at} has ${extra.map((k) => JSON.stringify(k)).join(', ')}; only "info_type" and "info_content" are allowed`);
    const { info_type: type, info_content: content } = item as Record<string, unknown>;
    if (typeof type !== 'string' || type.trim() === '' || chars(type) > INFO_TYPE_MAX) {
      throw new CredentialInputError(flag, `${at}: "info_type" must be a string of 1–${INFO_TYPE_MAX} characters (e.g. "活动名称")`);
    }
    if (typeof content !== 'string' || content.trim() === '' || chars(content) > INFO_CONTENT_MAX) {
      throw new CredentialInputError(flag, `${at}: "info_content" must be a string of 1–${INFO_CONTENT_MAX} characters`);
    }
    return { info_type: type, info_content: content };
  });
}

function perception(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.trim() === '' || chars(v) > PERCEPTION_MAX || /[\u0000-\u001f]/.test(v)) {
    throw new CredentialInputError(flag, `must be 1–${PERCEPTION_MAX} characters (e.g. 现金奖励), as registered for the scene`);
  }
  return v;
}

/**
 * transferScene and withdrawScene from the flags. Without --withdraw-scene-id, 03 uses the 02
 * scene (withdrawScene is left out). A withdraw scene that names the same scene id takes the 02
 * report items and perception where its own are not given; another scene has items of its own.
 */
export function buildTransferSettings(input: WxTransferSettingsInput): { transferScene?: WxTransferScene; withdrawScene?: WxTransferScene } {
  const need = (given: unknown, flag: string, idFlag: string) => {
    if (given !== undefined) throw new CredentialInputError(flag, `applies to a transfer scene; give ${idFlag} with it`);
  };
  const out: { transferScene?: WxTransferScene; withdrawScene?: WxTransferScene } = {};
  if (input.transferSceneId === undefined) {
    need(input.transferSceneReport, '--transfer-scene-report-file', '--transfer-scene-id');
    need(input.userRecvPerception, '--user-recv-perception', '--transfer-scene-id');
  } else {
    const p = perception('--user-recv-perception', input.userRecvPerception);
    out.transferScene = {
      sceneId: sceneId('--transfer-scene-id', input.transferSceneId),
      reportInfos: input.transferSceneReport === undefined ? [] : reportInfos('--transfer-scene-report-file', input.transferSceneReport),
      ...(p ? { userRecvPerception: p } : {}),
    };
  }
  if (input.withdrawSceneId === undefined) {
    need(input.withdrawSceneReport, '--withdraw-scene-report-file', '--withdraw-scene-id');
    need(input.withdrawRecvPerception, '--withdraw-recv-perception', '--withdraw-scene-id');
  } else {
    const id = sceneId('--withdraw-scene-id', input.withdrawSceneId);
    const same = out.transferScene?.sceneId === id ? out.transferScene : undefined;
    const p = perception('--withdraw-recv-perception', input.withdrawRecvPerception) ?? same?.userRecvPerception;
    out.withdrawScene = {
      sceneId: id,
      reportInfos: input.withdrawSceneReport !== undefined ? reportInfos('--withdraw-scene-report-file', input.withdrawSceneReport) : (same?.reportInfos ?? []),
      ...(p ? { userRecvPerception: p } : {}),
    };
  }
  return out;
}
