import type { MerchantMode } from '../db/rows.js';
import { PAYOUT_MATRIX, PAYOUT_SCENE, SCENE_MATRIX, supportedCells } from './matrix.js';
import type { ChannelDriver, Payway, Scene } from './types.js';
import type { PayeeAccountType } from './payout-types.js';

export interface Registration {
  mode: MerchantMode;
  /** "payway.scene" */
  cell: string;
  driver: ChannelDriver<any>;
}

export type Resolution =
  | { ok: true; driver: ChannelDriver<any>; payway: Payway; scene: Scene | typeof PAYOUT_SCENE }
  | { ok: false; supported: string[] };

/** "payway.scene" → driver, per merchant mode. A cell outside the contract's matrix fails at start-up. */
export class ChannelRegistry {
  private readonly cells = new Map<string, ChannelDriver<any>>();
  /** "mode:payway.transfer" → driver: a payway pays out wherever its driver has `transfer`. */
  private readonly payoutCells = new Map<string, ChannelDriver<any>>();
  private readonly byName = new Map<string, ChannelDriver<any>>();
  private readonly modesByName = new Map<string, Set<MerchantMode>>();

  constructor(registrations: Registration[]) {
    const known = new Set(supportedCells());
    for (const r of registrations) {
      if (!known.has(r.cell)) throw new Error(`channel registry: ${r.cell} is not a cell of the scene matrix`);
      const key = `${r.mode}:${r.cell}`;
      if (this.cells.has(key)) throw new Error(`channel registry: ${key} registered twice`);
      this.cells.set(key, r.driver);
      if (typeof r.driver.transfer === 'function') this.payoutCells.set(`${r.mode}:${r.cell.split('.')[0]}.${PAYOUT_SCENE}`, r.driver);
      const other = this.byName.get(r.driver.name);
      if (other && other !== r.driver) throw new Error(`channel registry: two drivers named ${r.driver.name}`);
      this.byName.set(r.driver.name, r.driver);
      const modes = this.modesByName.get(r.driver.name) ?? new Set<MerchantMode>();
      this.modesByName.set(r.driver.name, modes.add(r.mode));
    }
  }

  resolve(mode: MerchantMode, payway: string, scene: string): Resolution {
    if (scene === PAYOUT_SCENE) {
      const payout = this.payoutCells.get(`${mode}:${payway}.${scene}`);
      if (payout && payway in PAYOUT_MATRIX) return { ok: true, driver: payout, payway: payway as Payway, scene };
      return { ok: false, supported: this.supportedPayouts(mode).map((p) => p.cell) };
    }
    const driver = this.cells.get(`${mode}:${payway}.${scene}`);
    if (driver && payway in SCENE_MATRIX) return { ok: true, driver, payway: payway as Payway, scene: scene as Scene };
    return { ok: false, supported: this.supported(mode) };
  }

  supported(mode: MerchantMode): string[] {
    const prefix = `${mode}:`;
    return [...this.cells.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  /**
   * The payout cells offered to merchants in `mode`, each with the payee account types it takes:
   * those of the contract's payout matrix that the driver says it takes.
   */
  supportedPayouts(mode: MerchantMode): { cell: string; payway: Payway; accountTypes: PayeeAccountType[] }[] {
    const prefix = `${mode}:`;
    return [...this.payoutCells.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, driver]) => {
        const cell = k.slice(prefix.length);
        const payway = cell.split('.')[0] as Payway;
        const takes = driver.payeeAccountTypes ?? [];
        return { cell, payway, accountTypes: PAYOUT_MATRIX[payway].filter((a) => takes.includes(a)) };
      });
  }

  /** The driver whose callbacks arrive at /channel/{name}/notify, if it serves merchants in `mode`. */
  driverNamed(name: string, mode: MerchantMode): ChannelDriver<any> | undefined {
    return this.modesByName.get(name)?.has(mode) ? this.byName.get(name) : undefined;
  }
}
