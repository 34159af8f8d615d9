import type { RegisterState } from './state';

export type StatusKind =
  'off' | 'starting' | 'discovering' | 'in_sync' | 'syncing' | 'offline' | 'error';

export interface StatusSummary {
  readonly kind: StatusKind;
  /** Short text for the status bar, without icon. */
  readonly text: string;
  /** Codicon name for the status bar. */
  readonly icon: string;
  /** Multi-line details (per device, failed workers). */
  readonly tooltip: string;
}

/**
 * What the status bar shows for a state. Pure: the host only renders it. A failed worker wins
 * over everything else, then sync states; `off` is for a runtime that is not running.
 */
export function summarizeStatus(state: RegisterState | undefined): StatusSummary {
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
  const tooltip = lines.length > 0 ? lines.join('\n') : 'No devices yet.';
  if (failed.length > 0) {
    const names = failed.map((w) => w.name).join(', ');
    return { kind: 'error', text: `Twinspace: worker failed (${names})`, icon: 'error', tooltip };
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
