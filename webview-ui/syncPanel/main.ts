/**
 * webview-ui/syncPanel: the Sync Panel webview (browser code). Renders the view the host sends
 * over the typed protocol in src/core/protocol/syncPanelProtocol.ts; never trusts its own state
 * for anything but painting quickly on reopen (getState/setState).
 */
import type {
  SyncPanelMessage,
  SyncPanelPeerView,
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

function request(message: DistributiveOmit<SyncPanelRequest, 'kind' | 'id'>): void {
  vscode.postMessage({ kind: 'request', id: nextId++, ...message });
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function button(
  label: string,
  testId: string,
  onClick: () => void,
  title = label,
): HTMLButtonElement {
  const b = el(
    'button',
    { type: 'button', 'data-testid': testId, title, 'aria-label': title },
    label,
  );
  b.addEventListener('click', onClick);
  return b;
}

function pending(p: SyncPanelPeerView): string {
  if (p.pendingOut === undefined && p.pendingIn === undefined) return '';
  return `${p.pendingOut ?? 0} out / ${p.pendingIn ?? 0} in`;
}

function render(view: SyncPanelView): void {
  const app = document.getElementById('app');
  if (!app) return;
  const peers =
    view.peers.length === 0
      ? el(
          'p',
          { class: 'muted', 'data-testid': 'no-peers' },
          'No trusted devices yet. Pair one to start Device Sync.',
        )
      : el(
          'table',
          { 'data-testid': 'peers' },
          el(
            'tr',
            {},
            el('th', {}, 'Device'),
            el('th', {}, 'State'),
            el('th', {}, 'Transport'),
            el('th', {}, 'Last sync'),
            el('th', {}, 'Pending'),
            el('th', {}, ''),
          ),
          ...view.peers.map((p) =>
            el(
              'tr',
              { 'data-testid': 'peer-row', 'data-device-id': p.peerId },
              el(
                'td',
                { title: p.peerId },
                p.name !== undefined && p.name !== '' ? `${p.name} ` : '',
                el(
                  'code',
                  {},
                  p.peerId.startsWith('addr:') ? p.peerId.slice(5) : p.peerId.slice(0, 12),
                ),
              ),
              el('td', { title: p.lastError ?? '' }, p.state),
              el('td', {}, `${p.transport ?? ''}${p.address !== undefined ? ` ${p.address}` : ''}`),
              el('td', {}, formatTime(p.lastSyncAt)),
              el('td', {}, pending(p)),
              el(
                'td',
                {},
                p.peerId.startsWith('addr:')
                  ? ''
                  : button(
                      'Forget',
                      'forget-device',
                      () => {
                        request({ method: 'forgetDevice', deviceId: p.peerId });
                      },
                      `Forget ${p.name ?? p.peerId}`,
                    ),
              ),
            ),
          ),
        );
  const discovered =
    view.discovered.length === 0
      ? el('p', { class: 'muted' }, 'No other devices found on this network.')
      : el(
          'table',
          { 'data-testid': 'discovered' },
          el('tr', {}, el('th', {}, 'Device'), el('th', {}, 'Address'), el('th', {}, '')),
          ...view.discovered.map((d) =>
            el(
              'tr',
              { 'data-testid': 'discovered-row' },
              el(
                'td',
                { title: d.deviceId },
                `${d.name} `,
                el('code', {}, d.deviceId.slice(0, 12)),
              ),
              el('td', {}, d.address),
              el(
                'td',
                {},
                button(
                  'Pair…',
                  'pair-with',
                  () => {
                    request({ method: 'pairWith', deviceId: d.deviceId });
                  },
                  `Pair with ${d.name}`,
                ),
              ),
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
  const logButton = button('Show Log', 'show-log', () => {
    request({ method: 'runCommand', command: 'twinspace.showLog' });
  });
  const pairButton = button('Pair a Device…', 'pair-device', () => {
    request({ method: 'runCommand', command: 'twinspace.pairDevice' });
  });
  const addButton = button('Add by Address…', 'add-address', () => {
    request({ method: 'runCommand', command: 'twinspace.addPeerAddress' });
  });
  app.replaceChildren(
    el('h1', {}, 'Twinspace Device Sync'),
    el(
      'p',
      {},
      'This device: ',
      el('strong', { 'data-testid': 'device-name' }, view.deviceName),
      ' ',
      el(
        'code',
        {
          'data-testid': 'device-id',
          title: view.deviceId !== '' ? `Device id ${view.deviceId}` : '',
        },
        view.deviceShortId,
      ),
      view.listenAddress !== undefined
        ? el(
            'span',
            { class: 'muted', 'data-testid': 'listen-address' },
            ` · listening on ${view.listenAddress}`,
          )
        : '',
      view.workspaceId !== undefined
        ? el('span', { class: 'muted' }, ` · workspace "${view.workspaceId}"`)
        : '',
    ),
    view.syncError !== undefined
      ? el(
          'p',
          { class: 'sev-error', 'data-testid': 'sync-error' },
          `Device Sync could not start: ${view.syncError}`,
        )
      : '',
    el(
      'p',
      { 'data-testid': 'register-state' },
      `${view.statusText} · state version ${view.version}`,
    ),
    el('h2', {}, 'Trusted devices'),
    peers,
    el('p', {}, pairButton, ' ', addButton),
    el('h2', {}, 'Devices nearby (not paired)'),
    discovered,
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
if (saved && typeof saved === 'object' && 'deviceShortId' in saved && 'discovered' in saved) {
  render(saved);
}
vscode.postMessage({ kind: 'request', id: nextId++, method: 'ready' });
