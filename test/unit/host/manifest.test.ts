import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMMAND_TABLE } from '../../../src/host/commandTable';

interface Setting {
  readonly type: string;
  readonly default: unknown;
  readonly scope?: string;
  readonly markdownDescription?: string;
  readonly description?: string;
}

interface Step {
  readonly id: string;
  readonly title: string;
  readonly description: string;
  readonly media: { readonly markdown?: string };
  readonly completionEvents?: readonly string[];
}

interface Manifest {
  readonly contributes: {
    readonly configuration: { readonly properties: Record<string, Setting> };
    readonly walkthroughs: readonly {
      id: string;
      title: string;
      description: string;
      steps: readonly Step[];
    }[];
  };
}

const root = path.join(__dirname, '../../..');
const raw = readFileSync(path.join(root, 'package.json'), 'utf8');
const pkg = JSON.parse(raw) as Manifest;
const nls = JSON.parse(readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<
  string,
  string
>;
const resolve = (text: string): string => {
  const key = /^%(.+)%$/.exec(text)?.[1];
  return key === undefined ? text : (nls[key] ?? `<missing ${key}>`);
};

describe('package.json contributions (localisation, settings, walkthrough)', () => {
  it('every %key% placeholder has a string in package.nls.json, and no key is unused', () => {
    const used = new Set([...raw.matchAll(/"%([A-Za-z0-9._-]+)%"/g)].map((m) => m[1] ?? ''));
    assert.ok(used.size > 10, `only ${used.size} placeholders`);
    for (const key of used) assert.equal(typeof nls[key], 'string', `package.nls.json: ${key}`);
    assert.deepEqual(
      Object.keys(nls).filter((k) => !used.has(k)),
      [],
      'unused keys in package.nls.json',
    );
  });

  it('every twinspace.* setting has a localised Markdown description and a scope', () => {
    const settings = Object.entries(pkg.contributes.configuration.properties);
    for (const [key, s] of settings) {
      assert.match(key, /^twinspace\./);
      assert.equal(s.description, undefined, `${key}: use markdownDescription`);
      assert.match(s.markdownDescription ?? '', /^%configuration\..+\.markdownDescription%$/);
      assert.ok(resolve(s.markdownDescription ?? '').length > 30, `${key}: description too short`);
      assert.ok(s.scope !== undefined, `${key}: no scope`);
    }
    const scope = (k: string): string | undefined =>
      pkg.contributes.configuration.properties[k]?.scope;
    assert.equal(scope('twinspace.listenPort'), 'machine-overridable');
    assert.equal(scope('twinspace.listenHost'), 'machine-overridable');
    assert.equal(scope('twinspace.deviceName'), 'machine');
    // Not machine-scoped: in a remote window (and code-server) VS Code ignores machine-scoped
    // values from the user settings, and turning mDNS off there must always work.
    assert.equal(scope('twinspace.discovery.mdns'), 'window');
  });

  it('declares the settings with their defaults; only the planned ones are marked "Not used yet"', () => {
    const props = pkg.contributes.configuration.properties;
    const planned: Record<string, unknown> = {
      'twinspace.wan.signalingUrl': '',
    };
    // Read by the host: Device Sync (unsaved edits, file size limit) and the tab demoter.
    const used: Record<string, unknown> = {
      'twinspace.syncUnsavedEdits': true,
      'twinspace.maxFileSizeMB': 50,
      'twinspace.tabBudget': 20,
    };
    for (const [key, value] of Object.entries({ ...planned, ...used })) {
      const s = props[key];
      assert.ok(s !== undefined, `${key} missing`);
      assert.equal(s.default, value, key);
      const text = resolve(s.markdownDescription ?? '');
      if (key in planned) assert.match(text, /Not used yet/, key);
      else assert.doesNotMatch(text, /Not used yet|no effect/, key);
    }
    // The settings the host reads are not marked as unused.
    for (const key of ['twinspace.deviceName', 'twinspace.listenPort', 'twinspace.manualPeers']) {
      assert.doesNotMatch(resolve(props[key]?.markdownDescription ?? ''), /Not used yet/, key);
    }
  });

  it('the walkthrough has pair, link and status steps with existing media and command events', () => {
    const [walk, ...others] = pkg.contributes.walkthroughs;
    assert.equal(others.length, 0);
    assert.ok(walk !== undefined);
    assert.equal(resolve(walk.title), 'Get started with Twinspace Device Sync');
    const commands = new Set<string>(COMMAND_TABLE.map((c) => c.id));
    const expected = ['twinspace.pairDevice', 'twinspace.linkWorkspace', 'twinspace.openSyncPanel'];
    assert.deepEqual(
      walk.steps.map((s) => s.completionEvents),
      expected.map((c) => [`onCommand:${c}`]),
    );
    walk.steps.forEach((step, i) => {
      const command = expected[i] ?? '';
      assert.ok(commands.has(command), command);
      // The step's button runs the same command that completes it.
      assert.ok(resolve(step.description).includes(`(command:${command})`), step.id);
      const md = step.media.markdown ?? '';
      assert.match(md, /^media\/walkthrough\/[a-z]+\.md$/);
      assert.ok(existsSync(path.join(root, md)), `${md} missing`);
    });
  });

  it('the VSIX carries package.nls.json, so %key% placeholders resolve when installed', () => {
    const lines = readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n');
    assert.ok(
      lines.includes('!package.nls.json'),
      '.vscodeignore must re-include package.nls.json',
    );
    assert.ok(lines.includes('!media/**'), '.vscodeignore must re-include the walkthrough media');
  });
});
