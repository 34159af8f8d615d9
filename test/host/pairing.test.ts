/**
 * Host test: Device Sync between this VS Code window and a headless CLI peer (`twinspace serve`,
 * started here from the repository's dist/cli.js, which the launcher passes in HOST_ENV.cli).
 * Pairs by code through the `twinspace.pairDevice` command (no UI), then checks the status bar,
 * that a change made on the CLI reaches this runtime, that the peer going away shows as offline,
 * and that "Forget a Device" removes the trust.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { exited, isExited, readCliStatus, startServe, type CliStatus } from '../support/cliServe';
import { HOST_ENV } from './runner/results';
import { eventually, twinspaceApi, type TwinspaceTestApi } from './twinspaceApi';

interface PairResult {
  readonly ok: boolean;
  readonly sas?: string;
  readonly deviceId?: string;
  readonly error?: string;
  readonly reason?: string;
}

/** Node for the CLI: the extension host's own binary when it is a Node (code-server: Node 24). */
function nodeBinary(): string {
  return /node(\.exe)?$/i.test(path.basename(process.execPath)) ? process.execPath : 'node';
}

/** Runs a CLI command to completion; resolves with its exit code and output. */
function runCli(
  cli: string,
  args: readonly string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBinary(), [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} timed out:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('Device Sync with a headless CLI peer', function () {
  this.timeout(60_000);
  let api: TwinspaceTestApi;
  let tmp: string;
  let stateDir: string;
  let cli: string;
  let cliFolder = '';
  let serve: ChildProcess | undefined;
  let serveLog: () => string = () => '';
  let cliStatus: CliStatus;
  let cliDeviceId: string | undefined;
  let usedCode: string | undefined;

  before(async function () {
    this.timeout(30_000);
    api = await twinspaceApi();
    const running = await eventually(
      'Device Sync running',
      () =>
        api.sync.deviceId() !== undefined || api.sync.error() !== undefined ? true : undefined,
      15_000,
    );
    assert.ok(running);
    assert.equal(api.sync.error(), undefined, `Device Sync failed to start: ${api.sync.error()}`);
    const cliPath = process.env[HOST_ENV.cli];
    assert.ok(cliPath !== undefined, `${HOST_ENV.cli} is not set by the launcher`);
    assert.ok(fs.existsSync(cliPath), `${cliPath} does not exist (npm run package builds it)`);
    cli = cliPath;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twinspace-host-peer-'));
    const folder = path.join(tmp, 'folder');
    cliFolder = folder;
    stateDir = path.join(tmp, 'state');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'a.txt'), 'hello\n');
    const workspaceId = api.sync.workspaceId();
    assert.ok(workspaceId !== undefined);
    const started = startServe({ node: nodeBinary(), cli, folder, stateDir, workspaceId });
    serve = started.child;
    serveLog = started.log;
    cliStatus = await eventually('the CLI peer status.json', () => readCliStatus(stateDir), 20_000);
  });

  after(async function () {
    this.timeout(15_000);
    if (serve && serve.exitCode === null && serve.signalCode === null) {
      serve.kill('SIGTERM');
      await Promise.race([exited(serve), new Promise((r) => setTimeout(r, 5_000))]);
      if (!isExited(serve)) serve.kill('SIGKILL');
    }
    // Leave no trust behind for later suites sharing this profile.
    if (cliDeviceId !== undefined && api.sync.trusted().some((t) => t.deviceId === cliDeviceId)) {
      await vscode.commands.executeCommand('twinspace.forgetDevice', { deviceId: cliDeviceId });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the pairing commands are registered', async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const id of ['twinspace.pairDevice', 'twinspace.forgetDevice', 'twinspace.addPeerAddress'])
      assert.ok(registered.has(id), `${id} is not registered`);
  });

  it('"Add a Device by Address" refuses what is not host:port', async () => {
    const r = await vscode.commands.executeCommand<{ ok: boolean; error?: string }>(
      'twinspace.addPeerAddress',
      { address: 'not an address' },
    );
    assert.equal(r.ok, false);
    assert.match(r.error ?? '', /host:port/);
  });

  it('"Pair a Device" (show) issues a code that expires in about 5 minutes', async () => {
    const r = await vscode.commands.executeCommand<{ code: string; expiresAt: number }>(
      'twinspace.pairDevice',
      { mode: 'show' },
    );
    assert.match(r.code, /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const ttl = r.expiresAt - Date.now();
    assert.ok(ttl > 4 * 60_000 && ttl <= 5 * 60_000, `expires in ${ttl} ms`);
  });

  it('pairs with the CLI peer by code (a wrong code first fails clearly), then syncs', async () => {
    const show = spawn(
      nodeBinary(),
      [cli, 'pair', '--show', '--state-dir', stateDir, '--timeout-ms', '40000'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let showOut = '';
    show.stdout.on('data', (d: Buffer) => (showOut += d.toString()));
    show.stderr.on('data', (d: Buffer) => (showOut += d.toString()));
    try {
      const code = await eventually(
        'a pairing code from `pair --show`',
        () => /pairing code: (\S+)/.exec(showOut)?.[1],
        10_000,
      );
      const address = `127.0.0.1:${cliStatus.port}`;
      const wrongCode = code.startsWith('0') ? `1${code.slice(1)}` : `0${code.slice(1)}`;
      const wrong = await vscode.commands.executeCommand<PairResult>('twinspace.pairDevice', {
        mode: 'join',
        address,
        code: wrongCode,
      });
      assert.equal(wrong.ok, false, 'a wrong code paired');
      assert.ok((wrong.error ?? '').length > 0, 'a failed pairing must say why');
      assert.equal(api.sync.trusted().length, 0, 'a failed pairing stored a device');

      const result = await vscode.commands.executeCommand<PairResult>('twinspace.pairDevice', {
        mode: 'join',
        address,
        code,
      });
      assert.equal(result.ok, true, `pairing failed: ${result.error ?? ''}\n${showOut}`);
      assert.equal(result.deviceId, cliStatus.deviceId);
      assert.ok(result.sas !== undefined && result.sas.length > 0, 'no SAS');
      cliDeviceId = result.deviceId;
      usedCode = code;
      await exited(show);
      assert.equal(show.exitCode, 0, showOut);
      assert.ok(showOut.includes(`SAS: ${result.sas}`), `the CLI shows another SAS:\n${showOut}`);
      assert.deepEqual(
        api.sync.trusted().map((t) => t.deviceId),
        [cliStatus.deviceId],
      );
    } finally {
      if (show.exitCode === null) show.kill('SIGKILL');
    }

    await eventually(
      'status bar "1 device in sync"',
      () => (/Twinspace: 1 device in sync/.test(api.statusText()) ? true : undefined),
      20_000,
    ).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; status "${api.statusText()}", peers ${JSON.stringify(api.sync.peers())}\n${serveLog().slice(-3000)}`,
      );
    });
  });

  it('the Sync Panel shows this device and the paired CLI peer with its live session', () => {
    const view = api.sync.panelView();
    const id = api.sync.deviceId();
    assert.ok(id !== undefined);
    assert.equal(view.deviceId, id);
    assert.equal(view.deviceShortId, `${id.slice(0, 4)}-${id.slice(4, 8)}-${id.slice(8, 12)}`);
    assert.equal(view.deviceName, api.sync.deviceName());
    assert.match(view.listenAddress ?? '', /:\d+$/);
    const row = view.peers.find((p) => p.peerId === cliStatus.deviceId);
    assert.ok(row, `no row for the CLI peer in ${JSON.stringify(view.peers)}`);
    assert.equal(row.name, 'cli-peer');
    assert.equal(row.state, 'Idle');
    assert.equal(row.transport, 'tcp');
    assert.equal(row.pendingOut, 0);
    assert.deepEqual(view.discovered, []);
  });

  it('a workspace-graph visit made on the CLI reaches this runtime', async () => {
    const before = api.runtime.snapshot()?.replica.graphNodes ?? 0;
    const visit = await runCli(
      cli,
      ['visit', 'file:src/fromCli.ts', '--label', 'fromCli.ts', '--state-dir', stateDir],
      15_000,
    );
    assert.equal(visit.code, 0, `${visit.stdout}${visit.stderr}`);
    await eventually(
      'the visit in replica.graphNodes',
      () => ((api.runtime.snapshot()?.replica.graphNodes ?? 0) > before ? true : undefined),
      15_000,
    );
  });

  it('files: a file edited on the CLI peer appears in the open editor', async () => {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    assert.ok(root !== undefined, 'the host test window has no folder');
    const local = path.join(root, 'a.txt');
    // The first sync of this window's folder waits for the user: the dry-run plan lists a.txt.
    const plan = await eventually('the first-sync plan', () => api.files()?.status().plan, 20_000);
    assert.ok(
      plan.items.some((i) => i.action === 'create' && i.path === 'a.txt'),
      JSON.stringify(plan),
    );
    assert.equal(api.files()?.status().state, 'awaiting-confirmation');
    assert.ok(!fs.existsSync(local), 'nothing is written before the confirmation');
    await api.files()?.confirmLink('merge');
    await eventually(
      'a.txt from the CLI peer in this window’s folder',
      () =>
        fs.existsSync(local) && fs.readFileSync(local, 'utf8') === 'hello\n' ? true : undefined,
      20_000,
    );
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(local));
    await vscode.window.showTextDocument(doc);
    fs.writeFileSync(path.join(cliFolder, 'a.txt'), 'hello\nfrom the cli\n');
    await eventually(
      'the CLI edit in the open editor',
      () => (doc.getText() === 'hello\nfrom the cli\n' ? true : undefined),
      20_000,
    );
  });

  it('files: an unsaved edit in VS Code reaches the CLI peer', async () => {
    const editor = vscode.window.activeTextEditor;
    assert.ok(editor, 'no active editor');
    const ok = await editor.edit((b) => {
      b.insert(editor.document.positionAt(editor.document.getText().length), 'typed in vscode\n');
    });
    assert.ok(ok);
    assert.ok(editor.document.isDirty, 'the edit is unsaved');
    await eventually(
      'the unsaved edit in the CLI peer’s file',
      () =>
        fs.readFileSync(path.join(cliFolder, 'a.txt'), 'utf8') ===
        'hello\nfrom the cli\ntyped in vscode\n'
          ? true
          : undefined,
      20_000,
    );
    // The window's own file on disk is untouched until the user saves.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(
      fs.readFileSync(editor.document.uri.fsPath, 'utf8'),
      'hello\nfrom the cli\n',
      'the unsaved edit was written to this window’s disk',
    );
    assert.equal(editor.document.isDirty, true, 'the buffer is no longer dirty');
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  it('files: "Wait Until Files Are in Sync" resolves once both sides agree (a revert un-types the edit everywhere)', async () => {
    const r = await vscode.commands.executeCommand<{ inSync: boolean; pending: number }>(
      'twinspace.waitUntilInSync',
      { timeoutMs: 20_000 },
    );
    const listing = (dir: string): string =>
      fs
        .readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => fs.statSync(path.join(dir, f)).isFile())
        .map(
          (f) => `${f}=${JSON.stringify(fs.readFileSync(path.join(dir, f), 'utf8').slice(0, 40))}`,
        )
        .join(', ');
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.equal(
      r.inSync,
      true,
      `${JSON.stringify(r)}\nhere: ${listing(root)}\ncli: ${listing(cliFolder)}\ncli status: ${JSON.stringify((readCliStatus(stateDir) as (CliStatus & { files?: unknown }) | undefined)?.files)}\ncli log: ${serveLog()
        .split('\n')
        .filter((l) => l.includes('files'))
        .slice(-15)
        .join('\n')}`,
    );
    assert.equal(r.pending, 0);
    await eventually(
      'the reverted text on the CLI peer',
      () =>
        fs.readFileSync(path.join(cliFolder, 'a.txt'), 'utf8') === 'hello\nfrom the cli\n'
          ? true
          : undefined,
      20_000,
    );
  });

  it('the same code cannot be used twice', async () => {
    assert.ok(usedCode !== undefined, 'not paired');
    const r = await vscode.commands.executeCommand<PairResult>('twinspace.pairDevice', {
      mode: 'join',
      address: `127.0.0.1:${cliStatus.port}`,
      code: usedCode,
    });
    assert.equal(r.ok, false);
    assert.ok((r.error ?? '').length > 0);
  });

  it('stopping the CLI peer shows the device offline', async () => {
    assert.ok(serve);
    serve.kill('SIGTERM');
    await exited(serve);
    await eventually(
      'status bar "offline"',
      () => (/Twinspace: offline/.test(api.statusText()) ? true : undefined),
      15_000,
    );
  });

  it('"Forget a Device" revokes the CLI peer', async () => {
    assert.ok(cliDeviceId !== undefined, 'not paired');
    const r = await vscode.commands.executeCommand<{ ok: boolean; error?: string }>(
      'twinspace.forgetDevice',
      { deviceId: cliDeviceId },
    );
    assert.equal(r.ok, true, r.error);
    assert.deepEqual(api.sync.trusted(), []);
    const again = await vscode.commands.executeCommand<{ ok: boolean; error?: string }>(
      'twinspace.forgetDevice',
      { deviceId: cliDeviceId },
    );
    assert.equal(again.ok, false);
  });
});
