import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { readGitHead } from '../../../../src/sync/files/readGitHead';

const SHA = '0123456789abcdef0123456789abcdef01234567';

describe('readGitHead', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'twinspace-git-'));
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('is undefined outside a work tree', async () => {
    assert.equal(await readGitHead(root), undefined);
  });

  it('resolves a branch through a loose ref, then through packed-refs', async () => {
    mkdirSync(path.join(root, '.git', 'refs', 'heads'), { recursive: true });
    writeFileSync(path.join(root, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(path.join(root, '.git', 'refs', 'heads', 'main'), `${SHA}\n`);
    assert.deepEqual(await readGitHead(root), { branch: 'main', head: SHA });
    rmSync(path.join(root, '.git', 'refs', 'heads', 'main'));
    writeFileSync(
      path.join(root, '.git', 'packed-refs'),
      `# pack-refs with: peeled\n${SHA.replace('0', 'f')} refs/heads/main\n`,
    );
    assert.deepEqual(await readGitHead(root), { branch: 'main', head: SHA.replace('0', 'f') });
  });

  it('reports a detached HEAD and an unborn branch', async () => {
    mkdirSync(path.join(root, '.git'));
    writeFileSync(path.join(root, '.git', 'HEAD'), `${SHA}\n`);
    assert.deepEqual(await readGitHead(root), { branch: '', head: SHA });
    writeFileSync(path.join(root, '.git', 'HEAD'), 'ref: refs/heads/new\n');
    assert.deepEqual(await readGitHead(root), { branch: 'new', head: '' });
  });

  it('follows a `gitdir:` file (linked worktree) and its commondir', async () => {
    const common = path.join(root, 'repo.git');
    const wt = path.join(common, 'worktrees', 'wt');
    mkdirSync(path.join(common, 'refs', 'heads'), { recursive: true });
    mkdirSync(wt, { recursive: true });
    writeFileSync(path.join(common, 'refs', 'heads', 'topic'), `${SHA}\n`);
    writeFileSync(path.join(wt, 'HEAD'), 'ref: refs/heads/topic\n');
    writeFileSync(path.join(wt, 'commondir'), '../..\n');
    const folder = path.join(root, 'checkout');
    mkdirSync(folder);
    writeFileSync(path.join(folder, '.git'), `gitdir: ${wt}\n`);
    assert.deepEqual(await readGitHead(folder), { branch: 'topic', head: SHA });
  });
});
