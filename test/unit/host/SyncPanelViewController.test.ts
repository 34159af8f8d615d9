import { strict as assert } from 'node:assert';
import {
  FILE_SYNC_OFF,
  type ConflictChoice,
  type FileConflict,
  type FileSyncStatus,
  type LinkChoice,
} from '../../../src/core/files/fileSyncStatus';
import type { SyncPanelMessage, SyncPanelView } from '../../../src/core/protocol/syncPanelProtocol';
import type { FileSyncView } from '../../../src/host/FileSyncView';
import {
  SyncPanelViewController,
  type SyncPanelHost,
} from '../../../src/host/SyncPanelViewController';

const DEVICE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

const conflict: FileConflict = {
  id: 'src/a.ts.conflict-laptop-20260101',
  path: 'src/a.ts',
  copyPath: 'src/a.ts.conflict-laptop-20260101',
  kind: 'text',
  device: 'laptop',
  at: 1_000,
};

const baseView: SyncPanelView = {
  deviceName: 'desk',
  deviceId: DEVICE,
  deviceShortId: 'ABCD-EFGH-IJKL',
  statusText: 'Twinspace: discovering',
  version: 3,
  workers: [],
  peers: [],
  discovered: [],
  diagnostics: [],
};

class FakeFiles implements FileSyncView {
  current: FileSyncStatus = FILE_SYNC_OFF;
  readonly calls: string[] = [];
  readonly listeners = new Set<() => void>();
  /** Resolves the pending confirmLink/resolveConflict call, when one is held. */
  release: (() => void) | undefined;
  hold = false;

  status(): FileSyncStatus {
    return this.current;
  }
  onDidChange(listener: () => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
  change(status: FileSyncStatus): void {
    this.current = status;
    for (const l of this.listeners) l();
  }
  private async wait(): Promise<void> {
    if (!this.hold) return;
    await new Promise<void>((resolve) => {
      this.release = resolve;
    });
  }
  async confirmLink(choice: LinkChoice): Promise<void> {
    this.calls.push(`confirmLink:${choice}`);
    await this.wait();
  }
  async resolveConflict(conflictId: string, choice: ConflictChoice): Promise<void> {
    this.calls.push(`resolveConflict:${conflictId}:${choice}`);
    await this.wait();
  }
}

function setup(files?: FileSyncView): {
  controller: SyncPanelViewController;
  posted: SyncPanelMessage[];
  rejected: string[];
  ran: string[];
  hostListeners: Set<() => void>;
  setFiles(f: FileSyncView | undefined): void;
} {
  const posted: SyncPanelMessage[] = [];
  const rejected: string[] = [];
  const ran: string[] = [];
  const hostListeners = new Set<() => void>();
  let currentFiles = files;
  const host: SyncPanelHost = {
    view: () => baseView,
    onChange: (l) => {
      hostListeners.add(l);
      return () => hostListeners.delete(l);
    },
    runCommand: (c) => {
      ran.push(`run:${c}`);
      return Promise.resolve();
    },
    forgetDevice: (d) => {
      ran.push(`forget:${d}`);
      return Promise.resolve();
    },
    pairWith: (d) => {
      ran.push(`pair:${d}`);
      return Promise.resolve();
    },
    reportRejected: (r) => {
      rejected.push(r);
    },
    renameDevice: () => {
      ran.push('rename');
      return Promise.resolve();
    },
    fileSync: () => currentFiles,
    openDiff: (c) => {
      ran.push(`diff:${c.copyPath}->${c.path}`);
      return Promise.resolve();
    },
  };
  const controller = new SyncPanelViewController(host, {
    post: (m) => {
      posted.push(m);
      return Promise.resolve();
    },
  });
  return {
    controller,
    posted,
    rejected,
    ran,
    hostListeners,
    setFiles: (f) => {
      currentFiles = f;
    },
  };
}

const awaiting: FileSyncStatus = {
  ...FILE_SYNC_OFF,
  state: 'awaiting-confirmation',
  plan: {
    creates: 1,
    updates: 0,
    deletes: 0,
    conflicts: 0,
    items: [{ action: 'create', path: 'a' }],
  },
};

const last = (posted: SyncPanelMessage[]): SyncPanelMessage | undefined => posted.at(-1);

describe('SyncPanelViewController', () => {
  it('answers ready with the view, the files section off without a file sync', async () => {
    const t = setup();
    await t.controller.handle({ kind: 'request', id: 1, method: 'ready' });
    const m = last(t.posted);
    assert.ok(m?.kind === 'response' && m.ok && m.id === 1);
    assert.equal(m.view?.deviceName, 'desk');
    assert.deepEqual(m.view.files, FILE_SYNC_OFF);
  });

  it('rejects hostile messages: reported, answered ok:false when they carry an id, nothing run', async () => {
    const files = new FakeFiles();
    files.current = { ...awaiting, conflicts: [conflict] };
    const t = setup(files);
    const hostile: unknown[] = [
      { kind: 'request', id: 5, method: 'runCommand', command: 'workbench.action.terminal.new' },
      { kind: 'request', id: 6, method: 'confirmLink', choice: 'deleteEverything' },
      { kind: 'request', id: 7, method: 'resolveConflict', conflictId: conflict.id, choice: 'rm' },
      { kind: 'request', id: 8, method: 'openDiff', conflictId: 'a\u0000b' },
      { kind: 'request', id: 9, method: 'openDiff', conflictId: 'x'.repeat(5000) },
      { kind: 'request', id: 10, method: 'forgetDevice', deviceId: '../../etc' },
      { kind: 'request', method: 'ready' },
      'ready',
      null,
    ];
    for (const h of hostile) await t.controller.handle(h);
    assert.equal(t.rejected.length, hostile.length);
    assert.deepEqual(t.ran, []);
    assert.deepEqual(files.calls, []);
    const answers = t.posted.filter((m) => m.kind === 'response');
    assert.deepEqual(
      answers.map((m) => [m.id, m.ok, m.code]),
      [5, 6, 7, 8, 9, 10].map((id) => [id, false, 'validation']),
    );
  });

  it('runs the allowed commands and device requests', async () => {
    const t = setup();
    await t.controller.handle({
      kind: 'request',
      id: 1,
      method: 'runCommand',
      command: 'twinspace.linkWorkspace',
    });
    await t.controller.handle({ kind: 'request', id: 2, method: 'forgetDevice', deviceId: DEVICE });
    await t.controller.handle({ kind: 'request', id: 3, method: 'renameDevice' });
    assert.deepEqual(t.ran, ['run:twinspace.linkWorkspace', `forget:${DEVICE}`, 'rename']);
    assert.ok(t.posted.every((m) => m.kind === 'response' && m.ok));
  });

  it('confirms the first sync only while a plan waits, once at a time', async () => {
    const files = new FakeFiles();
    const t = setup(files);
    await t.controller.handle({ kind: 'request', id: 1, method: 'confirmLink', choice: 'merge' });
    let m = last(t.posted);
    assert.ok(m?.kind === 'response' && !m.ok && m.code === 'not_found', JSON.stringify(m));
    assert.deepEqual(files.calls, []);

    files.current = awaiting;
    files.hold = true;
    const first = t.controller.handle({
      kind: 'request',
      id: 2,
      method: 'confirmLink',
      choice: 'takePeer',
    });
    await Promise.resolve();
    await t.controller.handle({
      kind: 'request',
      id: 3,
      method: 'confirmLink',
      choice: 'keepMine',
    });
    m = last(t.posted);
    assert.ok(m?.kind === 'response' && m.id === 3 && !m.ok && m.code === 'busy');
    files.release?.();
    await first;
    m = last(t.posted);
    assert.ok(m?.kind === 'response' && m.id === 2 && m.ok);
    assert.deepEqual(files.calls, ['confirmLink:takePeer']);
  });

  it('resolves and diffs only conflicts the file sync reports', async () => {
    const files = new FakeFiles();
    files.current = { ...FILE_SYNC_OFF, state: 'in-sync', conflicts: [conflict] };
    const t = setup(files);
    await t.controller.handle({
      kind: 'request',
      id: 1,
      method: 'resolveConflict',
      conflictId: '../../../etc/passwd',
      choice: 'keepCopy',
    });
    await t.controller.handle({ kind: 'request', id: 2, method: 'openDiff', conflictId: 'nope' });
    assert.deepEqual(
      t.posted.map((m) => (m.kind === 'response' ? [m.id, m.ok, m.code] : m.kind)),
      [
        [1, false, 'not_found'],
        [2, false, 'not_found'],
      ],
    );
    assert.deepEqual(files.calls, []);
    assert.deepEqual(t.ran, []);

    await t.controller.handle({
      kind: 'request',
      id: 3,
      method: 'openDiff',
      conflictId: conflict.id,
    });
    await t.controller.handle({
      kind: 'request',
      id: 4,
      method: 'resolveConflict',
      conflictId: conflict.id,
      choice: 'keepCopy',
    });
    assert.deepEqual(t.ran, [`diff:${conflict.copyPath}->${conflict.path}`]);
    assert.deepEqual(files.calls, [`resolveConflict:${conflict.id}:keepCopy`]);
  });

  it('a failing file sync is answered ok:false (internal) and reported', async () => {
    const files = new FakeFiles();
    files.current = awaiting;
    files.confirmLink = () => Promise.reject(new Error('disk full'));
    const t = setup(files);
    await t.controller.handle({ kind: 'request', id: 1, method: 'confirmLink', choice: 'merge' });
    const m = last(t.posted);
    assert.ok(m?.kind === 'response' && !m.ok && m.code === 'internal');
    assert.equal(m.error, 'disk full');
    assert.match(t.rejected[0] ?? '', /confirmLink failed \(internal\): disk full/);
  });

  it('pushes the view when the file sync changes, follows a new file sync, stops on dispose', () => {
    const t = setup();
    const a = new FakeFiles();
    const b = new FakeFiles();
    t.setFiles(a);
    for (const l of t.hostListeners) l(); // the host announces the change
    assert.equal(a.listeners.size, 1);
    a.change({ ...FILE_SYNC_OFF, state: 'syncing', percent: 42, pending: 3 });
    const m = last(t.posted);
    assert.ok(m?.kind === 'notification');
    assert.equal(m.view.files?.state, 'syncing');
    assert.equal(m.view.files.percent, 42);

    t.setFiles(b);
    for (const l of t.hostListeners) l();
    assert.equal(a.listeners.size, 0, 'old file sync unsubscribed');
    assert.equal(b.listeners.size, 1);

    const before = t.posted.length;
    t.controller.dispose();
    assert.equal(b.listeners.size, 0);
    assert.equal(t.hostListeners.size, 0);
    b.change(awaiting);
    assert.equal(t.posted.length, before);
  });
});
