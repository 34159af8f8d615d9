import { strict as assert } from 'node:assert';
import type { TabInfo } from '../../../src/core/demotionPolicy';
import type { MemoryPressure } from '../../../src/core/intents';
import { defaultLifecyclePolicy, type LifecyclePolicy } from '../../../src/core/lifecyclePolicy';
import { ControlPanel } from '../../../src/runtime/ControlPanel';
import { Diagnostics } from '../../../src/runtime/Diagnostics';
import { TabDemoter, type TabController } from '../../../src/runtime/TabDemoter';
import { WatchChannel } from '../../../src/runtime/Watch';
import { fakeClock } from '../support/fakeClock';

class FakeTabs implements TabController {
  open: TabInfo[];
  readonly closes: { ids: string[]; at: number }[] = [];
  failNext = false;
  constructor(
    tabs: TabInfo[],
    private readonly now: () => number,
    private readonly changed?: WatchChannel<number>,
  ) {
    this.open = tabs;
  }
  tabs(): TabInfo[] {
    return [...this.open];
  }
  close(ids: readonly string[]): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('close failed'));
    }
    this.closes.push({ ids: [...ids], at: this.now() });
    this.open = this.open.filter((t) => !ids.includes(t.id));
    this.changed?.set(this.changed.get() + 1);
    return Promise.resolve();
  }
}

const tab = (id: string, lastActiveAt: number, extra: Partial<TabInfo> = {}): TabInfo => ({
  id,
  lastActiveAt,
  dirty: false,
  pinned: false,
  active: false,
  ...extra,
});

function setup(tabs: TabInfo[], tabBudget = 3) {
  const { fake, clock } = fakeClock(0);
  const diagnostics = new Diagnostics({ clock });
  const panel = new ControlPanel({ diagnostics, clock });
  const policy = new WatchChannel<LifecyclePolicy>({
    ...defaultLifecyclePolicy,
    sampleIntervalMs: 1_000,
    tabBudget,
  });
  const pressure = new WatchChannel<MemoryPressure>('normal');
  const tabsChanged = new WatchChannel<number>(0);
  const controller = new FakeTabs(tabs, () => fake.now, tabsChanged);
  const demoter = new TabDemoter({ policy, pressure, tabs: controller, tabsChanged });
  panel.startWorker(demoter.spec);
  return { fake, panel, policy, pressure, tabsChanged, controller, demoter };
}

describe('tab demoter', () => {
  it('closes the least recently used clean, unpinned, inactive tabs past the budget', async () => {
    const h = setup([
      tab('t1', 1, { dirty: true }),
      tab('t2', 2),
      tab('t3', 3, { pinned: true }),
      tab('t4', 4),
      tab('t5', 5, { active: true }),
      tab('t6', 6),
    ]);
    assert.equal(h.demoter.spec.name, 'tab-demoter');
    await h.fake.tickAsync(0);
    assert.deepEqual(h.controller.closes, [{ ids: ['t2', 't4', 't6'], at: 0 }]);
    assert.deepEqual(
      h.controller.open.map((t) => t.id),
      ['t1', 't3', 't5'],
    );
    assert.equal(h.demoter.stats().demoted, 3);
    await h.fake.tickAsync(10_000);
    assert.equal(h.controller.closes.length, 1, 'within budget: nothing more');
    await h.panel.shutdown(1_000);
  });

  it('checks every sampleIntervalMs and at once when tabs change', async () => {
    const h = setup([tab('a', 1), tab('b', 2)], 2);
    await h.fake.tickAsync(0);
    assert.equal(h.controller.closes.length, 0);
    const rounds = h.demoter.stats().rounds;
    await h.fake.tickAsync(1_000);
    assert.equal(h.demoter.stats().rounds, rounds + 1);
    h.controller.open.push(tab('c', 3));
    h.tabsChanged.set(1);
    await h.fake.tickAsync(0);
    assert.deepEqual(
      h.controller.closes.map((c) => c.ids),
      [['a']],
    );
    assert.equal(h.controller.closes[0]?.at, 1_000);
    await h.panel.shutdown(1_000);
  });

  it('demotes more under pressure (half the budget, then every candidate) at once', async () => {
    const h = setup(
      [tab('a', 1), tab('b', 2), tab('c', 3), tab('d', 4), tab('e', 5, { active: true })],
      5,
    );
    await h.fake.tickAsync(0);
    assert.equal(h.controller.closes.length, 0);
    h.pressure.set('elevated');
    await h.fake.tickAsync(0);
    assert.deepEqual(
      h.controller.closes.map((c) => c.ids),
      [['a', 'b', 'c']],
    );
    h.pressure.set('critical');
    await h.fake.tickAsync(0);
    assert.deepEqual(
      h.controller.closes.map((c) => c.ids),
      [['a', 'b', 'c'], ['d']],
    );
    assert.deepEqual(
      h.controller.open.map((t) => t.id),
      ['e'],
    );
    await h.panel.shutdown(1_000);
  });

  it('follows a policy change (the tabBudget setting) at once', async () => {
    const h = setup([tab('a', 1), tab('b', 2), tab('c', 3)], 5);
    await h.fake.tickAsync(0);
    h.policy.set({ ...h.policy.get(), tabBudget: 1 });
    await h.fake.tickAsync(0);
    assert.deepEqual(
      h.controller.closes.map((c) => c.ids),
      [['a', 'b']],
    );
    await h.panel.shutdown(1_000);
  });

  it('a failing close fails the run; the supervisor restarts it and it recovers', async () => {
    const h = setup([tab('a', 1), tab('b', 2)], 2);
    await h.fake.tickAsync(0);
    h.controller.failNext = true;
    h.policy.set({ ...h.policy.get(), tabBudget: 1 });
    await h.fake.tickAsync(0);
    const health = h.panel.workers()[0];
    assert.equal(health?.status, 'backoff');
    assert.equal(health.lastError, 'close failed');
    await h.fake.tickAsync(1_000);
    assert.equal(h.panel.workers()[0]?.status, 'running');
    assert.deepEqual(
      h.controller.closes.map((c) => c.ids),
      [['a']],
    );
    const report = await h.panel.shutdown(1_000);
    assert.deepEqual(report.timedOut, []);
  });
});
