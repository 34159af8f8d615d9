/**
 * webview-ui/syncPanel: the Sync Panel webview (browser code). Renders the view the host sends
 * over the typed protocol in src/core/protocol/syncPanelProtocol.ts; never trusts its own state
 * for anything but painting quickly on reopen (getState/setState).
 */
import type {
  SyncPanelMessage,
  SyncPanelRequest,
  SyncPanelView,
} from '../../src/core/protocol/syncPanelProtocol';

interface VsCodeApi {
  postMessage(message: SyncPanelRequest): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
let nextId = 1;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function formatTime(ms: number | undefined): string {
  return ms === undefined ? 'never' : new Date(ms).toLocaleTimeString();
}

function render(view: SyncPanelView): void {
  const app = document.getElementById('app');
  if (!app) return;
  const peers =
    view.peers.length === 0
      ? el('p', { class: 'muted' }, 'No trusted devices yet.')
      : el(
          'table',
          {},
          el(
            'tr',
            {},
            el('th', {}, 'Device'),
            el('th', {}, 'State'),
            el('th', {}, 'Transport'),
            el('th', {}, 'Last sync'),
          ),
          ...view.peers.map((p) =>
            el(
              'tr',
              { 'data-testid': 'peer-row' },
              el('td', {}, p.peerId),
              el('td', {}, p.state),
              el('td', {}, p.transport ?? ''),
              el('td', {}, formatTime(p.lastSyncAt)),
            ),
          ),
        );
  const workers = el(
    'table',
    {},
    el('tr', {}, el('th', {}, 'Worker'), el('th', {}, 'Status'), el('th', {}, 'Failures')),
    ...view.workers.map((w) =>
      el(
        'tr',
        { 'data-testid': 'worker-row' },
        el('td', {}, w.name),
        el('td', {}, w.status),
        el('td', {}, String(w.failures)),
      ),
    ),
  );
  const diags = el(
    'ul',
    { 'data-testid': 'diagnostics' },
    ...view.diagnostics
      .slice(-20)
      .map((d) =>
        el(
          'li',
          { class: `sev-${d.severity}` },
          `${formatTime(d.at)} [${d.channel}] ${d.message}${d.count > 1 ? ` ×${d.count}` : ''}`,
        ),
      ),
  );
  const logButton = el('button', { type: 'button' }, 'Show Log');
  logButton.addEventListener('click', () => {
    vscode.postMessage({
      kind: 'request',
      id: nextId++,
      method: 'runCommand',
      command: 'twinspace.showLog',
    });
  });
  app.replaceChildren(
    el('h1', {}, 'Twinspace Device Sync'),
    el(
      'p',
      {},
      'This device: ',
      el('strong', { 'data-testid': 'device-name' }, view.deviceName),
      ' ',
      el('code', { 'data-testid': 'device-id' }, view.deviceId),
    ),
    el(
      'p',
      { 'data-testid': 'register-state' },
      `${view.statusText} · state version ${view.version}`,
    ),
    el('h2', {}, 'Trusted devices'),
    peers,
    el('h2', {}, 'Workers'),
    workers,
    el('h2', {}, 'Recent diagnostics'),
    diags,
    logButton,
  );
  vscode.setState(view);
}

window.addEventListener('message', (event: MessageEvent<SyncPanelMessage>) => {
  const message = event.data;
  if (message.kind === 'notification') render(message.view);
  if (message.kind === 'response' && message.view) render(message.view);
});

const saved = vscode.getState() as SyncPanelView | undefined;
if (saved && typeof saved === 'object' && 'deviceId' in saved) render(saved);
vscode.postMessage({ kind: 'request', id: nextId++, method: 'ready' });
