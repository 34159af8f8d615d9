import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CLI } from './cliPeers';

function runCli(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`twinspace ${args[0] ?? ''} did not exit within ${timeoutMs} ms:\n${stderr}`),
      );
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe('twinspace serve: bad start-up fails fast and clearly', () => {
  let blocker: Server | undefined;
  after(() => blocker?.close());

  it('exits non-zero with the reason when the port is taken (nothing keeps it alive)', async () => {
    blocker = createServer();
    const port = await new Promise<number>((resolve) => {
      blocker!.listen(0, '127.0.0.1', () => {
        resolve((blocker!.address() as { port: number }).port);
      });
    });
    const folder = mkdtempSync(path.join(tmpdir(), 'tw-serve-'));
    const r = await runCli(
      ['serve', folder, '--no-mdns', '--host', '127.0.0.1', '--port', String(port)],
      15_000,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EADDRINUSE/);
  });

  it('refuses a folder that does not exist with a usage-level error', async () => {
    const missing = path.join(tmpdir(), 'tw-missing-folder-does-not-exist');
    const r = await runCli(['serve', missing, '--no-mdns'], 15_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not a folder/);
  });

  it('refuses an unknown --memory profile, naming the choices', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'tw-serve-'));
    const r = await runCli(['serve', folder, '--no-mdns', '--memory', 'huge'], 15_000);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--memory must be lean or fast \(got huge\)/);
  });

  it('refuses a second serve on the same state folder as busy', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'tw-serve-'));
    mkdirSync(path.join(folder, 'x'));
    const first = spawn(
      process.execPath,
      [CLI, 'serve', folder, '--no-mdns', '--host', '127.0.0.1'],
      {
        stdio: 'ignore',
      },
    );
    try {
      await new Promise((r) => setTimeout(r, 1500));
      const second = await runCli(['serve', folder, '--no-mdns', '--host', '127.0.0.1'], 15_000);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /\[busy\]/);
    } finally {
      first.kill('SIGINT');
      await new Promise((r) => first.once('exit', r));
    }
  });
});
