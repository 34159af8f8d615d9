/**
 * Host test, always run last (see LAST_TEST_FILE): deactivating the extension stops the runtime
 * and leaves nothing running.
 */
import * as assert from 'node:assert/strict';
import { twinspaceApi, type TwinspaceTestApi } from './twinspaceApi';

describe('shutdown', () => {
  let api: TwinspaceTestApi;
  before(async () => {
    api = await twinspaceApi();
  });

  it('deactivateForTest() stops everything within 10 s', async function () {
    this.timeout(15_000);
    const open = api.runtime.openResources();
    assert.ok(open.length > 0, 'nothing to shut down: the check would prove nothing');
    const started = Date.now();
    await api.deactivateForTest();
    assert.ok(Date.now() - started < 10_000, 'deactivation took longer than 10 s');
    assert.deepEqual(api.runtime.openResources(), [], 'resources left open after deactivation');
    assert.equal(api.runtime.isShutDown(), true);
  });

  it('no worker is left running', () => {
    const running = api.runtime
      .workers()
      .filter((w) => ['running', 'starting', 'backoff'].includes(w.status));
    assert.deepEqual(running, []);
  });

  it('deactivateForTest() is idempotent', async () => {
    await api.deactivateForTest();
    assert.deepEqual(api.runtime.openResources(), []);
    assert.equal(api.runtime.isShutDown(), true);
  });
});
