/**
 * Pure parts of the VS Code host harness: code-server's listening line, the server environment,
 * the payload URL that starts the in-host tests, and the in-host runner's file order.
 */
import * as assert from 'node:assert/strict';
import { orderTestFiles } from '../../host/runner/results';
import {
  parseListeningUrl,
  serverEnv,
  TEST_USER_SETTINGS,
} from '../../../scripts/vscode-host/CodeServer';
import { payloadUrl } from '../../../scripts/vscode-host/runHostSuite';

describe('harness: code-server instance', () => {
  it('reads the port the kernel chose from the listening line', () => {
    const log =
      '[2026-01-01T00:00:00.000Z] info  Using config file /r/config.yaml\n' +
      '[2026-01-01T00:00:00.000Z] info  HTTP server listening on http://127.0.0.1:40123/\n';
    assert.equal(parseListeningUrl(log), 'http://127.0.0.1:40123');
    assert.equal(
      parseListeningUrl('info  HTTP server listening on http://127.0.0.1:0/'),
      undefined,
    );
    assert.equal(parseListeningUrl('info  Using config file'), undefined);
  });

  it('gives the server no inherited VS Code hooks and keeps its XDG folders in the run folder', () => {
    const env = serverEnv(
      {
        PATH: '/bin',
        VSCODE_IPC_HOOK_CLI: '/tmp/x.sock',
        ELECTRON_RUN_AS_NODE: '1',
        NODE_OPTIONS: '--import tsx',
      },
      '/r',
    );
    assert.equal(env.PATH, '/bin');
    assert.equal(env.VSCODE_IPC_HOOK_CLI, undefined);
    assert.equal(env.ELECTRON_RUN_AS_NODE, undefined);
    assert.equal(env.NODE_OPTIONS, undefined);
    assert.equal(env.XDG_CONFIG_HOME, '/r/xdg/config');
    assert.equal(env.XDG_DATA_HOME, '/r/xdg/data');
  });

  it('points the extension gallery at a closed loopback port', () => {
    const gallery = JSON.parse(serverEnv({}, '/r').EXTENSIONS_GALLERY ?? '{}') as Record<
      string,
      string
    >;
    for (const [key, url] of Object.entries(gallery)) {
      if (url !== '') assert.match(url, /^http:\/\/127\.0\.0\.1:9\//, key);
    }
  });

  it('turns mDNS discovery off in the user settings (never in the root namespace)', () => {
    assert.equal(TEST_USER_SETTINGS['twinspace.discovery.mdns'], false);
  });
});

describe('harness: payload URL', () => {
  it('carries the extension, the runner and the per-run environment', () => {
    const url = new URL(
      payloadUrl({
        baseUrl: 'http://127.0.0.1:4000',
        folder: '/w/main',
        extensionDevelopmentPath: '/x/ext',
        runner: '/p/out/host-tests/index.js',
        env: { TWINSPACE_HOST_RESULTS: '/t/r.json' },
      }),
    );
    assert.equal(url.origin, 'http://127.0.0.1:4000');
    assert.equal(url.searchParams.get('folder'), '/w/main');
    const payload = new Map(
      JSON.parse(url.searchParams.get('payload') ?? '[]') as [string, string][],
    );
    assert.equal(payload.get('extensionDevelopmentPath'), 'vscode-remote://remote/x/ext');
    assert.equal(
      payload.get('extensionTestsPath'),
      'vscode-remote://remote/p/out/host-tests/index.js',
    );
    assert.deepEqual(JSON.parse(payload.get('extensionEnvironment') ?? '{}'), {
      TWINSPACE_HOST_RESULTS: '/t/r.json',
    });
  });
});

describe('harness: in-host runner file order', () => {
  it('runs test files by name with the shutdown test last, and ignores the rest', () => {
    assert.deepEqual(
      orderTestFiles([
        'shutdown.test.js',
        'runtime.test.js',
        'activation.test.js',
        'zz.test.js',
        'index.js',
        'activation.test.js.map',
      ]),
      ['activation.test.js', 'runtime.test.js', 'zz.test.js', 'shutdown.test.js'],
    );
  });
});
