import type { MerchantMode } from '../db/rows.js';
import { SCENE_MATRIX, supportedCells } from './matrix.js';
import type { ChannelDriver, Payway, Scene } from './types.js';

export interface Registration {
  mode: MerchantMode;
  /** "payway.scene" */
  cell: string;
  driver: ChannelDriver<any>;
}

export type Resolution =
  | { ok: true; driver: ChannelDriver<any>; payway: Payway; scene: Scene }
  | { ok: false; supported: string[] };

/** "payway.scene" → driver, per merchant mode. A cell outside the contract's matrix fails at start-up. */
export class ChannelRegistry {
  private readonly cells = new Map<string, ChannelDriver<any>>();
  private readonly byName = new Map<string, ChannelDriver<any>>();
  private readonly modesByName = new Map<string, Set<MerchantMode>>();

  constructor(registrations: Registration[]) {
    const known = new Set(supportedCells());
    for (const r of registrations) {
      if (!known.has(r.cell)) throw new Error(`channel registry: ${r.cell} is not a cell of the scene matrix`);
      const key = `${r.mode}:${r.cell}`;
      if (this.cells.has(key)) throw new Error(`channel registry: ${key} registered twice`);
      this.cells.set(key, r.driver);
      const other = this.byName.get(r.driver.name);
      if (other && other !== r.driver) throw new Error(`channel registry: two drivers named ${r.driver.name}`);
      this.byName.set(r.driver.name, r.driver);
      const modes = this.modesByName.get(r.driver.name) ?? new Set<MerchantMode>();
      this.modesByName.set(r.driver.name, modes.add(r.mode));
    }
  }

  resolve(mode: MerchantMode, payway: string, scene: string): Resolution {
    const driver = this.cells.get(`${mode}:${payway}.${scene}`);
    if (driver && payway in SCENE_MATRIX) return { ok: true, driver, payway: payway as Payway, scene: scene as Scene };
    return { ok: false, supported: this.supported(mode) };
  }

  supported(mode: MerchantMode): string[] {
    const prefix = `${mode}:`;
    return [...this.cells.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  /** The driver whose callbacks arrive at /channel/{name}/notify, if it serves merchants in `mode`. */
  driverNamed(name: string, mode: MerchantMode): ChannelDriver<any> | undefined {
    return this.modesByName.get(name)?.has(mode) ? this.byName.get(name) : undefined;
  }
}
