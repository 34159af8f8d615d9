/**
 * The Sync Panel's message handling, shared by the editor panel (SyncPanel) and the activity-bar
 * view (SyncPanelViewProvider). No `vscode` import: the webview is reached through a `post`
 * port, the editor through `SyncPanelHost`, so plain Node tests drive it with hostile messages.
 *
 * Every message from the webview is untrusted: it is validated by `parseSyncPanelRequest`;
 * anything else is reported (`reportRejected`, which the host turns into a diagnostic) and, when
 * it carries a usable id, answered `ok: false` so the webview is not left waiting. Conflict ids
 * are looked up in the file sync's current status: the host never opens or resolves a path the
 * webview made up.
 */
import { FILE_SYNC_OFF, type FileConflict } from '../core/files/fileSyncStatus';
import {
  parseSyncPanelRequest,
  requestIdOf,
  type SyncPanelCommand,
  type SyncPanelErrorCode,
  type SyncPanelMessage,
  type SyncPanelPeerView,
  type SyncPanelRequest,
  type SyncPanelView,
} from '../core/protocol/syncPanelProtocol';
import type { FileSyncView } from './FileSyncView';

/** What the panel needs from the extension. */
export interface SyncPanelHost {
  /** The device part of the view (the controller adds the files part). */
  view(): SyncPanelView;
  /** Called when devices, sessions, workers or diagnostics changed; returns an unsubscribe. */
  onChange(listener: () => void): () => void;
  /**
   * Runs an allowed command; a device command (SYNC_PANEL_DEVICE_COMMANDS) gets `{ deviceId }`
   * of a trusted device as its argument.
   */
  runCommand(command: SyncPanelCommand, arg?: { readonly deviceId: string }): PromiseLike<unknown>;
  forgetDevice(deviceId: string): PromiseLike<unknown>;
  pairWith(deviceId: string): PromiseLike<unknown>;
  /** A rejected or failed request (the host logs it as a Warn diagnostic). */
  reportRejected(reason: string): void;
  /** Pauses Device Sync with a trusted device (stops dialing it, closes its session). */
  pauseDevice?(deviceId: string): PromiseLike<unknown>;
  /** Resumes Device Sync with a paused device. */
  resumeDevice?(deviceId: string): PromiseLike<unknown>;
  /** Opens the settings on the device name. */
  renameDevice?(): PromiseLike<unknown>;
  /** The file sync of the linked folder, when one runs. */
  fileSync?(): FileSyncView | undefined;
  /** VS Code's diff editor between a conflict's copy and its file. */
  openDiff?(conflict: FileConflict): PromiseLike<unknown>;
}

/** Where the controller's messages go: the webview's `postMessage`. */
export interface SyncPanelPort {
  post(message: SyncPanelMessage): PromiseLike<unknown>;
}

class RequestError extends Error {
  constructor(
    readonly code: SyncPanelErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export class SyncPanelViewController {
  private readonly unsubscribeHost: () => void;
  private watchedFiles: FileSyncView | undefined;
  private filesSubscription: { dispose(): void } | undefined;
  private linkInFlight = false;
  private readonly conflictsInFlight = new Set<string>();
  private disposed = false;

  constructor(
    private readonly host: SyncPanelHost,
    private readonly port: SyncPanelPort,
  ) {
    this.unsubscribeHost = host.onChange(() => {
      this.push();
    });
    this.watchFiles();
  }

  /** The whole view: the host's device part plus the file sync's status (off without one). */
  view(): SyncPanelView {
    this.watchFiles();
    const files = this.watchedFiles?.status() ?? FILE_SYNC_OFF;
    return { ...this.host.view(), files };
  }

  /** Handles one message from the webview; never throws. */
  async handle(raw: unknown): Promise<void> {
    const parsed = parseSyncPanelRequest(raw);
    if (!parsed.ok) {
      this.host.reportRejected(parsed.error);
      const id = requestIdOf(raw);
      if (id !== undefined) await this.respondError(id, 'validation', parsed.error);
      return;
    }
    const request = parsed.value;
    try {
      const withView = await this.dispatch(request);
      await this.post({
        kind: 'response',
        id: request.id,
        ok: true,
        ...(withView ? { view: this.view() } : {}),
      });
    } catch (error) {
      const code = error instanceof RequestError ? error.code : 'internal';
      const message = error instanceof Error ? error.message : String(error);
      this.host.reportRejected(`${request.method} failed (${code}): ${message}`);
      await this.respondError(request.id, code, message);
    }
  }

  /** Runs a valid request; returns whether the response carries the new view. */
  private async dispatch(request: SyncPanelRequest): Promise<boolean> {
    switch (request.method) {
      case 'ready':
      case 'refresh':
        return true;
      case 'runCommand':
        if (request.deviceId === undefined) {
          await this.host.runCommand(request.command);
        } else {
          this.trustedPeer(request.deviceId);
          await this.host.runCommand(request.command, { deviceId: request.deviceId });
        }
        return false;
      case 'pauseDevice':
      case 'resumeDevice': {
        const host = this.host;
        if (host.pauseDevice === undefined || host.resumeDevice === undefined)
          throw new RequestError('not_found', 'pausing is not available');
        this.trustedPeer(request.deviceId);
        if (request.method === 'pauseDevice') await host.pauseDevice(request.deviceId);
        else await host.resumeDevice(request.deviceId);
        return true;
      }
      case 'forgetDevice':
        await this.host.forgetDevice(request.deviceId);
        return true;
      case 'pairWith':
        await this.host.pairWith(request.deviceId);
        return true;
      case 'renameDevice':
        if (!this.host.renameDevice)
          throw new RequestError('not_found', 'renaming is not available');
        await this.host.renameDevice();
        return false;
      case 'confirmLink': {
        const files = this.files();
        if (files.status().state !== 'awaiting-confirmation') {
          throw new RequestError('not_found', 'no dry-run plan is waiting for confirmation');
        }
        if (this.linkInFlight) throw new RequestError('busy', 'the first sync is already starting');
        this.linkInFlight = true;
        try {
          await files.confirmLink(request.choice);
        } finally {
          this.linkInFlight = false;
        }
        return true;
      }
      case 'resolveConflict': {
        const files = this.files();
        const conflict = this.conflict(files, request.conflictId);
        if (this.conflictsInFlight.has(conflict.id)) {
          throw new RequestError('busy', `conflict ${conflict.path} is already being resolved`);
        }
        this.conflictsInFlight.add(conflict.id);
        try {
          await files.resolveConflict(conflict.id, request.choice);
        } finally {
          this.conflictsInFlight.delete(conflict.id);
        }
        return true;
      }
      case 'openDiff': {
        const conflict = this.conflict(this.files(), request.conflictId);
        if (!this.host.openDiff) throw new RequestError('not_found', 'no diff editor');
        await this.host.openDiff(conflict);
        return false;
      }
    }
  }

  /** A device request acts only on a device the panel shows as trusted (never a made-up id). */
  private trustedPeer(deviceId: string): SyncPanelPeerView {
    const peer = this.host.view().peers.find((p) => p.peerId === deviceId);
    if (peer === undefined) {
      throw new RequestError('not_found', `not a trusted device: ${deviceId.slice(0, 12)}`);
    }
    return peer;
  }

  private files(): FileSyncView {
    this.watchFiles();
    const files = this.watchedFiles;
    if (files === undefined) throw new RequestError('not_found', 'file sync is off');
    return files;
  }

  private conflict(files: FileSyncView, conflictId: string): FileConflict {
    const conflict = files.status().conflicts.find((c) => c.id === conflictId);
    if (conflict === undefined) {
      throw new RequestError(
        'not_found',
        `no such conflict: ${JSON.stringify(conflictId.slice(0, 80))}`,
      );
    }
    return conflict;
  }

  /** Follows the host's current file sync (it may appear, change or go away at any time). */
  private watchFiles(): void {
    if (this.disposed) return;
    const current = this.host.fileSync?.();
    if (current === this.watchedFiles) return;
    this.filesSubscription?.dispose();
    this.filesSubscription = undefined;
    this.watchedFiles = current;
    if (current !== undefined) {
      this.filesSubscription = current.onDidChange(() => {
        this.push();
      });
    }
  }

  /** Sends the current view to the webview. */
  push(): void {
    if (this.disposed) return;
    void this.post({ kind: 'notification', method: 'view', view: this.view() });
  }

  private async respondError(id: number, code: SyncPanelErrorCode, error: string): Promise<void> {
    await this.post({ kind: 'response', id, ok: false, code, error });
  }

  private async post(message: SyncPanelMessage): Promise<void> {
    if (this.disposed) return;
    try {
      await this.port.post(message);
    } catch {
      // The webview went away while the message was in flight: nothing to tell it.
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.unsubscribeHost();
    this.filesSubscription?.dispose();
    this.filesSubscription = undefined;
    this.watchedFiles = undefined;
  }
}
