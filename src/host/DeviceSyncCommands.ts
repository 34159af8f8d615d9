/**
 * The Device Sync commands: "Pair a Device…", "Forget a Device…", "Add a Device by Address…".
 * Each runs with UI (quick picks, input boxes, notifications) when called without arguments, and
 * without UI when called with an argument object (tests, other extensions, the Sync Panel):
 *   pairDevice({ mode: 'show' })                          → { code, expiresAt } (pairing completes
 *                                                            in the background)
 *   pairDevice({ mode: 'join', address, code })           → { ok, sas?, deviceId?, name?, error? }
 *   forgetDevice({ deviceId })                            → { ok, error? }
 *   pauseDevice({ deviceId }) / resumeDevice({ deviceId }) → { ok, error? } (for this run only)
 *   addPeerAddress({ address })                           → { ok, address?, error? }
 *   linkWorkspace({ workspaceId })                        → { ok, workspaceId?, error? }
 */
import * as vscode from 'vscode';
import { describeError } from '../core/errors';
import { shortDeviceId, isDeviceId } from '../sync/identity/DeviceIdentity';
import { normalizePairingCode } from '../sync/pairing/PairingCodes';
import { PairingError } from '../sync/pairing/PairingFlow';
import { formatAddress, parseAddress, type PairingOutcome } from '../sync/SyncWorker';
import type { DeviceSync } from './DeviceSync';
import { checkPeerAddress } from './syncSettings';

export interface PairJoinResult {
  readonly ok: boolean;
  readonly sas?: string;
  readonly deviceId?: string;
  readonly name?: string;
  readonly reason?: string;
  readonly error?: string;
}

export interface PairShowResult {
  readonly code: string;
  readonly expiresAt: number;
}

export interface SimpleResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly address?: string;
}

/** Pairing failures that leave the shown code usable: keep waiting for the right device. */
const NON_FINAL = new Set(['wrong', 'not_pairing', 'busy']);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function time(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

export class DeviceSyncCommands {
  constructor(
    private readonly sync: () => DeviceSync | undefined,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  private require(): DeviceSync {
    const sync = this.sync();
    if (sync === undefined) {
      throw new Error('Device Sync is not running (see "Twinspace: Show Log")');
    }
    return sync;
  }

  // ------------------------------------------------------------------ pair

  async pairDevice(arg?: unknown): Promise<PairJoinResult | PairShowResult | undefined> {
    if (isRecord(arg)) {
      if (arg['mode'] === 'show') return this.showCode(false);
      if (arg['mode'] === 'join') {
        const address = arg['address'];
        const code = arg['code'];
        if (typeof address !== 'string' || typeof code !== 'string') {
          return { ok: false, error: 'join needs "address" (host:port) and "code" strings' };
        }
        return this.join(address, code, false);
      }
      return { ok: false, error: 'mode must be "show" or "join"' };
    }
    const sync = this.require();
    const choice = await vscode.window.showQuickPick(
      [
        {
          label: vscode.l10n.t('$(key) Show a pairing code on this device'),
          detail: vscode.l10n.t('Then enter it on the other device.'),
          mode: 'show' as const,
        },
        {
          label: vscode.l10n.t('$(plug) Enter a code from another device'),
          detail: vscode.l10n.t('The other device shows the code ("Pair a Device…" there).'),
          mode: 'join' as const,
        },
      ],
      {
        title: vscode.l10n.t('Pair a Device with {0}', sync.settings.deviceName),
        placeHolder: vscode.l10n.t('How to pair'),
      },
    );
    if (choice === undefined) return undefined;
    if (choice.mode === 'show') return this.showCode(true);
    return this.joinInteractive();
  }

  /** Issues a code and waits (in the background) for a device to use it. */
  private showCode(interactive: boolean): PairShowResult {
    const sync = this.require();
    const issued = sync.worker.issuePairingCode();
    this.output.info(`[host.pairing] pairing code shown; expires at ${time(issued.expiresAt)}`);
    const outcome = this.waitForPairing(sync, issued.expiresAt);
    if (interactive) {
      void vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: vscode.l10n.t('Pairing code {0}', issued.code),
          cancellable: true,
        },
        (progress, token) => {
          progress.report({
            message: vscode.l10n.t(
              'enter it on your other device ("Enter a code from another device"). It works once and expires at {0}. This device: {1} ({2}) at port {3}.',
              time(issued.expiresAt),
              sync.settings.deviceName,
              sync.identity.shortId,
              sync.listener.port,
            ),
          });
          token.onCancellationRequested(() => {
            sync.worker.pairingCodes.cancel();
          });
          return Promise.race([
            outcome,
            new Promise<undefined>((resolve) =>
              token.onCancellationRequested(() => {
                resolve(undefined);
              }),
            ),
          ]);
        },
      );
    }
    void outcome.then((o) => {
      this.reportOutcome(o);
    });
    return { code: issued.code, expiresAt: issued.expiresAt };
  }

  private waitForPairing(sync: DeviceSync, expiresAt: number): Promise<PairingOutcome | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          off();
          resolve({ ok: false, reason: 'expired', message: 'the pairing code expired unused' });
        },
        Math.max(0, expiresAt - Date.now()) + 1_000,
      );
      const off = sync.worker.onPairing((o) => {
        if (!o.ok && NON_FINAL.has(o.reason)) return;
        clearTimeout(timer);
        off();
        resolve(o);
      });
    });
  }

  private reportOutcome(o: PairingOutcome | undefined): void {
    if (o === undefined) return;
    if (o.ok) {
      this.output.info(`[host.pairing] paired with ${o.name} (${o.deviceId}); SAS ${o.sas}`);
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          'Twinspace: paired with {0}. Check that both devices show {1}.',
          o.name,
          o.sas,
        ),
        {
          detail: vscode.l10n.t(
            'Device id {0}. If the other device shows a different code, forget it at once ("Twinspace: Forget a Device…").',
            o.deviceId,
          ),
        },
      );
    } else {
      this.output.warn(`[host.pairing] pairing failed (${o.reason}): ${o.message}`);
      void vscode.window.showWarningMessage(
        vscode.l10n.t('Twinspace: pairing failed: {0}', o.message),
      );
    }
  }

  private async joinInteractive(): Promise<PairJoinResult | undefined> {
    const sync = this.require();
    const typeAddress = {
      label: vscode.l10n.t('$(edit) Type an address…'),
      detail: 'host:port',
      address: '',
    };
    const found = sync.discovered().map((p) => ({
      label: `$(device-desktop) ${p.name}`,
      description: shortDeviceId(p.deviceId),
      detail: `${p.addresses[0] ?? p.host}:${p.port}`,
      address: formatAddress({ host: p.addresses[0] ?? p.host, port: p.port }),
    }));
    const picked = await vscode.window.showQuickPick([...found, typeAddress], {
      title: vscode.l10n.t('Pair a Device: which device shows the code?'),
      placeHolder:
        found.length > 0
          ? vscode.l10n.t('Devices found on this network')
          : vscode.l10n.t('No device found nearby: type its address'),
    });
    if (picked === undefined) return undefined;
    const address = picked.address !== '' ? picked.address : await this.askAddress();
    if (address === undefined) return undefined;
    const code = await vscode.window.showInputBox({
      title: vscode.l10n.t('Pair with {0}', address),
      prompt: vscode.l10n.t('The 12-character pairing code the other device shows'),
      placeHolder: 'ABCD-EFGH-JKMN',
      ignoreFocusOut: true,
      validateInput: (text) =>
        normalizePairingCode(text) === undefined
          ? vscode.l10n.t('A pairing code has 12 characters (letters and digits; dashes optional)')
          : undefined,
    });
    if (code === undefined) return undefined;
    return this.join(address, code, true);
  }

  async pairWith(deviceId: string): Promise<PairJoinResult | undefined> {
    const sync = this.require();
    const peer = sync.discovered().find((p) => p.deviceId === deviceId);
    if (peer === undefined) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t('Twinspace: that device is no longer on the network.'),
      );
      return undefined;
    }
    const address = formatAddress({ host: peer.addresses[0] ?? peer.host, port: peer.port });
    const code = await vscode.window.showInputBox({
      title: vscode.l10n.t('Pair with {0}', peer.name),
      prompt: vscode.l10n.t('The pairing code {0} shows', peer.name),
      placeHolder: 'ABCD-EFGH-JKMN',
      ignoreFocusOut: true,
      validateInput: (text) =>
        normalizePairingCode(text) === undefined
          ? vscode.l10n.t('A pairing code has 12 characters')
          : undefined,
    });
    if (code === undefined) return undefined;
    return this.join(address, code, true);
  }

  private async join(
    addressText: string,
    code: string,
    interactive: boolean,
  ): Promise<PairJoinResult> {
    const sync = this.require();
    let address;
    try {
      address = parseAddress(addressText);
    } catch {
      return {
        ok: false,
        reason: 'address',
        error: checkPeerAddress(addressText) ?? 'bad address',
      };
    }
    const run = async (): Promise<PairJoinResult> => {
      try {
        const o = await sync.pairJoin(address, code);
        return { ok: true, sas: o.sas, deviceId: o.deviceId, name: o.name };
      } catch (error) {
        const reason = error instanceof PairingError ? error.reason : 'failed';
        return { ok: false, reason, error: describeError(error) };
      }
    };
    const result = interactive
      ? await vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: vscode.l10n.t('Pairing with {0}…', formatAddress(address)),
          },
          run,
        )
      : await run();
    if (result.ok) {
      this.output.info(
        `[host.pairing] paired with ${result.name ?? '?'} (${result.deviceId ?? '?'}) at ${formatAddress(address)}; SAS ${result.sas ?? '?'}`,
      );
    } else {
      this.output.warn(
        `[host.pairing] pairing with ${formatAddress(address)} failed: ${result.error ?? ''}`,
      );
    }
    if (interactive) {
      if (result.ok) {
        void vscode.window.showInformationMessage(
          vscode.l10n.t(
            'Twinspace: paired with {0}. Check that both devices show {1}.',
            result.name ?? 'the device',
            result.sas ?? '',
          ),
          { detail: vscode.l10n.t('Device id {0}.', result.deviceId ?? '') },
        );
      } else {
        void vscode.window.showErrorMessage(
          vscode.l10n.t('Twinspace: pairing failed: {0}', result.error ?? ''),
        );
      }
    }
    return result;
  }

  private async askAddress(): Promise<string | undefined> {
    const text = await vscode.window.showInputBox({
      title: vscode.l10n.t('Address of the other device'),
      prompt: vscode.l10n.t('host:port (the other device shows its port in the Sync Panel)'),
      placeHolder: '192.168.1.20:47100',
      ignoreFocusOut: true,
      validateInput: (t) => checkPeerAddress(t.trim()),
    });
    return text?.trim();
  }

  // ------------------------------------------------------------------ forget

  async forgetDevice(arg?: unknown): Promise<SimpleResult | undefined> {
    const sync = this.require();
    let deviceId: string;
    if (isRecord(arg) || typeof arg === 'string') {
      const id = typeof arg === 'string' ? arg : arg['deviceId'];
      if (typeof id !== 'string' || !isDeviceId(id)) return { ok: false, error: 'not a device id' };
      const peer = sync.trusted().find((p) => p.deviceId === id);
      if (peer === undefined) return { ok: false, error: `${id} is not a trusted device` };
      // From the Sync Panel (a string): still confirm; from code (an object): no UI.
      if (typeof arg === 'string' && !(await this.confirmForget(peer.name, id))) return undefined;
      deviceId = id;
    } else {
      const trusted = sync.trusted();
      if (trusted.length === 0) {
        void vscode.window.showInformationMessage(
          vscode.l10n.t('Twinspace: no trusted devices to forget.'),
        );
        return undefined;
      }
      const live = new Map(sync.peers().map((p) => [p.peerId, p.state]));
      const picked = await vscode.window.showQuickPick(
        trusted.map((p) => ({
          label: p.name !== '' ? p.name : shortDeviceId(p.deviceId),
          description: shortDeviceId(p.deviceId),
          detail: vscode.l10n.t(
            '{0} · paired {1}',
            live.get(p.deviceId) ?? 'Disconnected',
            new Date(p.addedAt).toLocaleString(),
          ),
          deviceId: p.deviceId,
        })),
        {
          title: vscode.l10n.t('Forget a Device'),
          placeHolder: vscode.l10n.t('The device to stop syncing with'),
        },
      );
      if (picked === undefined) return undefined;
      if (!(await this.confirmForget(picked.label, picked.deviceId))) return undefined;
      deviceId = picked.deviceId;
    }
    await sync.forget(deviceId);
    this.output.info(`[host.pairing] forgot ${deviceId}`);
    return { ok: true };
  }

  // ------------------------------------------------------------------ pause / resume

  /** Pauses Device Sync with a trusted device (session closed, not dialed) until resumed. */
  pauseDevice(arg?: unknown): Promise<SimpleResult | undefined> {
    return this.pauseOrResume(arg, true);
  }

  /** Resumes Device Sync with a paused device. */
  resumeDevice(arg?: unknown): Promise<SimpleResult | undefined> {
    return this.pauseOrResume(arg, false);
  }

  private async pauseOrResume(arg: unknown, pause: boolean): Promise<SimpleResult | undefined> {
    const sync = this.require();
    const paused = new Set(sync.paused());
    let deviceId: string;
    if (isRecord(arg) || typeof arg === 'string') {
      const id = typeof arg === 'string' ? arg : arg['deviceId'];
      if (typeof id !== 'string' || !isDeviceId(id)) return { ok: false, error: 'not a device id' };
      if (!sync.trusted().some((p) => p.deviceId === id)) {
        return { ok: false, error: `${id} is not a trusted device` };
      }
      deviceId = id;
    } else {
      const candidates = sync.trusted().filter((p) => paused.has(p.deviceId) !== pause);
      if (candidates.length === 0) {
        void vscode.window.showInformationMessage(
          pause
            ? vscode.l10n.t('Twinspace: no trusted device to pause.')
            : vscode.l10n.t('Twinspace: no paused device.'),
        );
        return undefined;
      }
      const picked = await vscode.window.showQuickPick(
        candidates.map((p) => ({
          label: p.name !== '' ? p.name : shortDeviceId(p.deviceId),
          description: shortDeviceId(p.deviceId),
          deviceId: p.deviceId,
        })),
        {
          title: pause ? vscode.l10n.t('Pause a Device') : vscode.l10n.t('Resume a Device'),
          placeHolder: pause
            ? vscode.l10n.t('The device to stop syncing with until resumed (this session only)')
            : vscode.l10n.t('The device to sync with again'),
        },
      );
      if (picked === undefined) return undefined;
      deviceId = picked.deviceId;
    }
    if (pause) sync.pause(deviceId);
    else if (!sync.resume(deviceId)) return { ok: false, error: `${deviceId} is not paused` };
    this.output.info(`[host.pairing] ${pause ? 'paused' : 'resumed'} ${deviceId}`);
    return { ok: true };
  }

  private async confirmForget(name: string, deviceId: string): Promise<boolean> {
    const forget = vscode.l10n.t('Forget');
    const answer = await vscode.window.showWarningMessage(
      vscode.l10n.t('Forget {0}?', name),
      {
        modal: true,
        detail: vscode.l10n.t(
          '{0} stops syncing with this device at once. To sync again, pair again.',
          shortDeviceId(deviceId),
        ),
      },
      forget,
    );
    return answer === forget;
  }

  // ------------------------------------------------------------------ link a workspace

  /**
   * "Link This Folder to a Device's Workspace…": a quick pick of the workspaces connected devices
   * offer, ranked (same git remote first, then same name). With `{ workspaceId }` it links without
   * UI. Sessions reconnect so the next SyncStep1 carries the new id.
   */
  async linkWorkspace(
    arg?: unknown,
  ): Promise<{ ok: boolean; workspaceId?: string; error?: string } | undefined> {
    const sync = this.require();
    let workspaceId: string | undefined;
    if (isRecord(arg)) {
      const id = arg['workspaceId'];
      if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id) > 255) {
        return { ok: false, error: '"workspaceId" must be a string of 1-255 bytes' };
      }
      workspaceId = id;
    } else {
      const ranked = sync.rankedOffers();
      if (ranked.length === 0) {
        void vscode.window.showInformationMessage(
          vscode.l10n.t(
            'Twinspace: no connected device offers a workspace yet (pair a device first).',
          ),
        );
        return undefined;
      }
      const names = new Map(sync.trusted().map((p) => [p.deviceId, p.name]));
      const MATCH_LABEL = {
        'git-remote': vscode.l10n.t('same git remote'),
        name: vscode.l10n.t('same name'),
        other: '',
      };
      const picked = await vscode.window.showQuickPick(
        ranked.map((o) => ({
          label: `${o.linked ? '$(check) ' : ''}${o.name}`,
          description: [
            MATCH_LABEL[o.match],
            vscode.l10n.t('{0} files', o.fileCount),
            o.gitRemote ?? '',
          ]
            .filter((x) => x.length > 0)
            .join(' · '),
          detail: vscode.l10n.t(
            'on {0} · workspace {1}',
            names.get(o.deviceId) ?? shortDeviceId(o.deviceId),
            o.workspaceId,
          ),
          workspaceId: o.workspaceId,
        })),
        {
          title: vscode.l10n.t("Link This Folder to a Device's Workspace"),
          matchOnDescription: true,
        },
      );
      if (picked === undefined) return undefined;
      workspaceId = picked.workspaceId;
    }
    await sync.link(workspaceId);
    this.output.info(`[host.link] this folder is linked to workspace ${workspaceId}`);
    return { ok: true, workspaceId };
  }

  // ------------------------------------------------------------------ add by address

  async addPeerAddress(arg?: unknown): Promise<SimpleResult | undefined> {
    const sync = this.require();
    let text: string | undefined;
    if (typeof arg === 'string') text = arg;
    else if (isRecord(arg)) {
      const a = arg['address'];
      if (typeof a !== 'string')
        return { ok: false, error: '"address" must be a host:port string' };
      text = a;
    } else text = await this.askAddress();
    if (text === undefined) return undefined;
    const problem = checkPeerAddress(text.trim());
    if (problem !== undefined) {
      if (arg === undefined)
        void vscode.window.showErrorMessage(vscode.l10n.t('Twinspace: {0}', problem));
      return { ok: false, error: problem };
    }
    const address = parseAddress(text.trim());
    const normalized = formatAddress(address);
    sync.addPeerAddress(address);
    const config = vscode.workspace.getConfiguration('twinspace');
    const current = config.get<unknown>('manualPeers');
    const list = Array.isArray(current)
      ? (current as unknown[]).filter((x): x is string => typeof x === 'string')
      : [];
    if (!list.includes(normalized)) {
      await config.update('manualPeers', [...list, normalized], vscode.ConfigurationTarget.Global);
    }
    this.output.info(`[host.pairing] dialing ${normalized} (saved in twinspace.manualPeers)`);
    if (arg === undefined) {
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          'Twinspace: {0} added. Pair with it if you have not yet ("Pair a Device…").',
          normalized,
        ),
      );
    }
    return { ok: true, address: normalized };
  }
}
