/**
 * webview-ui/syncPanel: the Sync Panel webview (browser code), shown in an editor tab and in the
 * Twinspace activity-bar view. Renders the view the host sends over the typed protocol in
 * src/core/protocol/syncPanelProtocol.ts; keeps in getState/setState only what paints quickly on
 * reopen (the last view) and the user's own choices (the diagnostics severity filters).
 *
 * Keyboard: every action is a native <button> (Tab order follows the page, Enter and Space
 * activate), focus is visible, and a re-render keeps focus on the same action (`data-key`).
 */
import type {
  FileConflict,
  FileSyncStatus,
  PlanItem,
  SyncPanelDiagnosticView,
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

type Severity = SyncPanelDiagnosticView['severity'];
const SEVERITIES: readonly Severity[] = ['error', 'warn', 'info'];

interface SavedState {
  readonly view?: SyncPanelView;
  readonly filters: Readonly<Record<Severity, boolean>>;
}

const vscode = acquireVsCodeApi();
let nextId = 1;
let current: SyncPanelView | undefined;
let filters: Record<Severity, boolean> = { error: true, warn: true, info: true };
/** Requests sent and not answered yet: their buttons stay disabled. */
const inFlight = new Map<number, string>();
let lastError: string | undefined;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

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

function icon(name: string, cls = ''): HTMLElement {
  return el('span', {
    class: `codicon codicon-${name}${cls !== '' ? ` ${cls}` : ''}`,
    'aria-hidden': 'true',
  });
}

function formatTime(ms: number | undefined): string {
  return ms === undefined ? 'never' : new Date(ms).toLocaleTimeString();
}

function shortHead(head: string): string {
  return head.slice(0, 7);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function request(message: DistributiveOmit<SyncPanelRequest, 'kind' | 'id'>, key?: string): void {
  const id = nextId++;
  if (key !== undefined) inFlight.set(id, key);
  vscode.postMessage({ kind: 'request', id, ...message });
  if (key !== undefined && current) render(current);
}

interface ButtonOptions {
  readonly icon?: string;
  readonly title?: string;
  readonly kind?: 'primary' | 'secondary' | 'icon';
  /** Stable identity across re-renders (focus and in-flight state follow it). */
  readonly key: string;
}

function button(
  label: string,
  testId: string,
  onClick: () => void,
  o: ButtonOptions,
): HTMLButtonElement {
  const title = o.title ?? label;
  const kind = o.kind ?? 'primary';
  const b = el('button', {
    type: 'button',
    'data-testid': testId,
    'data-key': o.key,
    title,
    'aria-label': title,
    class: kind === 'primary' ? '' : kind,
  });
  if (o.icon !== undefined) b.append(icon(o.icon));
  if (kind !== 'icon') b.append(label);
  if ([...inFlight.values()].includes(o.key)) b.disabled = true;
  b.addEventListener('click', onClick);
  return b;
}

function section(testId: string, title: string, ...children: (Node | string)[]): HTMLElement {
  const id = `h-${testId}`;
  return el(
    'section',
    { 'data-testid': testId, 'aria-labelledby': id },
    el('h2', { id }, title),
    ...children,
  );
}

// ---------------------------------------------------------------------------------------------
// This device

const STATUS_ICONS: readonly (readonly [RegExp, string, string])[] = [
  [/failed|could not/, 'error', 'sev-error'],
  [/conflict/, 'warning', 'sev-warn'],
  [/syncing/, 'sync codicon-modifier-spin', 'busy'],
  [/in sync/, 'pass', 'ok'],
  [/offline/, 'debug-disconnect', 'muted'],
  [/discovering/, 'radio-tower', 'muted'],
  [/starting/, 'loading codicon-modifier-spin', 'muted'],
  [/off/, 'circle-slash', 'state-off'],
];

function statusIcon(text: string): HTMLElement {
  const hit = STATUS_ICONS.find(([re]) => re.test(text));
  return icon(hit?.[1] ?? 'info', hit?.[2] ?? '');
}

function renderThisDevice(view: SyncPanelView): HTMLElement {
  return section(
    'this-device',
    'This device',
    el(
      'div',
      { class: 'row' },
      icon('device-desktop'),
      el(
        'div',
        { class: 'main' },
        el(
          'div',
          { class: 'title' },
          el('strong', { 'data-testid': 'device-name' }, view.deviceName),
          el(
            'code',
            {
              'data-testid': 'device-id',
              title: view.deviceId !== '' ? `Device id ${view.deviceId}` : '',
            },
            view.deviceShortId,
          ),
        ),
        el(
          'div',
          { class: 'detail' },
          view.listenAddress !== undefined
            ? el('span', { 'data-testid': 'listen-address' }, `Listening on ${view.listenAddress}`)
            : 'Not listening',
          view.workspaceId !== undefined ? ` · workspace "${view.workspaceId}"` : '',
        ),
      ),
      el(
        'div',
        { class: 'actions' },
        button(
          'Rename…',
          'rename-device',
          () => {
            request({ method: 'renameDevice' });
          },
          { icon: 'edit', kind: 'icon', title: 'Rename this device…', key: 'rename' },
        ),
      ),
    ),
    view.syncError !== undefined
      ? el(
          'p',
          { class: 'notice error', 'data-testid': 'sync-error', role: 'alert' },
          icon('error', 'sev-error'),
          ` Device Sync could not start: ${view.syncError}`,
        )
      : '',
    el(
      'p',
      { class: 'line', 'data-testid': 'register-state' },
      statusIcon(view.statusText.replace(/^Twinspace:\s*/, '')),
      el(
        'span',
        {},
        view.statusText,
        el('span', { class: 'muted' }, ` · state version ${view.version}`),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Files

const PLAN_ICONS: Readonly<Record<PlanItem['action'], readonly [string, string, string]>> = {
  create: ['diff-added', 'added', 'create'],
  update: ['diff-modified', 'modified', 'update'],
  delete: ['diff-removed', 'deleted', 'delete'],
  conflict: ['warning', 'conflicted', 'conflict'],
};
const PLAN_ITEMS_SHOWN = 8;

function deviceLabel(view: SyncPanelView, deviceId: string): string {
  const peer = view.peers.find((p) => p.peerId === deviceId);
  return peer?.name !== undefined && peer.name !== '' ? peer.name : deviceId.slice(0, 12);
}

function renderPlan(files: FileSyncStatus): HTMLElement {
  const plan = files.plan;
  const counts = plan
    ? el(
        'div',
        { class: 'counts', 'data-testid': 'plan-counts' },
        ...(
          [
            ['create', plan.creates, 'to create'],
            ['update', plan.updates, 'to update'],
            ['delete', plan.deletes, 'to delete'],
            ['conflict', plan.conflicts, plan.conflicts === 1 ? 'conflict' : 'conflicts'],
          ] as const
        ).map(([action, n, words]) => {
          const [name, cls] = PLAN_ICONS[action];
          return el('span', {}, icon(name, cls), `${n} ${words}`);
        }),
      )
    : el('p', { class: 'muted' }, 'The plan is being computed…');
  const items = plan?.items ?? [];
  const total = plan ? plan.creates + plan.updates + plan.deletes + plan.conflicts : 0;
  const list = el(
    'ul',
    { class: 'plan', 'data-testid': 'plan-items', 'aria-label': 'First files of the plan' },
    ...items.slice(0, PLAN_ITEMS_SHOWN).map((item) => {
      const [name, cls, word] = PLAN_ICONS[item.action];
      return el(
        'li',
        {},
        icon(name, cls),
        el('span', { class: 'visually-hidden' }, `${word}: `),
        el('span', { class: 'path' }, item.path),
      );
    }),
  );
  const more = total - Math.min(items.length, PLAN_ITEMS_SHOWN);
  const choice = (
    label: string,
    method: 'merge' | 'takePeer' | 'keepMine',
    title: string,
    kind: 'primary' | 'secondary',
    iconName: string,
  ): HTMLButtonElement =>
    button(
      label,
      `link-${method}`,
      () => {
        request({ method: 'confirmLink', choice: method }, 'confirm-link');
      },
      { title, kind, icon: iconName, key: 'confirm-link' },
    );
  return el(
    'div',
    { class: 'notice info', 'data-testid': 'plan', role: 'group', 'aria-label': 'First sync plan' },
    el(
      'p',
      { class: 'line' },
      icon('checklist'),
      el('strong', {}, 'First sync of this folder: review the plan'),
    ),
    el(
      'p',
      { class: 'muted' },
      'Nothing is written until you choose how files that differ are treated.',
    ),
    counts,
    items.length > 0 ? list : '',
    more > 0 ? el('p', { class: 'muted' }, `and ${plural(more, 'more file')}`) : '',
    el(
      'div',
      { class: 'buttons' },
      choice(
        'Merge',
        'merge',
        'Merge: text files merge, differing binary files keep both versions',
        'primary',
        'merge',
      ),
      choice(
        "Take Peer's",
        'takePeer',
        "Take the peer's version of every file that differs",
        'secondary',
        'cloud-download',
      ),
      choice(
        'Keep Mine',
        'keepMine',
        "Keep this device's version of every file that differs",
        'secondary',
        'device-desktop',
      ),
    ),
  );
}

function renderConflict(conflict: FileConflict): HTMLElement {
  const key = `conflict:${conflict.id}`;
  return el(
    'li',
    { class: 'row wrap', 'data-testid': 'conflict-row', 'data-conflict-id': conflict.id },
    icon('warning', 'sev-warn'),
    el(
      'div',
      { class: 'main' },
      el('div', { class: 'title' }, el('strong', { class: 'path' }, conflict.path)),
      el(
        'div',
        { class: 'detail' },
        `${conflict.kind === 'binary' ? 'Binary file' : 'Text file'} · copy from ${conflict.device} at ${formatTime(conflict.at)}: `,
        el('span', { class: 'path' }, conflict.copyPath),
      ),
    ),
    el(
      'div',
      { class: 'actions' },
      conflict.kind === 'text'
        ? button(
            'Open Diff',
            'open-diff',
            () => {
              request({ method: 'openDiff', conflictId: conflict.id });
            },
            {
              icon: 'diff',
              kind: 'secondary',
              title: `Open diff: ${conflict.path} and its copy`,
              key: `${key}:diff`,
            },
          )
        : '',
      button(
        'Keep This One',
        'keep-current',
        () => {
          request(
            { method: 'resolveConflict', conflictId: conflict.id, choice: 'keepCurrent' },
            key,
          );
        },
        {
          icon: 'check',
          kind: 'secondary',
          title: `Keep ${conflict.path} as it is and delete the copy`,
          key,
        },
      ),
      button(
        'Keep the Copy',
        'keep-copy',
        () => {
          request({ method: 'resolveConflict', conflictId: conflict.id, choice: 'keepCopy' }, key);
        },
        {
          icon: 'files',
          kind: 'secondary',
          title: `Replace ${conflict.path} with the copy from ${conflict.device}`,
          key,
        },
      ),
    ),
  );
}

/** The progress bar's fill; sized through the CSSOM (the CSP blocks inline style attributes). */
function bar(percent: number): HTMLElement {
  const fill = el('div', {});
  fill.style.width = `${percent}%`;
  return fill;
}

function renderFiles(view: SyncPanelView): HTMLElement {
  const files = view.files;
  if (files === undefined || files.state === 'off') {
    return section(
      'files',
      'Files',
      el(
        'p',
        { class: 'line', 'data-testid': 'files-state', 'data-state': 'off' },
        icon('circle-slash', 'state-off'),
        el('span', { class: 'muted' }, 'File sync is off for this folder.'),
      ),
      el(
        'div',
        { class: 'buttons' },
        button(
          'Link This Folder…',
          'link-workspace',
          () => {
            request({ method: 'runCommand', command: 'twinspace.linkWorkspace' });
          },
          {
            icon: 'link',
            kind: 'secondary',
            title: "Link this folder to a device's workspace…",
            key: 'link-workspace',
          },
        ),
      ),
    );
  }
  const percent = Math.min(100, Math.max(0, Math.floor(files.percent)));
  const stateLine = ((): HTMLElement => {
    const p = (iconNode: HTMLElement, text: string): HTMLElement =>
      el(
        'p',
        { class: 'line', 'data-testid': 'files-state', 'data-state': files.state },
        iconNode,
        el('span', {}, text),
      );
    switch (files.state) {
      case 'scanning':
        return p(icon('loading codicon-modifier-spin'), 'Scanning the folder…');
      case 'awaiting-confirmation':
        return p(icon('question', 'sev-info'), 'Waiting for your confirmation');
      case 'syncing':
        return p(
          icon('sync codicon-modifier-spin', 'busy'),
          `Syncing ${percent}% · ${plural(files.pending, 'file')} pending`,
        );
      case 'in-sync':
        return p(icon('pass', 'ok'), `In sync · ${plural(files.files, 'file')}`);
    }
  })();
  const progress =
    files.state === 'syncing'
      ? el(
          'div',
          {
            class: 'progress',
            role: 'progressbar',
            'aria-valuemin': '0',
            'aria-valuemax': '100',
            'aria-valuenow': String(percent),
            'aria-label': 'File sync progress',
          },
          bar(percent),
        )
      : '';
  const git = files.git
    ? el(
        'p',
        { class: 'line muted', 'data-testid': 'git-head' },
        icon('git-branch'),
        el('span', {}, `${files.git.branch} @ `, el('code', {}, shortHead(files.git.head))),
      )
    : '';
  const mismatches = files.gitMismatches.map((m) =>
    el(
      'p',
      { class: 'notice', 'data-testid': 'git-mismatch', role: 'status' },
      icon('warning', 'sev-warn'),
      ` ${deviceLabel(view, m.deviceId)} is on `,
      el('strong', {}, m.branch),
      ' @ ',
      el('code', {}, shortHead(m.head)),
      files.git
        ? ` (this device: ${files.git.branch} @ ${shortHead(files.git.head)}). Git state is not synced; files may differ from what each branch expects.`
        : '. Git state is not synced.',
    ),
  );
  const conflicts =
    files.conflicts.length > 0
      ? el(
          'div',
          {},
          el(
            'h3',
            { class: 'line subhead' },
            icon('warning', 'sev-warn'),
            el(
              'span',
              {},
              `${plural(files.conflicts.length, 'conflict')}: both versions were kept`,
            ),
          ),
          el(
            'ul',
            { class: 'list', 'data-testid': 'conflicts', 'aria-label': 'Conflicts' },
            ...files.conflicts.map(renderConflict),
          ),
        )
      : '';
  return section(
    'files',
    'Files',
    stateLine,
    progress,
    git,
    ...mismatches,
    files.state === 'awaiting-confirmation' ? renderPlan(files) : '',
    conflicts,
  );
}

// ---------------------------------------------------------------------------------------------
// Devices

const PEER_STATES: Readonly<Record<string, readonly [string, string, string]>> = {
  Handshaking: ['loading codicon-modifier-spin', 'busy', 'Connecting'],
  Authenticated: ['plug', 'busy', 'Connected'],
  Syncing: ['sync codicon-modifier-spin', 'busy', 'Syncing'],
  Idle: ['pass', 'ok', 'In sync'],
  Disconnected: ['debug-disconnect', 'muted', 'Offline'],
};

const PAUSED_STATE: readonly [string, string, string] = ['debug-pause', 'muted', 'Paused'];

function pending(p: SyncPanelPeerView): string {
  if (p.pendingOut === undefined && p.pendingIn === undefined) return '';
  return `${p.pendingOut ?? 0} out / ${p.pendingIn ?? 0} in pending`;
}

/** "Continue here", "Pause"/"Resume" and "Forget" for a trusted device. */
function peerActions(p: SyncPanelPeerView): HTMLElement[] {
  const label = p.name ?? p.peerId.slice(0, 12);
  const paused = p.paused === true;
  const editors = p.openEditors ?? 0;
  const continueKey = `continue:${p.peerId}`;
  const pauseKey = `pause:${p.peerId}`;
  const forgetKey = `forget:${p.peerId}`;
  return [
    editors > 0
      ? button(
          'Continue here',
          'continue-here',
          () => {
            request(
              {
                method: 'runCommand',
                command: 'twinspace.continueOnThisDevice',
                deviceId: p.peerId,
              },
              continueKey,
            );
          },
          {
            icon: 'multiple-windows',
            kind: 'icon',
            title: `Continue here: open the ${plural(editors, 'editor')} ${label} has open`,
            key: continueKey,
          },
        )
      : '',
    button(
      paused ? 'Resume' : 'Pause',
      paused ? 'resume-device' : 'pause-device',
      () => {
        request({ method: paused ? 'resumeDevice' : 'pauseDevice', deviceId: p.peerId }, pauseKey);
      },
      {
        icon: paused ? 'debug-start' : 'debug-pause',
        kind: 'icon',
        title: paused
          ? `Resume Device Sync with ${label}`
          : `Pause Device Sync with ${label} (until resumed or VS Code restarts)`,
        key: pauseKey,
      },
    ),
    button(
      'Forget',
      'forget-device',
      () => {
        request({ method: 'forgetDevice', deviceId: p.peerId }, forgetKey);
      },
      { icon: 'trash', kind: 'icon', title: `Forget ${p.name ?? p.peerId}`, key: forgetKey },
    ),
  ].filter((b): b is HTMLButtonElement => b !== '');
}

function renderPeer(p: SyncPanelPeerView): HTMLElement {
  const [iconName, cls, word] =
    p.paused === true
      ? PAUSED_STATE
      : (PEER_STATES[p.state] ?? ['circle-outline', 'muted', p.state]);
  const isAddress = p.peerId.startsWith('addr:');
  const details = [
    p.transport !== undefined
      ? `${p.transport}${p.address !== undefined ? ` ${p.address}` : ''}`
      : '',
    `last sync ${formatTime(p.lastSyncAt)}`,
    pending(p),
  ].filter((x) => x !== '');
  return el(
    'li',
    {
      class: 'row',
      'data-testid': 'peer-row',
      'data-device-id': p.peerId,
      'data-state': p.state,
      'data-paused': String(p.paused === true),
    },
    icon(iconName, cls),
    el(
      'div',
      { class: 'main' },
      el(
        'div',
        { class: 'title' },
        p.name !== undefined && p.name !== '' ? el('strong', {}, p.name) : '',
        el('code', { title: p.peerId }, isAddress ? p.peerId.slice(5) : p.peerId.slice(0, 12)),
        el('span', { class: cls, 'data-testid': 'peer-state', title: p.lastError ?? '' }, word),
      ),
      el('div', { class: 'detail' }, details.join(' · ')),
      p.lastError !== undefined ? el('div', { class: 'detail sev-error' }, p.lastError) : '',
    ),
    el('div', { class: 'actions' }, ...(isAddress ? [] : peerActions(p))),
  );
}

function renderDevices(view: SyncPanelView): HTMLElement {
  const peers =
    view.peers.length === 0
      ? el(
          'p',
          { class: 'muted', 'data-testid': 'no-peers' },
          'No trusted devices yet. Pair one to start Device Sync.',
        )
      : el(
          'ul',
          { class: 'list', 'data-testid': 'peers', 'aria-label': 'Trusted devices' },
          ...view.peers.map(renderPeer),
        );
  return section(
    'devices',
    'Trusted devices',
    peers,
    el(
      'div',
      { class: 'buttons' },
      button(
        'Pair a Device…',
        'pair-device',
        () => {
          request({ method: 'runCommand', command: 'twinspace.pairDevice' });
        },
        { icon: 'link', key: 'pair-device' },
      ),
      button(
        'Add by Address…',
        'add-address',
        () => {
          request({ method: 'runCommand', command: 'twinspace.addPeerAddress' });
        },
        { icon: 'add', kind: 'secondary', key: 'add-address' },
      ),
    ),
  );
}

function renderNearby(view: SyncPanelView): HTMLElement {
  const body =
    view.discovered.length === 0
      ? el('p', { class: 'muted' }, 'No other devices found on this network.')
      : el(
          'ul',
          { class: 'list', 'data-testid': 'discovered', 'aria-label': 'Devices nearby' },
          ...view.discovered.map((d) =>
            el(
              'li',
              { class: 'row', 'data-testid': 'discovered-row' },
              icon('broadcast', 'muted'),
              el(
                'div',
                { class: 'main' },
                el(
                  'div',
                  { class: 'title' },
                  el('strong', {}, d.name),
                  el('code', { title: d.deviceId }, d.deviceId.slice(0, 12)),
                ),
                el('div', { class: 'detail' }, d.address),
              ),
              el(
                'div',
                { class: 'actions' },
                button(
                  'Pair…',
                  'pair-with',
                  () => {
                    request({ method: 'pairWith', deviceId: d.deviceId });
                  },
                  {
                    icon: 'link',
                    kind: 'secondary',
                    title: `Pair with ${d.name}`,
                    key: `pair:${d.deviceId}`,
                  },
                ),
              ),
            ),
          ),
        );
  return section('nearby', 'Devices nearby (not paired)', body);
}

function renderWorkers(view: SyncPanelView): HTMLElement {
  const WORKER_ICONS: Readonly<Record<string, readonly [string, string]>> = {
    running: ['pass', 'ok'],
    failed: ['error', 'sev-error'],
    restarting: ['loading codicon-modifier-spin', 'busy'],
    stopped: ['circle-slash', 'state-off'],
  };
  return section(
    'workers',
    'Workers',
    view.workers.length === 0
      ? el('p', { class: 'muted' }, 'No workers running.')
      : el(
          'div',
          { class: 'workers' },
          ...view.workers.map((w) => {
            const [name, cls] = WORKER_ICONS[w.status] ?? ['circle-outline', 'muted'];
            return el(
              'span',
              {
                'data-testid': 'worker-row',
                title: `${w.name}: ${w.status}, ${plural(w.failures, 'failure')}`,
              },
              icon(name, cls),
              w.name,
              w.failures > 0 ? el('span', { class: 'muted' }, `(${w.failures})`) : '',
            );
          }),
        ),
  );
}

// ---------------------------------------------------------------------------------------------
// Diagnostics

const SEVERITY_LABELS: Readonly<Record<Severity, readonly [string, string, string]>> = {
  error: ['Errors', 'error', 'sev-error'],
  warn: ['Warnings', 'warning', 'sev-warn'],
  info: ['Info', 'info', 'sev-info'],
};

function renderDiagnostics(view: SyncPanelView): HTMLElement {
  const counts: Record<Severity, number> = { error: 0, warn: 0, info: 0 };
  for (const d of view.diagnostics) counts[d.severity]++;
  const toggles = SEVERITIES.map((s) => {
    const [label, iconName, cls] = SEVERITY_LABELS[s];
    const b = el(
      'button',
      {
        type: 'button',
        class: 'toggle',
        'data-testid': `filter-${s}`,
        'data-key': `filter-${s}`,
        'aria-pressed': String(filters[s]),
        title: `${filters[s] ? 'Hide' : 'Show'} ${label.toLowerCase()}`,
      },
      icon(iconName, cls),
      `${label} ${counts[s]}`,
    );
    b.addEventListener('click', () => {
      filters = { ...filters, [s]: !filters[s] };
      save();
      if (current) render(current);
    });
    return b;
  });
  const shown = view.diagnostics
    .filter((d) => filters[d.severity])
    .slice(-50)
    .reverse();
  const list =
    shown.length === 0
      ? el(
          'p',
          { class: 'muted', 'data-testid': 'no-diagnostics' },
          view.diagnostics.length === 0
            ? 'No diagnostics yet.'
            : 'All diagnostics are filtered out.',
        )
      : el(
          'ul',
          {
            class: 'diagnostics',
            'data-testid': 'diagnostics',
            tabindex: '0',
            'aria-label': 'Recent diagnostics, newest first',
          },
          ...shown.map((d) => {
            const [, iconName, cls] = SEVERITY_LABELS[d.severity];
            return el(
              'li',
              { class: `sev-${d.severity}-row`, 'data-severity': d.severity },
              icon(iconName, cls),
              el('span', { class: 'when' }, formatTime(d.at)),
              el(
                'span',
                { class: 'text' },
                el('code', { class: 'muted' }, d.channel),
                ` ${d.message}${d.count > 1 ? ` ×${d.count}` : ''}`,
              ),
            );
          }),
        );
  return section(
    'diagnostics-section',
    'Recent diagnostics',
    el(
      'div',
      { class: 'filters', role: 'toolbar', 'aria-label': 'Severity filters' },
      icon('filter', 'muted'),
      ...toggles,
    ),
    list,
    el(
      'div',
      { class: 'buttons' },
      button(
        'Show Log',
        'show-log',
        () => {
          request({ method: 'runCommand', command: 'twinspace.showLog' });
        },
        { icon: 'output', kind: 'secondary', key: 'show-log' },
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------

function save(): void {
  const state: SavedState = { ...(current ? { view: current } : {}), filters };
  vscode.setState(state);
}

function render(view: SyncPanelView): void {
  const app = document.getElementById('app');
  if (!app) return;
  current = view;
  const active = document.activeElement;
  const focusKey = active instanceof HTMLElement ? active.getAttribute('data-key') : null;
  const surface = app.getAttribute('data-surface') ?? 'panel';
  app.replaceChildren(
    el('h1', {}, 'Twinspace Device Sync'),
    el(
      'div',
      { id: 'toast', role: 'alert', 'data-testid': 'request-error' },
      ...(lastError !== undefined
        ? [el('p', { class: 'notice error' }, icon('error', 'sev-error'), ` ${lastError}`)]
        : []),
    ),
    renderThisDevice(view),
    renderFiles(view),
    renderDevices(view),
    renderNearby(view),
    renderWorkers(view),
    renderDiagnostics(view),
  );
  app.setAttribute('data-surface', surface);
  if (focusKey !== null) {
    const again = app.querySelector<HTMLElement>(`[data-key="${CSS.escape(focusKey)}"]`);
    if (again && !(again instanceof HTMLButtonElement && again.disabled)) again.focus();
  }
  save();
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isView(x: unknown): x is SyncPanelView {
  return (
    isRecord(x) &&
    typeof x['deviceShortId'] === 'string' &&
    Array.isArray(x['peers']) &&
    Array.isArray(x['discovered']) &&
    Array.isArray(x['workers']) &&
    Array.isArray(x['diagnostics'])
  );
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  const message = event.data;
  if (!isRecord(message)) return;
  const m = message as SyncPanelMessage;
  if (m.kind === 'notification' && isView(m.view)) render(m.view);
  if (m.kind === 'response') {
    inFlight.delete(m.id);
    lastError = m.ok ? undefined : (m.error ?? 'the request failed');
    if (m.view !== undefined && isView(m.view)) render(m.view);
    else if (current) render(current);
  }
});

const saved = vscode.getState();
if (isRecord(saved)) {
  const f = saved['filters'];
  if (isRecord(f)) {
    filters = {
      error: f['error'] !== false,
      warn: f['warn'] !== false,
      info: f['info'] !== false,
    };
  }
  if (isView(saved['view'])) render(saved['view']);
}
vscode.postMessage({ kind: 'request', id: nextId++, method: 'ready' });
