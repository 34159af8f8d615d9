import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMMAND_TABLE } from '../../../src/host/commandTable';
import { SYNC_PANEL_COMMANDS } from '../../../src/core/protocol/syncPanelProtocol';

interface ViewsManifest {
  readonly contributes: {
    readonly viewsContainers?: {
      readonly activitybar?: readonly { id: string; title: string; icon: string }[];
    };
    readonly views?: Record<string, readonly { type?: string; id: string; name: string }[]>;
    readonly menus?: Record<string, readonly { command: string; when?: string }[]>;
  };
}

const root = path.join(__dirname, '../../..');
const m = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as ViewsManifest;

describe('package.json: the Sync Panel view in the activity bar', () => {
  it('has a Twinspace container with an existing SVG icon, holding the webview view', () => {
    const container = m.contributes.viewsContainers?.activitybar?.find((c) => c.id === 'twinspace');
    assert.ok(container, 'no twinspace activity-bar container');
    assert.match(container.icon, /^media\/.+\.svg$/);
    const svg = readFileSync(path.join(root, container.icon), 'utf8');
    assert.match(svg, /^<svg[^>]*viewBox="0 0 24 24"/);
    const views = m.contributes.views?.['twinspace'] ?? [];
    assert.deepEqual(
      views.map((v) => [v.id, v.type]),
      [['twinspace.syncView', 'webview']],
    );
  });

  it('the container title and the view name are localised (%key% in package.nls.json)', () => {
    const nls = JSON.parse(readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<
      string,
      string
    >;
    const resolve = (text: string | undefined): string | undefined => {
      const key = /^%(.+)%$/.exec(text ?? '')?.[1];
      return key === undefined ? undefined : nls[key];
    };
    const container = m.contributes.viewsContainers?.activitybar?.find((c) => c.id === 'twinspace');
    const view = m.contributes.views?.['twinspace']?.find((v) => v.id === 'twinspace.syncView');
    assert.equal(resolve(container?.title), 'Twinspace');
    assert.equal(resolve(view?.name), 'Device Sync');
  });

  it('the view title menu names contributed commands only, shown in that view only', () => {
    const commands = new Set<string>(COMMAND_TABLE.map((c) => c.id));
    const items = m.contributes.menus?.['view/title'] ?? [];
    assert.ok(items.length > 0);
    for (const item of items) {
      assert.ok(commands.has(item.command), item.command);
      assert.equal(item.when, 'view == twinspace.syncView');
    }
  });

  it('every command the panel may run is a contributed command', () => {
    const commands = new Set<string>(COMMAND_TABLE.map((c) => c.id));
    for (const c of SYNC_PANEL_COMMANDS) assert.ok(commands.has(c), c);
  });

  it('the build ships the codicons the webview loads', () => {
    const build = readFileSync(path.join(root, 'esbuild.mjs'), 'utf8');
    for (const f of ['codicon.css', 'codicon.ttf']) {
      assert.ok(build.includes(`'${f}'`), `esbuild.mjs does not copy ${f}`);
      assert.ok(existsSync(path.join(root, 'node_modules/@vscode/codicons/dist', f)), f);
    }
  });
});
