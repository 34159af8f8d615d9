/**
 * The tab demoter: the memory monitor's supervised worker ('tab-demoter') that closes the least
 * recently used clean, unpinned, inactive editor tabs (Active → Cold) when memory is under
 * pressure or more tabs are open than `policy.tabBudget`, as planned by the pure `planDemotion`
 * (src/core/demotionPolicy.ts: budget halved at 'elevated', zero at 'critical').
 *
 * It checks every `policy.sampleIntervalMs`, and at once when the memory pressure, the policy or
 * the tab set (an optional change counter the host bumps) changes. A `close` that rejects fails
 * the worker (the supervisor restarts it with backoff). It returns when its signal aborts.
 */
import type { MemoryPressure } from '../core/intents';
import { planDemotion, type TabInfo } from '../core/demotionPolicy';
import type { LifecyclePolicy } from '../core/lifecyclePolicy';
import { isAborted, waitForWake, type Watched } from './PrefetchScheduler';
import type { WatchChannel } from './Watch';
import type { WorkerContext, WorkerSpec } from './Worker';

export type { TabInfo } from '../core/demotionPolicy';

/** The editor's tabs (the host implements it on the vscode API). */
export interface TabController {
  tabs(): TabInfo[];
  close(ids: readonly string[]): Promise<void>;
}

export interface TabDemoterOptions {
  readonly policy: WatchChannel<LifecyclePolicy>;
  readonly pressure: WatchChannel<MemoryPressure>;
  readonly tabs: TabController;
  /** Bumped by the host when tabs open or close: wakes the demoter at once. */
  readonly tabsChanged?: WatchChannel<number>;
}

export interface TabDemoterStats {
  /** Rounds run since start. */
  readonly rounds: number;
  /** Tabs closed since start. */
  readonly demoted: number;
  /** The ids closed by the latest round that closed any. */
  readonly lastDemoted: readonly string[];
}

export class TabDemoter {
  readonly spec: WorkerSpec;
  private readonly options: TabDemoterOptions;
  private rounds = 0;
  private demoted = 0;
  private lastDemoted: readonly string[] = [];

  constructor(options: TabDemoterOptions) {
    this.options = options;
    this.spec = {
      name: 'tab-demoter',
      run: (signal, ctx) => this.run(signal, ctx),
    };
  }

  stats(): TabDemoterStats {
    return { rounds: this.rounds, demoted: this.demoted, lastDemoted: this.lastDemoted };
  }

  private async run(signal: AbortSignal, ctx: WorkerContext): Promise<void> {
    const { policy, pressure, tabsChanged } = this.options;
    while (!signal.aborted) {
      const seen: [Watched, number][] = [
        [policy, policy.version],
        [pressure, pressure.version],
      ];
      if (tabsChanged) seen.push([tabsChanged, tabsChanged.version]);
      this.rounds += 1;
      const current = policy.get();
      const plan = planDemotion({
        tabs: this.options.tabs.tabs(),
        tabBudget: current.tabBudget,
        pressure: pressure.get(),
      });
      if (plan.length > 0) {
        await this.options.tabs.close(plan);
        if (isAborted(signal)) return;
        this.demoted += plan.length;
        this.lastDemoted = Object.freeze(plan);
      }
      const woke = await waitForWake(ctx.clock, current.sampleIntervalMs, seen, signal);
      if (woke === 'aborted') return;
    }
  }
}
