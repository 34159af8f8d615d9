/**
 * What the Sync Panel and the status bar need from the file sync of the linked folder. The file
 * sync implements it; the host wires it in with `TwinspaceExtension.setFileSyncView`. Without one,
 * the panel shows the files section as off. No `vscode` import: plain Node tests can fake it.
 */
import type { ConflictChoice, FileSyncStatus, LinkChoice } from '../core/files/fileSyncStatus';

export interface FileSyncView {
  /** The current report (cheap: called on every render). */
  status(): FileSyncStatus;
  /** Called after the status changed. */
  onDidChange(listener: () => void): { dispose(): void };
  /** Runs the first sync of a newly linked folder, answering the dry-run plan. */
  confirmLink(choice: LinkChoice): Promise<void>;
  /** Keeps the file as it is (`keepCurrent`) or puts the conflict copy in its place (`keepCopy`). */
  resolveConflict(conflictId: string, choice: ConflictChoice): Promise<void>;
}
