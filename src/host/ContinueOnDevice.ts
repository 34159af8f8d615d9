/**
 * "Continue on this device" (command `twinspace.continueOnThisDevice`): opens the editors another
 * device has open, in the same view columns, with the same selections, scrolled to the same top
 * line, and ends with that device's active editor focused.
 *
 * The device is picked in a quick pick (other devices with their editor count), or given as the
 * command's argument (`'<deviceId>'` or `{ deviceId }`), which is how tests and the Sync Panel
 * call it. Files that do not exist in this folder are skipped and reported in one warning; they do
 * not stop the others. Returns what was opened (undefined when the pick was cancelled).
 */
import * as vscode from 'vscode';
import { TwinspaceError } from '../core/errors';
import {
  countEditors,
  type DeviceEditors,
  type OpenEditorTab,
  type OpenEditorsState,
} from '../core/openEditors';
import { folderUri } from './VscodeTabs';

export interface ContinueOnDeviceHost {
  /** The workspace folder, undefined when no folder is open. */
  folder(): vscode.Uri | undefined;
  /** This device's id (its own entry is not offered). */
  ownDeviceId(): string | undefined;
  /** Every device's published open editors (validated). */
  devices(): readonly DeviceEditors[];
}

export interface ContinueResult {
  readonly deviceId: string;
  readonly deviceName: string;
  /** Folder-relative paths opened, in the order they were opened. */
  readonly opened: readonly string[];
  /** Folder-relative paths that could not be opened (missing, unreadable). */
  readonly missing: readonly string[];
}

function requestedDeviceId(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  if (typeof arg === 'object' && arg !== null && 'deviceId' in arg) {
    const id = arg.deviceId;
    if (typeof id === 'string') return id;
  }
  return undefined;
}

/** A view column number (1-based, validated) as the vscode enum type. */
function toViewColumn(n: number): vscode.ViewColumn {
  // ViewColumn is a numeric enum whose members are the column numbers; columns past Nine exist.
  const column: unknown = n;
  return column as vscode.ViewColumn;
}

/** How long to let new editor groups lay out before revealing the top lines again. */
const REVEAL_SETTLE_MS = 150;

function revealTop(editor: vscode.TextEditor, line: number): void {
  const top = editor.document.validatePosition(new vscode.Position(line, 0));
  editor.revealRange(new vscode.Range(top, top), vscode.TextEditorRevealType.AtTop);
}

function ago(updatedAt: number, now: number): string {
  const minutes = Math.max(0, Math.round((now - updatedAt) / 60_000));
  if (minutes < 1) return vscode.l10n.t('updated just now');
  if (minutes < 120) return vscode.l10n.t('updated {0} min ago', minutes);
  return vscode.l10n.t('updated {0} h ago', Math.round(minutes / 60));
}

export class ContinueOnDevice {
  constructor(private readonly host: ContinueOnDeviceHost) {}

  /** The other devices that published editors, most editors first. */
  candidates(): DeviceEditors[] {
    const own = this.host.ownDeviceId();
    return this.host
      .devices()
      .filter((d) => d.deviceId !== own)
      .sort((a, b) => countEditors(b.editors) - countEditors(a.editors));
  }

  async run(arg?: unknown): Promise<ContinueResult | undefined> {
    const folder = this.host.folder();
    if (folder === undefined) {
      throw new TwinspaceError('not_found', vscode.l10n.t('Open a folder first.'));
    }
    const candidates = this.candidates();
    const wanted = requestedDeviceId(arg);
    let device: DeviceEditors | undefined;
    if (wanted !== undefined) {
      device = candidates.find((d) => d.deviceId === wanted);
      if (device === undefined) {
        throw new TwinspaceError(
          'not_found',
          vscode.l10n.t('No open editors are known for device {0}.', wanted.slice(0, 64)),
        );
      }
    } else {
      if (candidates.length === 0) {
        void vscode.window.showInformationMessage(
          vscode.l10n.t('Twinspace: none of your other devices has shared its open editors yet.'),
        );
        return undefined;
      }
      const now = Date.now();
      const picked = await vscode.window.showQuickPick(
        candidates.map((d) => ({
          label: d.deviceName,
          description: vscode.l10n.t('{0} editors', countEditors(d.editors)),
          detail: ago(d.editors.updatedAt, now),
          device: d,
        })),
        { placeHolder: vscode.l10n.t('Continue with the editors open on which device?') },
      );
      if (picked === undefined) return undefined;
      device = picked.device;
    }
    const result = await this.open(folder, device);
    if (result.missing.length > 0) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t(
          'Twinspace: {0} of the editors open on {1} could not be opened here: {2}',
          result.missing.length,
          device.deviceName,
          result.missing.slice(0, 5).join(', ') + (result.missing.length > 5 ? ', …' : ''),
        ),
      );
    }
    return result;
  }

  private async open(folder: vscode.Uri, device: DeviceEditors): Promise<ContinueResult> {
    const editors: OpenEditorsState = device.editors;
    const opened: string[] = [];
    const missing: string[] = [];
    let focus: { tab: OpenEditorTab; viewColumn: number } | undefined;
    /** The editors shown (the last one of each column stays visible) and their top lines. */
    const shown = new Map<vscode.TextEditor, number>();
    for (const group of editors.groups) {
      // The group's active tab last, so it ends up shown in its group.
      const order = group.tabs.map((tab, i) => ({ tab, i }));
      if (group.activeTab !== undefined) {
        const [active] = order.splice(group.activeTab, 1);
        if (active) order.push(active);
      }
      for (const { tab, i } of order) {
        const editor = await this.openTab(folder, tab, group.viewColumn);
        const ok = editor !== undefined;
        (ok ? opened : missing).push(tab.path);
        if (editor) shown.set(editor, tab.topLine);
        if (ok && group.activeTab === i && editors.activeViewColumn === group.viewColumn) {
          focus = { tab, viewColumn: group.viewColumn };
        }
      }
    }
    if (focus) {
      const editor = await this.openTab(folder, focus.tab, focus.viewColumn);
      if (editor) shown.set(editor, focus.tab.topLine);
    }
    // A freshly created editor group lays out after the reveal and then re-centres on the cursor:
    // reveal the top lines again once the editors are laid out.
    await new Promise((resolve) => setTimeout(resolve, REVEAL_SETTLE_MS));
    const visible = new Set(vscode.window.visibleTextEditors);
    for (const [editor, line] of shown) if (visible.has(editor)) revealTop(editor, line);
    return { deviceId: device.deviceId, deviceName: device.deviceName, opened, missing };
  }

  private async openTab(
    folder: vscode.Uri,
    tab: OpenEditorTab,
    viewColumn: number,
  ): Promise<vscode.TextEditor | undefined> {
    let document: vscode.TextDocument;
    try {
      const uri = folderUri(folder, tab.path);
      await vscode.workspace.fs.stat(uri);
      document = await vscode.workspace.openTextDocument(uri);
    } catch {
      return undefined;
    }
    const editor = await vscode.window.showTextDocument(document, {
      viewColumn: toViewColumn(viewColumn),
      preview: false,
      preserveFocus: false,
    });
    if (tab.selections.length > 0) {
      editor.selections = tab.selections.map(
        (s) =>
          new vscode.Selection(
            document.validatePosition(new vscode.Position(s.anchor.line, s.anchor.character)),
            document.validatePosition(new vscode.Position(s.active.line, s.active.character)),
          ),
      );
    }
    revealTop(editor, tab.topLine);
    return editor;
  }
}
