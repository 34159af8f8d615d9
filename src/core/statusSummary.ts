import type { FileSyncStatus } from './files/fileSyncStatus';
import type { PeerSessionState } from './intents';
import type { RegisterState } from './state';

export type StatusKind =
  'off' | 'starting' | 'discovering' | 'in_sync' | 'syncing' | 'offline' | 'error' | 'conflict';

export interface StatusSummary {
  readonly kind: StatusKind;
  /** Short text for the status bar, without icon. */
  readonly text: string;
  /** Codicon name for the status bar. */
  readonly icon: string;
  /** Multi-line details (per device, failed workers). */
  readonly tooltip: string;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One line on the file sync of the linked folder (tooltip, `showStatus`). */
export function describeFileSync(files: FileSyncStatus): string {
  const conflicts =
    files.conflicts.length > 0 ? ` · ${plural(files.conflicts.length, 'conflict')}` : '';
  switch (files.state) {
    case 'off':
      return 'Files: not syncing';
    case 'scanning':
      return `Files: scanning${conflicts}`;
    case 'awaiting-confirmation':
      return `Files: first sync waiting for your confirmation (Sync Panel)${conflicts}`;
    case 'syncing':
      return `Files: syncing ${clampPercent(files.percent)}% · ${files.pending} pending${conflicts}`;
    case 'in-sync':
      return `Files: in sync · ${plural(files.files, 'file')}${conflicts}`;
  }
}

function clampPercent(p: number): number {
  return Number.isFinite(p) ? Math.min(100, Math.max(0, Math.floor(p))) : 0;
}

/**
 * What the status bar shows for a state and, optionally, the file sync of the linked folder.
 * Pure: the host only renders it. A failed worker wins over everything else, then conflicts,
 * then file progress ("syncing N%"), then the device states; `off` is for a runtime that is not
 * running.
 */
export function summarizeStatus(
  state: RegisterState | undefined,
  files?: FileSyncStatus,
): StatusSummary {
  if (state === undefined) {
    return {
      kind: 'off',
      text: 'Twinspace: off',
      icon: 'circle-slash',
      tooltip: 'Device Sync is off.',
    };
  }
  const workers = Object.values(state.workers);
  const failed = workers.filter((w) => w.status === 'failed');
  const peers = Object.values(state.sync.peers);
  const lines: string[] = [];
  for (const p of peers) {
    lines.push(`${p.peerId}: ${p.state}${p.transport !== undefined ? ` via ${p.transport}` : ''}`);
  }
  for (const w of workers) {
    lines.push(
      `worker ${w.name}: ${w.status}${w.lastError !== undefined ? ` (${w.lastError})` : ''}`,
    );
  }
  if (files !== undefined && files.state !== 'off') lines.push(describeFileSync(files));
  const tooltip = lines.length > 0 ? lines.join('\n') : 'No devices yet.';
  if (failed.length > 0) {
    const names = failed.map((w) => w.name).join(', ');
    return { kind: 'error', text: `Twinspace: worker failed (${names})`, icon: 'error', tooltip };
  }
  const conflicts = files?.conflicts.length ?? 0;
  if (conflicts > 0) {
    return {
      kind: 'conflict',
      text: `Twinspace: ${plural(conflicts, 'conflict')}`,
      icon: 'warning',
      tooltip,
    };
  }
  // File progress only means something while a device is connected; otherwise "offline" says more.
  const connected = peers.some((p) => p.state !== 'Disconnected');
  if (files?.state === 'syncing' && connected) {
    return {
      kind: 'syncing',
      text: `Twinspace: syncing ${clampPercent(files.percent)}%`,
      icon: 'sync~spin',
      tooltip,
    };
  }
  if (workers.length === 0) {
    return { kind: 'starting', text: 'Twinspace: starting', icon: 'loading~spin', tooltip };
  }
  const syncing = peers.filter(
    (p) => p.state === 'Handshaking' || p.state === 'Authenticated' || p.state === 'Syncing',
  );
  const idle = peers.filter((p) => p.state === 'Idle');
  if (syncing.length > 0) {
    return {
      kind: 'syncing',
      text: `Twinspace: syncing with ${syncing.length} device${syncing.length === 1 ? '' : 's'}`,
      icon: 'sync~spin',
      tooltip,
    };
  }
  if (idle.length > 0) {
    return {
      kind: 'in_sync',
      text: `Twinspace: ${idle.length} device${idle.length === 1 ? '' : 's'} in sync`,
      icon: 'check',
      tooltip,
    };
  }
  if (peers.length > 0) {
    return { kind: 'offline', text: 'Twinspace: offline', icon: 'debug-disconnect', tooltip };
  }
  return { kind: 'discovering', text: 'Twinspace: discovering', icon: 'radio-tower', tooltip };
}

/** How the tooltip names a device: its name and short id (the host knows both; core does not). */
export interface DeviceLabel {
  readonly name: string;
  readonly shortId: string;
}

const STATE_WORDS: Readonly<Record<PeerSessionState, string>> = {
  Handshaking: 'connecting',
  Authenticated: 'connected',
  Syncing: 'syncing',
  Idle: 'in sync',
  Disconnected: 'offline',
};

const STATE_ICONS: Readonly<Record<PeerSessionState, string>> = {
  Handshaking: 'loading~spin',
  Authenticated: 'plug',
  Syncing: 'sync~spin',
  Idle: 'check',
  Disconnected: 'debug-disconnect',
};

/**
 * Escapes text for Markdown (and theme icons): device names come from other machines, so a name
 * such as `[x](command:…)` or `$(zap)` must show as typed, not as a link or icon. Line breaks
 * become spaces so one device stays on one line.
 */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[\\`*_{}[\]()#+\-.!|<>$~&]/g, '\\$&');
}

/** "just now", "5 min ago", "3 h ago", "2 d ago"; `at` in the future counts as now. */
export function formatAgo(at: number, now: number): string {
  const s = Math.max(0, Math.floor((now - at) / 1000));
  if (s < 60) return 'just now';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/**
 * The status bar's tooltip as Markdown (theme icons allowed, no command links): the headline,
 * then one line per device (name and short id, state, transport, last sync), then one line per
 * failed worker, then `notes` (why Device Sync is off or failed). Devices are those with a
 * session in `state` plus the labelled (trusted) ones without one, which show as offline.
 * Pure: `now` comes in as data; names and notes are escaped.
 */
export function statusTooltipMarkdown(
  state: RegisterState | undefined,
  labels: Readonly<Record<string, DeviceLabel>>,
  now: number,
  notes: readonly string[] = [],
  files?: FileSyncStatus,
): string {
  const summary = summarizeStatus(state, files);
  const lines = [`**${escapeMarkdown(summary.text)}**`, ''];
  if (state !== undefined) {
    const ids = [...new Set([...Object.keys(state.sync.peers), ...Object.keys(labels)])];
    const rows = ids.map((id) => {
      const info = state.sync.peers[id];
      const label = labels[id];
      const name =
        label !== undefined
          ? `**${escapeMarkdown(label.name)}** (${escapeMarkdown(label.shortId)})`
          : `**${escapeMarkdown(id)}**`;
      const peerState = info?.state ?? 'Disconnected';
      const parts = [STATE_WORDS[peerState]];
      if (info?.transport !== undefined) parts.push(`via ${escapeMarkdown(info.transport)}`);
      parts.push(
        info?.lastSyncAt !== undefined
          ? `last sync ${formatAgo(info.lastSyncAt, now)}`
          : 'never synced',
      );
      return {
        sortKey: label?.name ?? id,
        line: `$(${STATE_ICONS[peerState]}) ${name}: ${parts.join(' · ')}`,
      };
    });
    rows.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
    if (rows.length === 0) lines.push('No devices yet: pair one with "Twinspace: Pair a Device…".');
    for (const r of rows) lines.push(`- ${r.line}`);
    const failed = Object.values(state.workers).filter((w) => w.status === 'failed');
    if (failed.length > 0) lines.push('');
    for (const w of failed) {
      const why = w.lastError !== undefined ? `: ${escapeMarkdown(w.lastError)}` : '';
      lines.push(
        `- $(error) worker **${escapeMarkdown(w.name)}** failed (failures: ${w.failures})${why}`,
      );
    }
  }
  if (state !== undefined && files !== undefined && files.state !== 'off') {
    lines.push(
      '',
      `$(${files.conflicts.length > 0 ? 'warning' : 'files'}) ${escapeMarkdown(describeFileSync(files))}`,
    );
    for (const c of files.conflicts.slice(0, 5)) {
      lines.push(`- $(warning) ${escapeMarkdown(c.path)} (copy from ${escapeMarkdown(c.device)})`);
    }
    if (files.conflicts.length > 5) lines.push(`- and ${files.conflicts.length - 5} more`);
    for (const m of files.gitMismatches) {
      lines.push(
        `- $(git-branch) ${escapeMarkdown(labels[m.deviceId]?.name ?? m.deviceId)} is on ${escapeMarkdown(m.branch)} @ ${escapeMarkdown(m.head.slice(0, 7))}`,
      );
    }
  }
  if (notes.length > 0) lines.push('');
  for (const n of notes) lines.push(`- ${escapeMarkdown(n)}`);
  return lines.join('\n').trimEnd();
}
