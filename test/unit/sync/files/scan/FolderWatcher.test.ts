import { strict as assert } from 'node:assert';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChangeBatch } from '../../../../../src/sync/files/scan/ChangeCoalescer';
import {
  FolderWatcher,
  type WatchStrategy,
} from '../../../../../src/sync/files/scan/FolderWatcher';
import { IgnoreRules } from '../../../../../src/sync/files/scan/IgnoreRules';

/** Collects batches; `until` waits (bounded) until the seen paths satisfy a predicate. */
function collector(): {
  onBatch: (b: ChangeBatch) => void;
  paths: Set<string>;
  batches: ChangeBatch[];
  until: (pred: (paths: Set<string>) => boolean, what: string) => Promise<void>;
} {
  const paths = new Set<string>();
  const batches: ChangeBatch[] = [];
  let wake: (() => void) | undefined;
  return {
    paths,
    batches,
    onBatch: (b) => {
      batches.push(b);
      for (const p of b.paths) paths.add(p);
      wake?.();
    },
    until: async (pred, what) => {
      const deadline = Date.now() + 5000;
      while (!pred(paths)) {
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify([...paths])}`);
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

describe('FolderWatcher', function () {
  this.timeout(15_000);
  let root: string;
  let watcher: FolderWatcher | undefined;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'twinspace-watch-'));
    await fs.mkdir(path.join(root, 'src'));
    await fs.mkdir(path.join(root, 'node_modules/pkg'), { recursive: true });
    await fs.writeFile(path.join(root, '.gitignore'), 'node_modules/\n');
  });

  afterEach(async () => {
    watcher?.close();
    watcher = undefined;
    await fs.rm(root, { recursive: true, force: true });
  });

  it('picks recursive on macOS and Windows, per-directory elsewhere', () => {
    assert.equal(FolderWatcher.defaultStrategy('darwin'), 'recursive');
    assert.equal(FolderWatcher.defaultStrategy('win32'), 'recursive');
    assert.equal(FolderWatcher.defaultStrategy('linux'), 'per-directory');
  });

  for (const strategy of ['per-directory', 'recursive'] as WatchStrategy[]) {
    it(`${strategy}: reports changes in new and existing directories, not ignored ones`, async () => {
      const rules = new IgnoreRules();
      rules.setRules('', '.gitignore', 'node_modules/\n');
      const c = collector();
      watcher = new FolderWatcher(root, {
        strategy,
        debounceMs: 20,
        maxDelayMs: 100,
        isIgnored: (p, isDir) => rules.isIgnored(p, isDir),
        onBatch: c.onBatch,
      });
      await watcher.start();
      if (strategy === 'per-directory') {
        assert.equal(watcher.watchedDirs, 2, 'root and src; node_modules is not watched');
      }
      await fs.writeFile(path.join(root, 'node_modules/pkg/index.js'), 'x');
      await fs.writeFile(path.join(root, 'src/a.ts'), 'a');
      await c.until((p) => p.has('src/a.ts'), 'src/a.ts');
      // A directory created after start, then a file inside it.
      await fs.mkdir(path.join(root, 'new'));
      await c.until((p) => p.has('new'), 'new');
      await fs.writeFile(path.join(root, 'new/b.ts'), 'b');
      await c.until((p) => p.has('new/b.ts'), 'new/b.ts');
      await fs.rm(path.join(root, 'src/a.ts'));
      await fs.writeFile(path.join(root, 'done.txt'), 'sentinel');
      await c.until((p) => p.has('done.txt'), 'done.txt');
      assert.ok(![...c.paths].some((p) => p.startsWith('node_modules/')), [...c.paths].join());
      if (strategy === 'per-directory') assert.equal(watcher.watchedDirs, 3);
    });
  }

  it('per-directory: stops watching a removed directory', async () => {
    await fs.mkdir(path.join(root, 'src/deep'));
    const c = collector();
    watcher = new FolderWatcher(root, {
      strategy: 'per-directory',
      debounceMs: 20,
      isIgnored: (p) => p === 'node_modules',
      onBatch: c.onBatch,
    });
    await watcher.start();
    const watched = (): number => watcher?.watchedDirs ?? -1;
    assert.equal(watched(), 3);
    await fs.rm(path.join(root, 'src'), { recursive: true });
    await c.until((p) => p.has('src'), 'src');
    const deadline = Date.now() + 5000;
    while (watched() !== 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(watched(), 1);
  });
});
