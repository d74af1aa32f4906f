import t from 'tap';
import { buildTransferSettings, reportInfos } from '../../src/channels/wxpay/transfer-settings.js';
import { CredentialInputError } from '../../src/channels/credential-input.js';

// The WeChat transfer settings of `channel set … wxpay` (CONTRACT §4 "WeChat transfer settings").

const REPORT = JSON.stringify([
  { info_type: '活动名称', info_content: '新会员有礼' },
  { info_type: '奖励说明', info_content: '注册会员抽奖一等奖' },
]);

t.test('a transfer scene, and 03 defaulting to it', async (t) => {
  t.same(buildTransferSettings({}), {}, 'none: no payouts');
  const s = buildTransferSettings({ transferSceneId: ' 1000 ', transferSceneReport: Buffer.from(`\uFEFF${REPORT}`), userRecvPerception: '现金奖励' });
  t.same(s, { transferScene: { sceneId: '1000', reportInfos: JSON.parse(REPORT), userRecvPerception: '现金奖励' } }, 'no withdrawScene: 03 uses the 02 scene');
  t.same(buildTransferSettings({ transferSceneId: '1000' }), { transferScene: { sceneId: '1000', reportInfos: [] } }, 'report items are optional here (WeChat checks the scene’s)');
});

t.test('a withdraw scene of its own, or the same scene taking the 02 items', async (t) => {
  const own = buildTransferSettings({
    transferSceneId: '1000',
    transferSceneReport: REPORT,
    userRecvPerception: '现金奖励',
    withdrawSceneId: '1005',
    withdrawSceneReport: '[{"info_type":"岗位类型","info_content":"外卖骑手"}]',
    withdrawRecvPerception: '劳务报酬',
  });
  t.same(own.withdrawScene, { sceneId: '1005', reportInfos: [{ info_type: '岗位类型', info_content: '外卖骑手' }], userRecvPerception: '劳务报酬' });
  const other = buildTransferSettings({ transferSceneId: '1000', transferSceneReport: REPORT, userRecvPerception: '现金奖励', withdrawSceneId: '1005' });
  t.same(other.withdrawScene, { sceneId: '1005', reportInfos: [] }, 'another scene does not borrow the 02 items');
  const same = buildTransferSettings({ transferSceneId: '1000', transferSceneReport: REPORT, userRecvPerception: '现金奖励', withdrawSceneId: '1000' });
  t.same(same.withdrawScene, { sceneId: '1000', reportInfos: JSON.parse(REPORT), userRecvPerception: '现金奖励' });
  t.same(buildTransferSettings({ withdrawSceneId: '1005' }), { withdrawScene: { sceneId: '1005', reportInfos: [] } }, 'withdrawals only');
});

t.test('every mistake names its flag and the rule', async (t) => {
  const bad: [Parameters<typeof buildTransferSettings>[0], RegExp][] = [
    [{ transferSceneId: 'abc' }, /^--transfer-scene-id: must be the transfer scene id/],
    [{ transferSceneId: '' }, /^--transfer-scene-id:/],
    [{ withdrawSceneId: '10 05' }, /^--withdraw-scene-id:/],
    [{ transferSceneReport: REPORT }, /^--transfer-scene-report-file: applies to a transfer scene; give --transfer-scene-id/],
    [{ userRecvPerception: '现金奖励' }, /^--user-recv-perception: applies to a transfer scene/],
    [{ transferSceneId: '1000', withdrawSceneReport: REPORT }, /^--withdraw-scene-report-file: applies to a transfer scene; give --withdraw-scene-id/],
    [{ transferSceneId: '1000', withdrawRecvPerception: 'x' }, /^--withdraw-recv-perception:/],
    [{ transferSceneId: '1000', userRecvPerception: '' }, /^--user-recv-perception: must be 1–32 characters/],
    [{ transferSceneId: '1000', userRecvPerception: '奖'.repeat(33) }, /^--user-recv-perception: must be 1–32/],
    [{ transferSceneId: '1000', userRecvPerception: 'a\nb' }, /^--user-recv-perception:/],
    [{ transferSceneId: '1000', transferSceneReport: 'not json' }, /^--transfer-scene-report-file: is not JSON/],
    [{ transferSceneId: '1000', transferSceneReport: '{"info_type":"a","info_content":"b"}' }, /must hold a JSON array/],
    [{ transferSceneId: '1000', transferSceneReport: '[1]' }, /item 1 is not an object/],
    [{ transferSceneId: '1000', transferSceneReport: '[{"info_type":"a"}]' }, /item 1: "info_content" must be a string of 1–32/],
    [{ transferSceneId: '1000', transferSceneReport: '[{"info_type":"a","info_content":"b"},{"info_type":"","info_content":"b"}]' }, /item 2: "info_type" must be/],
    [{ transferSceneId: '1000', transferSceneReport: `[{"info_type":"${'类'.repeat(16)}","info_content":"b"}]` }, /"info_type" must be a string of 1–15/],
    [{ transferSceneId: '1000', transferSceneReport: `[{"info_type":"a","info_content":"${'容'.repeat(33)}"}]` }, /"info_content" must be a string of 1–32/],
    [{ transferSceneId: '1000', transferSceneReport: '[{"info_type":"a","info_content":"b","x":1}]' }, /item 1 has "x"; only "info_type" and "info_content"/],
    [{ transferSceneId: '1000', transferSceneReport: JSON.stringify(Array.from({ length: 11 }, () => ({ info_type: 'a', info_content: 'b' }))) }, /11 report items; at most 10/],
  ];
  for (const [input, msg] of bad) {
    t.throws(() => buildTransferSettings(input), CredentialInputError, JSON.stringify(input).slice(0, 60));
    t.throws(() => buildTransferSettings(input), { message: msg });
  }
  t.same(reportInfos('--f', '[]'), [], 'an empty array is a scene without items');
  t.same(reportInfos('--f', `[{"info_type":"${'类'.repeat(15)}","info_content":"${'容'.repeat(32)}"}]`).length, 1, 'the limits count characters, not bytes');
});
