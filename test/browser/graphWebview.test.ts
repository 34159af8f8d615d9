/**
 * Browser tests of the Workspace Graph webview: the built bundle (dist/webview/graph.js) in
 * headless Chromium (playwright-core, /usr/bin/chromium) with a stub `acquireVsCodeApi`, served
 * from a loopback HTTP server so IndexedDB is real. The test plays the host: it builds Yjs updates
 * with the real workspace-doc code and posts them the way VS Code does (window message events).
 */
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as Y from 'yjs';
import { launchChromium } from '../../scripts/vscode-host/launchChromium';
import { encodeBase64, type GraphPanelRequest } from '../../src/core/protocol/graphPanelProtocol';
import { applyReplicatedIntent } from '../../src/core/workspaceDoc';
import type { Intent } from '../../src/core/intents';
import type { GraphTestHook } from '../../webview-ui/graph/GraphTestHook';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const BUNDLE = path.resolve('dist/webview/graph.js');

type Stats = ReturnType<GraphTestHook['stats']>;
declare const window: {
  twinspaceGraph: GraphTestHook;
  __posted: GraphPanelRequest[];
  postMessage(message: unknown, target: string): void;
};

const PAGE = (replica: string): string => `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<style>html,body{margin:0;height:100%}#app{display:flex;flex-direction:column;height:100%}canvas{flex:1;width:100%;min-height:0}</style>
<script>
window.__posted = [];
window.acquireVsCodeApi = () => ({
  postMessage: (m) => { window.__posted.push(JSON.parse(JSON.stringify(m))); },
  getState: () => JSON.parse(sessionStorage.getItem('vscode-state') || 'null'),
  setState: (s) => { sessionStorage.setItem('vscode-state', JSON.stringify(s)); },
});
</script></head>
<body data-replica="${replica}"><main id="app"></main><script src="/graph.js"></script></body></html>`;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The host side of the test: the workspace document, changed through the real intent code. */
class FakeHost {
  readonly doc = new Y.Doc();
  private sent = new Y.Doc();
  apply(intent: Intent): void {
    const r = applyReplicatedIntent(this.doc, intent, 'local');
    assert.equal(r, undefined, r?.message);
  }
  /** What the webview lacks since the last call, as base64. */
  diff(): string {
    const update = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVector(this.sent));
    Y.applyUpdate(this.sent, update);
    return encodeBase64(update);
  }
}

describe('Workspace Graph webview (headless Chromium)', function () {
  this.timeout(120_000);
  let server: Server;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  before(async function () {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npm run build\` first`);
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
    const bundle = readFileSync(BUNDLE);
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/graph.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      } else {
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end(PAGE(url.searchParams.get('replica') ?? 'default'));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium(CHROMIUM);
    context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
  });

  after(async () => {
    await context.close().catch(() => undefined);
    await browser.close().catch(() => undefined);
    await new Promise<void>((resolve) =>
      server.close(() => {
        resolve();
      }),
    );
  });

  afterEach(() => {
    assert.deepEqual(pageErrors.splice(0), [], 'uncaught errors in the page');
  });

  async function open(replica: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/?replica=${replica}`);
    await page.evaluate(() => window.twinspaceGraph.cacheLoaded);
    return page;
  }
  const posted = (page: Page): Promise<GraphPanelRequest[]> => page.evaluate(() => window.__posted);
  const stats = (page: Page): Promise<Stats> => page.evaluate(() => window.twinspaceGraph.stats());
  const send = (page: Page, message: unknown): Promise<void> =>
    page.evaluate((m) => {
      window.postMessage(m, '*');
    }, message);
  async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
    let v = await fn();
    for (let i = 0; i < 300 && !ok(v); i++) {
      await new Promise((r) => setTimeout(r, 50));
      v = await fn();
    }
    assert.ok(ok(v), `${what}: last value ${JSON.stringify(v)}`);
    return v;
  }

  const host = new FakeHost();
  host.apply({ type: 'VisitNode', nodeId: 'src/a.ts', kind: 'file', label: 'a.ts' });
  host.apply({
    type: 'VisitNode',
    nodeId: 'src/util.ts',
    kind: 'file',
    label: 'util.ts',
    from: 'src/a.ts',
  });
  host.apply({
    type: 'VisitNode',
    nodeId: 'https://example.com/docs',
    kind: 'url',
    label: 'docs',
    from: 'src/util.ts',
    edge: 'link',
  });
  const firstUpdate = host.diff();

  it('starts with the ready handshake, applies host updates, and sends back only its own changes (no echo)', async () => {
    const page = await open('replica-sync');
    const [ready] = await until(
      'ready',
      () => posted(page),
      (m) => m.length >= 1,
    );
    assert.equal(ready?.method, 'ready');
    assert.equal(ready.kind, 'request');

    await send(page, { kind: 'notification', method: 'update', update: firstUpdate });
    const s = await until(
      'nodes',
      () => stats(page),
      (v) => v.nodes === 3 && v.edges === 2,
    );
    assert.equal(s.applied, 1);
    assert.equal(s.paintedFrom, 'host');

    // The layout settles and the webview asks the host to store the positions it found.
    const messages = await until(
      'moveNodes',
      () => posted(page),
      (m) => m.some((x) => x.method === 'moveNodes'),
    );
    const moves = messages.filter((x) => x.method === 'moveNodes');
    assert.equal(moves.length, 1);
    const move = moves[0]!;
    assert.deepEqual(move.positions.map((p) => p.nodeId).sort(), [
      'https://example.com/docs',
      'src/a.ts',
      'src/util.ts',
    ]);
    // No message carries the host's update back.
    assert.ok(messages.every((m) => m.method === 'ready' || m.method === 'moveNodes'));

    // The host applies MoveNodes and sends the result: the webview applies it, and does not
    // answer with another moveNodes (its own change, come back, is not a new local change).
    host.apply({ type: 'MoveNodes', positions: move.positions });
    await send(page, { kind: 'notification', method: 'update', update: host.diff() });
    await until(
      'applied',
      () => stats(page),
      (v) => v.applied === 2,
    );
    await page.waitForTimeout(500);
    const after = await posted(page);
    assert.equal(
      after.length,
      messages.length,
      `echoed: ${JSON.stringify(after.slice(messages.length))}`,
    );
    const info = await page.evaluate(() => window.twinspaceGraph.nodeInfo('src/a.ts'));
    const stored = move.positions.find((p) => p.nodeId === 'src/a.ts')!;
    assert.deepEqual([info?.x, info?.y], [stored.x, stored.y]);
    assert.equal((await stats(page)).foreignWrites, 0);

    // A position moved on another device arrives and moves the node here.
    host.apply({ type: 'MoveNodes', positions: [{ nodeId: 'src/a.ts', x: 123, y: -45 }] });
    await send(page, { kind: 'notification', method: 'update', update: host.diff() });
    await until(
      'remote move',
      () => page.evaluate(() => window.twinspaceGraph.nodeInfo('src/a.ts')),
      (v) => v?.x === 123 && v.y === -45,
    );
    await page.close();
  });

  it('paints from IndexedDB after a reload, before any host message', async () => {
    const page = await open('replica-cache');
    await send(page, { kind: 'notification', method: 'update', update: firstUpdate });
    await until(
      'nodes',
      () => stats(page),
      (v) => v.nodes === 3,
    );
    // y-indexeddb stores on update; give its transaction time to commit.
    await page.waitForTimeout(300);
    await page.reload();
    await page.evaluate(() => window.twinspaceGraph.cacheLoaded);
    const s = await stats(page);
    assert.equal(s.applied, 0, 'no host message was applied after the reload');
    assert.equal(s.nodes, 3);
    assert.equal(s.edges, 2);
    assert.equal(s.paintedFrom, 'cache');
    assert.ok(s.framesDrawn > 0);
    // The ready request carries the cached state vector, so the host sends only what is missing.
    const [ready] = await until(
      'ready',
      () => posted(page),
      (m) => m.length >= 1,
    );
    assert.ok(ready?.method === 'ready');
    const cached = new Y.Doc();
    Y.applyUpdate(cached, Buffer.from(firstUpdate, 'base64'));
    assert.deepEqual(
      Buffer.from(ready.stateVector, 'base64'),
      Buffer.from(Y.encodeStateVector(cached)),
    );
    await page.close();
  });

  it('rejects hostile host messages without changing the replica or throwing', async () => {
    const page = await open('replica-hostile');
    await send(page, { kind: 'notification', method: 'update', update: firstUpdate });
    await until(
      'nodes',
      () => stats(page),
      (v) => v.nodes === 3,
    );
    const hostile: unknown[] = [
      null,
      'update',
      { kind: 'notification', method: 'update', update: 'not base64!' },
      {
        kind: 'notification',
        method: 'update',
        update: encodeBase64(new Uint8Array([255, 255, 255, 255, 255, 255, 1, 2])),
      },
      { kind: 'notification', method: 'update', update: 12345 },
      {
        kind: 'notification',
        method: 'status',
        status: { deviceId: 'x', lifecycle: { 'src/a.ts': 'burning' } },
      },
      {
        kind: 'notification',
        method: 'status',
        status: { deviceId: 'x', lifecycle: { '': 'active' } },
      },
      { kind: 'notification', method: 'eval', code: 'alert(1)' },
      { kind: 'request', id: 1, method: 'ready', stateVector: '' },
      { kind: 'response', id: 'x', ok: true },
    ];
    for (const m of hostile) await send(page, m);
    const s = await until(
      'rejected',
      () => stats(page),
      (v) => v.rejected === hostile.length,
    );
    assert.equal(s.nodes, 3);
    assert.equal(s.applied, 1);
    assert.equal(
      (await page.evaluate(() => window.twinspaceGraph.nodeInfo('src/a.ts')))?.lifecycle,
      'cold',
    );
    await page.close();
  });

  it('lifecycle colours and device badges come from the host status and the replica', async () => {
    const page = await open('replica-badges');
    const h = new FakeHost();
    h.apply({ type: 'VisitNode', nodeId: 'src/a.ts', kind: 'file', label: 'a.ts' });
    h.apply({
      type: 'VisitNode',
      nodeId: 'src/b.ts',
      kind: 'file',
      label: 'b.ts',
      from: 'src/a.ts',
    });
    // Another device's open editors (devices.editors: deviceId → JSON value).
    h.doc.getMap('devices.editors').set('LAPTOPID', {
      deviceName: 'Laptop',
      editors: { groups: [{ tabs: [{ path: 'src/b.ts' }] }] },
    });
    await send(page, { kind: 'notification', method: 'update', update: h.diff() });
    await send(page, {
      kind: 'notification',
      method: 'status',
      status: { deviceId: 'ME', lifecycle: { 'src/a.ts': 'active', 'src/b.ts': 'warm' } },
    });
    const a = await until(
      'lifecycle',
      () => page.evaluate(() => window.twinspaceGraph.nodeInfo('src/a.ts')),
      (v) => v?.lifecycle === 'active',
    );
    assert.deepEqual(a?.devices, []);
    const b = await page.evaluate(() => window.twinspaceGraph.nodeInfo('src/b.ts'));
    assert.equal(b?.lifecycle, 'warm');
    assert.deepEqual(b.devices, ['Laptop']);
    await page.close();
  });

  it('labels: file names, URL host and path, ellipsised, in the theme font and colour; hover', async () => {
    const page = await open('replica-labels');
    // The theme, as VS Code hands it to a webview: variables on <html>, the kind on <body>.
    await page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: { documentElement: { style: { setProperty(k: string, v: string): void } } };
        }
      ).document;
      d.documentElement.style.setProperty('--vscode-editor-foreground', 'rgb(10, 20, 30)');
      d.documentElement.style.setProperty('--vscode-foreground', 'rgb(40, 50, 60)');
      d.documentElement.style.setProperty('--vscode-editor-background', 'rgb(250, 250, 250)');
      d.documentElement.style.setProperty('--vscode-font-family', '"DejaVu Sans", sans-serif');
      d.documentElement.style.setProperty('--vscode-font-size', '14px');
    });
    const h = new FakeHost();
    h.apply({ type: 'VisitNode', nodeId: 'src/a.ts', kind: 'file', label: 'a.ts' });
    h.apply({
      type: 'VisitNode',
      nodeId: 'src/util.ts',
      kind: 'file',
      label: 'util.ts',
      from: 'src/a.ts',
    });
    h.apply({
      type: 'VisitNode',
      nodeId: 'test/util.ts',
      kind: 'file',
      label: 'util.ts',
      from: 'src/util.ts',
    });
    h.apply({
      type: 'VisitNode',
      nodeId: 'https://www.example.com/docs/?q=1',
      kind: 'url',
      label: 'The Guide',
      from: 'src/a.ts',
      edge: 'link',
    });
    const long = `${'very-long-name-'.repeat(12)}end.ts`;
    h.apply({
      type: 'VisitNode',
      nodeId: `src/${long}`,
      kind: 'file',
      label: long,
      from: 'src/a.ts',
    });
    await send(page, { kind: 'notification', method: 'update', update: h.diff() });
    await until(
      'settled',
      () => stats(page),
      (v) => v.nodes === 5 && !v.layoutRunning,
    );
    const style = await page.evaluate(() => window.twinspaceGraph.style());
    assert.equal(style.label, 'rgb(10, 20, 30)', 'labels use --vscode-editor-foreground');
    assert.equal(style.edge, 'rgb(40, 50, 60)', 'edges use --vscode-foreground');
    assert.equal(style.background, 'rgb(250, 250, 250)');
    assert.match(style.font, /^14px "DejaVu Sans", sans-serif$/);

    // Labels never overlap; zoomed in (nodes further apart on screen), every node is named.
    await page.getByTestId('graph-canvas').focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('+');
    await page.waitForTimeout(200); // a frame at the new zoom
    const labels = await until(
      'labels',
      () => page.evaluate(() => window.twinspaceGraph.labels()),
      (v) => v.length === 5,
    );
    const text = new Map(labels.map((l) => [l.id, l.text]));
    assert.equal(text.get('src/a.ts'), 'a.ts');
    assert.equal(text.get('src/util.ts'), 'src/util.ts', 'same name twice: the folder in front');
    assert.equal(text.get('test/util.ts'), 'test/util.ts');
    assert.equal(text.get('https://www.example.com/docs/?q=1'), 'example.com/docs');
    const cut = labels.find((l) => l.id === `src/${long}`);
    assert.ok(cut && cut.text.endsWith('…') && cut.text.length < long.length, cut?.text);
    assert.ok(long.startsWith(cut.text.slice(0, -1)));
    assert.ok(cut.width <= 160, `ellipsised label is ${cut.width} px wide`);
    // Each label sits next to its node (right of it when there is room).
    for (const l of labels) {
      const at = await page.evaluate((id) => window.twinspaceGraph.nodeScreen(id), l.id);
      assert.ok(at);
      const dx = Math.max(l.x - at.x, 0, at.x - (l.x + l.width));
      const dy = Math.abs(l.y - at.y);
      assert.ok(dx < 20 && dy < 30, `${l.id}: label at ${l.x},${l.y}, node at ${at.x},${at.y}`);
    }
    // Hover: the node under the pointer is outlined; its tooltip is the full path.
    const at = await page.evaluate(() => window.twinspaceGraph.nodeScreen('src/util.ts'));
    assert.ok(at);
    await page.mouse.move(at.x, at.y);
    assert.equal(await page.evaluate(() => window.twinspaceGraph.hovered()), 'src/util.ts');
    assert.equal(await page.getByTestId('graph-canvas').getAttribute('title'), 'src/util.ts');
    await page.mouse.move(5, 200);
    assert.equal(await page.evaluate(() => window.twinspaceGraph.hovered()), undefined);
    await page.close();
  });

  it('search selects a match, Enter and click open it, dragging stores a position', async () => {
    const page = await open('replica-search');
    await send(page, { kind: 'notification', method: 'update', update: firstUpdate });
    await until(
      'nodes',
      () => stats(page),
      (v) => v.nodes === 3,
    );
    await until(
      'settled',
      () => stats(page),
      (v) => !v.layoutRunning,
    );
    const search = page.getByTestId('graph-search');
    await search.fill('util');
    assert.equal((await stats(page)).matches, 1);
    await search.press('Enter');
    assert.equal((await stats(page)).selected, 'src/util.ts');
    await search.press('Enter');
    let messages = await until(
      'open',
      () => posted(page),
      (m) => m.some((x) => x.method === 'openNode'),
    );
    assert.deepEqual(
      messages.filter((m) => m.method === 'openNode').map((m) => m.nodeId),
      ['src/util.ts'],
    );
    await search.fill('');

    // Click on a node: selects and opens it.
    const at = await page.evaluate(() => window.twinspaceGraph.nodeScreen('src/a.ts'));
    assert.ok(at);
    await page.mouse.click(at.x, at.y);
    messages = await until(
      'click open',
      () => posted(page),
      (m) => m.filter((x) => x.method === 'openNode').length === 2,
    );
    const last = messages.filter((m) => m.method === 'openNode').pop();
    assert.ok(last?.method === 'openNode' && last.nodeId === 'src/a.ts');
    assert.equal((await stats(page)).selected, 'src/a.ts');

    // Drag it: one moveNodes for that node, at the new place.
    const before = (await posted(page)).length;
    await page.mouse.move(at.x, at.y);
    await page.mouse.down();
    await page.mouse.move(at.x + 40, at.y + 30, { steps: 5 });
    await page.mouse.up();
    messages = await until(
      'drag',
      () => posted(page),
      (m) => m.length > before,
    );
    const drag = messages.slice(before).find((m) => m.method === 'moveNodes');
    assert.ok(drag?.method === 'moveNodes');
    assert.deepEqual(
      drag.positions.map((p) => p.nodeId),
      ['src/a.ts'],
    );

    // Keyboard: focus the canvas, Escape clears, ArrowDown selects, Enter opens.
    await page.getByTestId('graph-canvas').focus();
    await page.keyboard.press('Escape');
    assert.equal((await stats(page)).selected, undefined);
    await page.keyboard.press('ArrowDown');
    assert.notEqual((await stats(page)).selected, undefined);
    // View state survives a reload (getState/setState).
    await page.waitForTimeout(300);
    const selected = (await stats(page)).selected;
    await page.reload();
    await page.evaluate(() => window.twinspaceGraph.cacheLoaded);
    assert.equal((await stats(page)).selected, selected);
    await page.close();
  });

  it('2,000 nodes: frames while the layout runs and while panning (prints frame times)', async () => {
    const page = await open('replica-big');
    const big = new FakeHost();
    const N = 2000;
    // A tree of folders with cross links: ~N nodes, ~1.5 N edges.
    for (let i = 0; i < N; i++) {
      const parent = i === 0 ? undefined : `f/${Math.floor((i - 1) / 4)}`;
      big.apply({
        type: 'VisitNode',
        nodeId: `f/${i}`,
        kind: i % 10 === 0 ? 'folder' : 'file',
        label: `file${i}.ts`,
        ...(parent !== undefined ? { from: parent } : {}),
      });
      if (i > 10 && i % 2 === 0) {
        big.apply({
          type: 'VisitNode',
          nodeId: `f/${i}`,
          kind: 'file',
          label: `file${i}.ts`,
          from: `f/${(i * 7) % i}`,
        });
      }
    }
    const update = big.diff();
    const t0 = Date.now();
    await send(page, { kind: 'notification', method: 'update', update });
    const s = await until(
      'big graph',
      () => stats(page),
      (v) => v.nodes === N,
    );
    const loadMs = Date.now() - t0;
    assert.ok(s.edges > N);

    // A string, not a function: tsx would wrap a named inner function with a helper (`__name`)
    // that does not exist in the page.
    const measure = (frames: number): Promise<number[]> =>
      page.evaluate(`new Promise((resolve) => {
        const deltas = [];
        let last = performance.now();
        const step = (t) => {
          deltas.push(t - last);
          last = t;
          if (deltas.length < ${frames}) requestAnimationFrame(step);
          else resolve(deltas.slice(1));
        };
        requestAnimationFrame(step);
      })`);
    const drawnBefore = (await stats(page)).framesDrawn;
    const workBefore = (await page.evaluate(() => window.twinspaceGraph.frameWork())).length;
    const layout = await measure(121);
    const layoutStats = await stats(page);
    const layoutWork = (await page.evaluate(() => window.twinspaceGraph.frameWork())).slice(
      workBefore,
    );

    // Pan with the mouse while measuring (after the layout settled: the cost of drawing alone).
    await until(
      'settled',
      () => stats(page),
      (v) => !v.layoutRunning,
    );
    // Every node in view, so each frame draws all of them.
    await page.getByTestId('graph-fit').click();
    const workBeforePan = (await page.evaluate(() => window.twinspaceGraph.frameWork())).length;
    const panning = measure(121);
    await page.mouse.move(300, 300);
    await page.mouse.down();
    for (let i = 0; i < 60; i++) await page.mouse.move(300 + i * 5, 300 + i * 3);
    await page.mouse.up();
    const pan = await panning;
    const panWork = (await page.evaluate(() => window.twinspaceGraph.frameWork())).slice(
      workBeforePan,
    );
    const after = await stats(page);

    // Zoomed out to the whole graph: only a few labels, the best-connected nodes first (f/0 has
    // the most links), none overlapping another.
    const labels = await page.evaluate(() => window.twinspaceGraph.labels());
    assert.ok(labels.length >= 1 && labels.length <= 20, `${labels.length} labels zoomed out`);
    assert.ok(
      labels.some((l) => l.id === 'f/0' && l.text === 'file0.ts'),
      JSON.stringify(labels.map((l) => l.id)),
    );
    for (const a of labels) {
      for (const b of labels) {
        if (a === b) continue;
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || Math.abs(a.y - b.y) >= 14;
        assert.ok(apart, `labels ${a.id} and ${b.id} overlap`);
      }
    }
    // The selection is named at any zoom.
    const search = page.getByTestId('graph-search');
    await search.fill('file1999.ts');
    await search.press('Enter');
    await until(
      'selected label',
      () => page.evaluate(() => window.twinspaceGraph.labels()),
      (v) => v.some((l) => l.id === 'f/1999' && l.text === 'file1999.ts'),
    );

    const fmt = (xs: number[]): string =>
      `p50 ${percentile(xs, 50).toFixed(1)} ms, p95 ${percentile(xs, 95).toFixed(1)} ms (${xs.length} frames)`;
    console.log(
      `      graph 2000 nodes / ${s.edges} edges: update applied and painted in ${loadMs} ms`,
    );
    console.log(
      `      layout running: rAF delta ${fmt(layout)}; draw+tick work ${fmt(layoutWork)}`,
    );
    console.log(`      panning:        rAF delta ${fmt(pan)}; draw work ${fmt(panWork)}`);
    assert.ok(layoutStats.framesDrawn > drawnBefore, 'no frame drawn while the layout ran');
    assert.ok(after.framesDrawn > layoutStats.framesDrawn, 'no frame drawn while panning');
    assert.ok(layout.length > 0 && pan.length > 0);
    await page.close();
  });
});
