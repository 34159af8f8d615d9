import { strict as assert } from 'node:assert';
import { TwinspaceError } from '../../../../../src/core/errors';
import { IgnoreRules } from '../../../../../src/sync/files/scan/IgnoreRules';

describe('IgnoreRules', () => {
  it('ignores .git, the state folder and our temp files by default, not node_modules', () => {
    const rules = new IgnoreRules();
    assert.ok(rules.isIgnored('.git', true));
    assert.ok(rules.isIgnored('.git/config'));
    assert.ok(rules.isIgnored('vendor/lib/.git', false)); // a submodule's .git file
    assert.ok(rules.isIgnored('.twinspace', true));
    assert.ok(rules.isIgnored('sub/.twinspace/state.json'));
    assert.ok(rules.isIgnored('src/.twinspace-0123456789ab.tmp'));
    assert.ok(!rules.isIgnored('node_modules/x/index.js'));
    assert.ok(!rules.isIgnored('src/.gitignore'));
    assert.ok(!rules.isIgnored('.twinspaceignore'));
    assert.ok(!rules.isIgnored('src/twinspace.ts'));
    assert.deepEqual(rules.check('.git/HEAD'), {
      ignored: true,
      source: { kind: 'default', pattern: '.git' },
    });
  });

  it('uses a configured state folder name and extra patterns', () => {
    const rules = new IgnoreRules({ stateDirName: '.state', extraPatterns: ['*.bak'] });
    assert.ok(rules.isIgnored('.state/x'));
    assert.ok(!rules.isIgnored('.twinspace/x'));
    assert.ok(rules.isIgnored('deep/file.bak'));
  });

  it('applies a root .gitignore with negation', () => {
    const rules = new IgnoreRules();
    rules.setRules('', '.gitignore', 'node_modules/\n*.log\n!keep.log\n/build\n');
    assert.ok(rules.isIgnored('node_modules', true));
    assert.ok(rules.isIgnored('node_modules/pkg/index.js'));
    assert.ok(rules.isIgnored('a/b/error.log'));
    assert.ok(!rules.isIgnored('a/keep.log'));
    assert.ok(rules.isIgnored('build', true));
    assert.ok(rules.isIgnored('build/out.js'));
    assert.ok(!rules.isIgnored('src/build/out.js')); // anchored to the root
    assert.deepEqual(rules.check('x.log'), {
      ignored: true,
      source: { kind: 'file', dir: '', file: '.gitignore', pattern: '*.log' },
    });
  });

  it('nested .gitignore files apply below their directory and override the root', () => {
    const rules = new IgnoreRules();
    rules.setRules('', '.gitignore', '*.log\n');
    rules.setRules('sub', '.gitignore', '!debug.log\n*.txt\n/out\n');
    assert.ok(rules.isIgnored('other.log'));
    assert.ok(!rules.isIgnored('sub/debug.log'));
    assert.ok(!rules.isIgnored('sub/deeper/debug.log'));
    assert.ok(rules.isIgnored('sub/notes.txt'));
    assert.ok(!rules.isIgnored('notes.txt'));
    assert.ok(rules.isIgnored('sub/out', true));
    assert.ok(!rules.isIgnored('sub/x/out', true));
    assert.deepEqual(rules.ruleDirs(), ['', 'sub']);
    // Removing the nested file restores the root rule.
    assert.ok(rules.setRules('sub', '.gitignore', undefined));
    assert.ok(rules.isIgnored('sub/debug.log'));
    assert.ok(!rules.setRules('sub', '.gitignore', undefined), 'no change the second time');
  });

  it('.twinspaceignore overrides .gitignore in the same directory', () => {
    const rules = new IgnoreRules();
    rules.setRules('', '.twinspaceignore', '!.env\nlarge-assets/\n');
    rules.setRules('', '.gitignore', '.env\n');
    assert.ok(!rules.isIgnored('.env'), 'a git-ignored .env can be synced');
    assert.ok(rules.isIgnored('large-assets/a.bin'));
  });

  it('cannot re-include a file inside an ignored directory', () => {
    const rules = new IgnoreRules();
    rules.setRules('', '.gitignore', 'dist/\n!dist/keep.js\n');
    assert.ok(rules.isIgnored('dist/keep.js'));
    rules.setRules('dist', '.gitignore', '!keep.js\n');
    assert.ok(rules.isIgnored('dist/keep.js'));
  });

  it('matches case-sensitively by default, insensitively when asked', () => {
    const sensitive = new IgnoreRules();
    sensitive.setRules('', '.gitignore', 'Build/\n');
    assert.ok(!sensitive.isIgnored('build/x'));
    const insensitive = new IgnoreRules({ ignoreCase: true });
    insensitive.setRules('', '.gitignore', 'Build/\n');
    assert.ok(insensitive.isIgnored('build/x'));
  });

  it('refuses paths that climb out of the folder', () => {
    const rules = new IgnoreRules();
    assert.throws(
      () => rules.isIgnored('a/../../x'),
      (e: unknown) => e instanceof TwinspaceError && e.code === 'validation',
    );
    assert.ok(!rules.isIgnored(''));
  });
});
