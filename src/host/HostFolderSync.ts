/**
 * The file sync of the window's folder inside VS Code: a FolderSync worker fed by VS Code's file
 * system watcher (not a Node watcher), told which editors have unsaved changes, with unsaved
 * buffer edits synced live (setting `twinspace.syncUnsavedEdits`) and remote changes to such a
 * buffer applied to it as edits. It is also the FileSyncView the Sync Panel and status bar read.
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ConflictChoice, FileSyncStatus, LinkChoice } from '../core/files/fileSyncStatus';
import { diffText } from '../core/files/textDiff';
import { readGitHeads } from '../core/gitHeads';
import { decodeText } from '../core/files/textCodec';
import type { RegistryRuntime } from '../runtime/RegistryRuntime';
import { FolderSync } from '../sync/files/FolderSync';
import type { SyncWorker } from '../sync/SyncWorker';
import type { FileSyncView } from './FileSyncView';

export interface HostFolderSyncOptions {
  readonly runtime: RegistryRuntime;
  readonly worker: SyncWorker;
  readonly folder: string;
  readonly globalStorageDir: string;
  readonly deviceId: string;
  readonly maxFileBytes?: number;
  readonly syncUnsavedEdits: boolean;
}

export class HostFolderSync implements FileSyncView, vscode.Disposable {
  readonly sync: FolderSync;
  private readonly emitter = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly options: HostFolderSyncOptions) {
    const key = createHash('sha256').update(options.folder).digest('hex').slice(0, 16);
    this.sync = new FolderSync({
      folder: options.folder,
      stateDir: path.join(options.globalStorageDir, 'files', key),
      deviceId: options.deviceId,
      index: options.runtime.engine,
      peers: options.worker,
      watch: false,
      firstSync: 'ask',
      gitHeads: () => options.runtime.engine.readDoc(readGitHeads),
      ...(options.maxFileBytes !== undefined ? { maxFileBytes: options.maxFileBytes } : {}),
      dirtyPaths: () => this.dirtyPaths(),
      applyToBuffer: (rel, content) => this.applyToBuffer(rel, content),
      onStatus: (status) => {
        this.emitter.fire();
        this.maybeShowProgress(status);
      },
    });
    const watcher = vscode.workspace.createFileSystemWatcher(
      new vscode.RelativePattern(vscode.Uri.file(options.folder), '**/*'),
    );
    const changed = (uri: vscode.Uri): void => {
      const rel = this.relative(uri);
      if (rel !== undefined) this.sync.notifyChanged([rel]);
    };
    this.disposables.push(
      watcher,
      watcher.onDidCreate(changed),
      watcher.onDidChange(changed),
      watcher.onDidDelete(changed),
      new vscode.Disposable(() => {
        this.emitter.dispose();
      }),
    );
    if (options.syncUnsavedEdits) {
      this.disposables.push(
        vscode.workspace.onDidChangeTextDocument((event) => {
          // Not gated on isDirty: the extension host learns the dirty state after this event.
          // A reload from disk is harmless: FolderSync ignores text its document already has.
          if (event.contentChanges.length === 0) return;
          const rel = this.relative(event.document.uri);
          if (rel !== undefined) this.sync.bufferChanged(rel, event.document.getText());
        }),
        vscode.workspace.onDidSaveTextDocument((doc) => {
          const rel = this.relative(doc.uri);
          if (rel !== undefined) this.sync.bufferClosed(rel);
        }),
        vscode.workspace.onDidCloseTextDocument((doc) => {
          const rel = this.relative(doc.uri);
          if (rel !== undefined) this.sync.bufferClosed(rel);
        }),
      );
    }
    options.runtime.addWorker(this.sync);
  }

  status(): FileSyncStatus {
    return this.sync.status();
  }

  onDidChange(listener: () => void): { dispose(): void } {
    return this.emitter.event(listener);
  }

  /** Answers the dry-run plan shown before the first sync of the folder. */
  confirmLink(choice: LinkChoice): Promise<void> {
    return this.sync.confirmLink(choice);
  }

  resolveConflict(conflictId: string, choice: ConflictChoice): Promise<void> {
    return this.sync.resolveConflict(conflictId, choice);
  }

  /**
   * Resolves true once this folder is in sync with at least one connected device, false when
   * `timeoutMs` passes or `token` is cancelled first.
   */
  async waitUntilInSync(
    timeoutMs: number,
    token?: vscode.CancellationToken,
    onProgress?: (status: FileSyncStatus) => void,
  ): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.options.worker.isSynced(1) && this.sync.isInSync()) return true;
      if (token?.isCancellationRequested === true || Date.now() >= deadline) return false;
      onProgress?.(this.sync.status());
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private progressShown = false;

  /**
   * A notification with progress while a scan or a large sync runs (initial sync, a branch
   * switch). Cancel only closes the notification: the sync goes on, and the status bar keeps
   * showing "syncing N%".
   */
  private maybeShowProgress(status: FileSyncStatus): void {
    if (this.progressShown) return;
    const big = status.state === 'scanning' || (status.state === 'syncing' && status.pending >= 10);
    if (!big) return;
    this.progressShown = true;
    void vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: vscode.l10n.t('Twinspace: syncing files'),
        cancellable: true,
      },
      async (progress, token) => {
        let reported = 0;
        for (;;) {
          const now = this.sync.status();
          if (
            now.state === 'in-sync' ||
            now.state === 'off' ||
            now.state === 'awaiting-confirmation'
          )
            break;
          if (token.isCancellationRequested) break;
          const percent = now.state === 'scanning' ? 0 : now.percent;
          progress.report({
            increment: Math.max(0, percent - reported),
            message:
              now.state === 'scanning'
                ? vscode.l10n.t('scanning the folder…')
                : vscode.l10n.t('{0} files pending', now.pending),
          });
          reported = Math.max(reported, percent);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        this.progressShown = false;
      },
    );
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private relative(uri: vscode.Uri): string | undefined {
    if (uri.scheme !== 'file') return undefined;
    const rel = path.relative(this.options.folder, uri.fsPath);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
    return rel.split(path.sep).join('/');
  }

  private dirtyPaths(): ReadonlySet<string> {
    const out = new Set<string>();
    for (const doc of vscode.workspace.textDocuments) {
      if (!doc.isDirty) continue;
      const rel = this.relative(doc.uri);
      if (rel !== undefined) out.add(rel);
    }
    return out;
  }

  /** Puts remote content into an open, dirty buffer as minimal edits (the unsaved edits stay). */
  private async applyToBuffer(rel: string, content: Uint8Array): Promise<boolean> {
    const uri = vscode.Uri.file(path.join(this.options.folder, ...rel.split('/')));
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    const decoded = decodeText(content);
    if (!doc || decoded === undefined) return false;
    const current = doc.getText();
    if (current === decoded.text) return true;
    const edit = new vscode.WorkspaceEdit();
    for (const e of diffText(current, decoded.text)) {
      edit.replace(
        uri,
        new vscode.Range(doc.positionAt(e.index), doc.positionAt(e.index + e.deleteCount)),
        e.insert,
      );
    }
    return vscode.workspace.applyEdit(edit);
  }
}
