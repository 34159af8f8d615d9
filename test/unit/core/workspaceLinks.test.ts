import { strict as assert } from 'node:assert';
import {
  normalizeGitRemote,
  rankOffers,
  type PeerWorkspaceOffer,
} from '../../../src/core/workspaceLinks';

describe('workspaceLinks', () => {
  describe('normalizeGitRemote', () => {
    it('gives one key for the ssh, scp-like and https spellings of a repository', () => {
      const spellings = [
        'git@github.com:Owner/Repo.git',
        'ssh://git@github.com/Owner/Repo',
        'ssh://git@GitHub.com:22/Owner/Repo.git/',
        'https://github.com/Owner/Repo.git',
        'https://user:s3cret-token@github.com/Owner/Repo',
        'http://github.com:443/Owner/Repo/',
        '  git+ssh://git@github.com/Owner/Repo.git  ',
      ];
      for (const url of spellings) {
        assert.equal(normalizeGitRemote(url), 'github.com/Owner/Repo', url);
      }
    });

    it('never keeps credentials', () => {
      const key = normalizeGitRemote('https://alice:hunter2@gitlab.example.com/g/p.git');
      assert.equal(key, 'gitlab.example.com/g/p');
      assert.ok(!key.includes('hunter2') && !key.includes('alice'));
    });

    it('keeps different repositories apart and rejects empty input', () => {
      assert.notEqual(
        normalizeGitRemote('git@github.com:o/a.git'),
        normalizeGitRemote('git@github.com:o/b.git'),
      );
      assert.notEqual(
        normalizeGitRemote('git@github.com:o/a.git'),
        normalizeGitRemote('git@gitlab.com:o/a.git'),
      );
      assert.equal(normalizeGitRemote(''), undefined);
      assert.equal(normalizeGitRemote('   '), undefined);
      assert.equal(normalizeGitRemote(undefined), undefined);
    });

    it('keeps local paths (minus .git)', () => {
      assert.equal(normalizeGitRemote('/srv/git/project.git'), '/srv/git/project');
      assert.equal(normalizeGitRemote('file:///srv/git/project.git'), '/srv/git/project');
    });
  });

  describe('rankOffers', () => {
    const offer = (
      deviceId: string,
      workspaceId: string,
      name: string,
      fileCount: number,
      gitRemote?: string,
    ): PeerWorkspaceOffer => ({
      deviceId,
      workspaceId,
      name,
      fileCount,
      ...(gitRemote !== undefined ? { gitRemote } : {}),
    });

    it('same git remote first, then same name, then the rest', () => {
      const offers = [
        offer('D1', 'w-other', 'notes', 900),
        offer('D1', 'w-name', 'Project', 10),
        offer('D2', 'w-remote', 'checkout-2', 5, 'https://github.com/o/project.git'),
        offer('D2', 'w-remote-other', 'project', 50, 'git@github.com:o/unrelated.git'),
      ];
      const ranked = rankOffers(
        { name: 'project', gitRemote: 'git@github.com:o/project.git' },
        offers,
      );
      assert.deepEqual(
        ranked.map((r) => [r.workspaceId, r.match]),
        [
          ['w-remote', 'git-remote'],
          ['w-remote-other', 'name'],
          ['w-name', 'name'],
          ['w-other', 'other'],
        ],
      );
    });

    it('without a local remote, names decide; the current link and larger offers come first', () => {
      const ranked = rankOffers({ name: 'app', workspaceId: 'w2' }, [
        offer('A', 'w1', 'app', 100, 'git@x.org:a/app.git'),
        offer('B', 'w2', 'app', 1),
        offer('C', 'w3', 'lib', 1000),
      ]);
      assert.deepEqual(
        ranked.map((r) => r.workspaceId),
        ['w2', 'w1', 'w3'],
      );
      assert.equal(ranked[0]?.linked, true);
      assert.equal(ranked[1]?.linked, false);
    });

    it('is deterministic whatever the input order', () => {
      const offers = [
        offer('B', 'w1', 'x', 3),
        offer('A', 'w1', 'x', 3),
        offer('A', 'w0', 'x', 3),
        offer('C', 'w9', 'y', 3),
      ];
      const expected = rankOffers({ name: 'x' }, offers).map(
        (r) => `${r.deviceId}/${r.workspaceId}`,
      );
      assert.deepEqual(expected, ['A/w0', 'A/w1', 'B/w1', 'C/w9']);
      const reversed = rankOffers({ name: 'x' }, [...offers].reverse()).map(
        (r) => `${r.deviceId}/${r.workspaceId}`,
      );
      assert.deepEqual(reversed, expected);
    });
  });
});
