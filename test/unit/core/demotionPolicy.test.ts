import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  effectiveTabBudget,
  isDemotable,
  planDemotion,
  type TabInfo,
} from '../../../src/core/demotionPolicy';
import type { MemoryPressure } from '../../../src/core/intents';

function tab(id: string, lastActiveAt: number, extra: Partial<TabInfo> = {}): TabInfo {
  return { id, lastActiveAt, dirty: false, pinned: false, active: false, ...extra };
}

const tabArb = fc.record({
  id: fc.string({ minLength: 1, maxLength: 4 }),
  lastActiveAt: fc.integer({ min: 0, max: 1_000 }),
  dirty: fc.boolean(),
  pinned: fc.boolean(),
  active: fc.boolean(),
});
const pressureArb = fc.constantFrom<MemoryPressure>('normal', 'elevated', 'critical');

describe('demotion policy', () => {
  it('closes nothing within the budget', () => {
    const tabs = [tab('a', 1), tab('b', 2), tab('c', 3)];
    assert.deepEqual(planDemotion({ tabs, tabBudget: 3, pressure: 'normal' }), []);
  });

  it('past the budget closes the least recently used clean, unpinned, inactive tabs', () => {
    const tabs = [
      tab('new', 50),
      tab('dirty-oldest', 1, { dirty: true }),
      tab('pinned-old', 2, { pinned: true }),
      tab('active-old', 3, { active: true }),
      tab('old', 10),
      tab('older', 5),
    ];
    // 6 tabs, budget 4: two must go; the three oldest are protected, so older then old.
    assert.deepEqual(planDemotion({ tabs, tabBudget: 4, pressure: 'normal' }), ['older', 'old']);
  });

  it('halves the budget under elevated pressure and closes every candidate at critical', () => {
    const tabs = [tab('a', 1), tab('b', 2), tab('c', 3), tab('d', 4, { active: true })];
    assert.deepEqual(planDemotion({ tabs, tabBudget: 4, pressure: 'normal' }), []);
    assert.deepEqual(planDemotion({ tabs, tabBudget: 4, pressure: 'elevated' }), ['a', 'b']);
    assert.deepEqual(planDemotion({ tabs, tabBudget: 4, pressure: 'critical' }), ['a', 'b', 'c']);
    assert.equal(effectiveTabBudget(5, 'elevated'), 2);
    assert.equal(effectiveTabBudget(1, 'elevated'), 1);
    assert.equal(effectiveTabBudget(20, 'critical'), 0);
  });

  it('breaks lastActiveAt ties by id (deterministic)', () => {
    const tabs = [tab('b', 1), tab('a', 1), tab('c', 1)];
    assert.deepEqual(planDemotion({ tabs, tabBudget: 1, pressure: 'normal' }), ['a', 'b']);
  });

  it('property: never dirty, pinned or active; budget respected when it can be; LRU order', () => {
    fc.assert(
      fc.property(
        fc.array(tabArb, { maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        pressureArb,
        (raw, tabBudget, pressure) => {
          // Unique ids, as the host gives.
          const tabs = raw.map((t, i) => ({ ...t, id: `${t.id}#${i}` }));
          const closed = planDemotion({ tabs, tabBudget, pressure });
          const byId = new Map(tabs.map((t) => [t.id, t]));
          const closedSet = new Set(closed);
          assert.equal(closedSet.size, closed.length, 'no id twice');
          for (const id of closed) {
            const t = byId.get(id);
            assert.ok(t, `closed unknown ${id}`);
            assert.ok(!t.dirty && !t.pinned && !t.active, `closed protected ${id}`);
          }
          const budget = effectiveTabBudget(tabBudget, pressure);
          const candidates = tabs.filter(isDemotable);
          const needed = Math.max(0, tabs.length - budget);
          // Exactly as many as needed, or every candidate when there are not enough.
          assert.equal(closed.length, Math.min(needed, candidates.length));
          if (candidates.length >= needed) assert.ok(tabs.length - closed.length <= budget);
          // Least recently used first: nothing kept is older than something closed.
          const newestClosed = Math.max(-1, ...closed.map((id) => byId.get(id)?.lastActiveAt ?? 0));
          for (const t of candidates) {
            if (!closedSet.has(t.id)) assert.ok(t.lastActiveAt >= newestClosed);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
