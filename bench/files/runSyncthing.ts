/**
 * Syncthing row of the file-sync benchmark: two `syncthing serve` instances on loopback, with
 * configs written here (global and local discovery, relays, NAT, usage reporting, upgrades and
 * crash reporting off; listen and GUI/REST on 127.0.0.1; each device has the other's id, B has
 * A's static address and only B dials; fsWatcherDelayS=1). A holds the generated tree (with a `.stignore` of
 * `node_modules`), B starts empty. The initial sync is timed from spawning both instances until
 * B's REST API reports the folder complete with every file and B's tree matches the source; the
 * change test polls B's copy after each append on A.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  copyTree,
  freePort,
  sleep,
  StallDetector,
  treeDifference,
  type BenchContext,
  type ToolResult,
} from './BenchContext';
import { run, type Tracked } from './ProcessTracker';
import { assertStillRunning, finishSyncRow } from './finishSyncRow';
import { RssSampler } from './RssSampler';

const SYNCTHING = '/usr/bin/syncthing';
const FOLDER_ID = 'twinspace-bench';

interface Instance {
  readonly name: 'A' | 'B';
  readonly home: string;
  readonly folder: string;
  readonly deviceId: string;
  readonly listenPort: number;
  readonly guiPort: number;
  readonly apiKey: string;
}

/** `dial`: give the device a static address (else `dynamic`, which no discovery resolves here). */
function deviceXml(d: Instance, dial: boolean): string {
  return `    <device id="${d.deviceId}" name="${d.name}" compression="never" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>${dial ? `tcp://127.0.0.1:${d.listenPort}` : 'dynamic'}</address>
        <paused>false</paused>
        <autoAcceptFolders>false</autoAcceptFolders>
    </device>
`;
}

/**
 * The whole config.xml of one instance. Only B dials A (as Twinspace's B dials A with --peer):
 * when both dial at the same moment Syncthing sometimes loses many seconds to the crossed
 * connections, which would measure that race rather than the sync.
 */
export function syncthingConfig(self: Instance, other: Instance): string {
  return `<configuration version="36">
    <folder id="${FOLDER_ID}" label="bench" path="${self.folder}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="true" fsWatcherDelayS="1" ignorePerms="false" autoNormalize="true">
        <filesystemType>basic</filesystemType>
        <device id="${self.deviceId}" introducedBy=""></device>
        <device id="${other.deviceId}" introducedBy=""></device>
        <minDiskFree unit="%">0</minDiskFree>
        <versioning></versioning>
        <markerName>.stfolder</markerName>
    </folder>
${deviceXml(self, false)}${deviceXml(other, self.name === 'B')}    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:${self.guiPort}</address>
        <apikey>${self.apiKey}</apikey>
        <theme>default</theme>
    </gui>
    <options>
        <listenAddress>tcp://127.0.0.1:${self.listenPort}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <urSeen>3</urSeen>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <announceLANAddresses>false</announceLANAddresses>
        <startBrowser>false</startBrowser>
        <minHomeDiskFree unit="%">0</minHomeDiskFree>
        <setLowPriority>false</setLowPriority>
    </options>
</configuration>
`;
}

async function rest(inst: Instance, route: string): Promise<Record<string, unknown> | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${inst.guiPort}${route}`, {
      headers: { 'X-API-Key': inst.apiKey },
      signal: AbortSignal.timeout(5_000),
    });
    if (!response.ok) return undefined;
    return (await response.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export async function runSyncthing(ctx: BenchContext): Promise<ToolResult> {
  const result: ToolResult = { tool: 'syncthing', ok: false, notes: [] };
  if (!existsSync(SYNCTHING)) {
    result.error = 'syncthing is not installed (run scripts/setup-bench.sh)';
    return result;
  }
  const version = run(SYNCTHING, ['--version'], 10_000).split(' ').slice(0, 2).join(' ');
  result.notes.push(version, 'fsWatcherDelayS=1', 'peak RSS counts the monitor process too');

  const make = async (name: 'A' | 'B'): Promise<Instance> => {
    const home = path.join(ctx.workDir, `home${name}`);
    const folder = path.join(ctx.workDir, name);
    run(
      SYNCTHING,
      ['generate', '--home', home, '--no-default-folder', '--skip-port-probing'],
      60_000,
    );
    const deviceId = run(SYNCTHING, ['--home', home, '--device-id'], 30_000).trim();
    return {
      name,
      home,
      folder,
      deviceId,
      listenPort: await freePort(),
      guiPort: await freePort(),
      apiKey: `bench-${name}-${ctx.seed}-${Math.random().toString(36).slice(2)}`,
    };
  };
  const a = await make('A');
  const b = await make('B');
  copyTree(ctx.sourceRoot, a.folder);
  mkdirSync(b.folder, { recursive: true });
  for (const [self, other] of [
    [a, b],
    [b, a],
  ] as const) {
    writeFileSync(path.join(self.home, 'config.xml'), syncthingConfig(self, other));
    mkdirSync(path.join(self.folder, '.stfolder'), { recursive: true });
    writeFileSync(path.join(self.folder, '.stignore'), 'node_modules\n');
  }

  const env = { ...process.env, STNOUPGRADE: '1', STNODEFAULTFOLDER: '1', STNORESTART: '1' };
  const rss = new RssSampler(100);
  const procs: Tracked[] = [];
  try {
    const t0 = performance.now();
    for (const inst of [a, b]) {
      const proc = ctx.tracker.spawn(
        `syncthing ${inst.name}`,
        SYNCTHING,
        ['serve', '--home', inst.home, '--no-browser', '--no-restart', '--logflags=0'],
        { env },
      );
      procs.push(proc);
      rss.add(inst.name, proc.child.pid);
    }
    rss.start();

    const expectedFiles = ctx.sourceListing.length;
    const deadline = t0 + ctx.initialTimeoutMs;
    const stall = new StallDetector(b.folder, ctx.stallMs, expectedFiles);
    let lastStatus: unknown;
    for (;;) {
      assertStillRunning(procs);
      const [status, completion] = await Promise.all([
        rest(b, `/rest/db/status?folder=${FOLDER_ID}`),
        rest(b, `/rest/db/completion?folder=${FOLDER_ID}`),
      ]);
      lastStatus = { status, completion };
      const done =
        status !== undefined &&
        completion !== undefined &&
        status['state'] === 'idle' &&
        status['globalFiles'] === expectedFiles &&
        status['needFiles'] === 0 &&
        status['inSyncFiles'] === expectedFiles &&
        completion['completion'] === 100;
      if (done && (await treeDifference(ctx, b.folder, false)) === undefined) {
        result.initialMs = performance.now() - t0;
        break;
      }
      if (performance.now() > deadline) {
        throw new Error(
          `not synced within ${ctx.initialTimeoutMs} ms: ${JSON.stringify(lastStatus).slice(0, 800)}`,
        );
      }
      const stalled = await stall.check();
      if (stalled !== undefined)
        throw new Error(`${stalled}; ${JSON.stringify(lastStatus).slice(0, 800)}`);
      await sleep(100);
    }
    return await finishSyncRow(ctx, result, { a: a.folder, b: b.folder }, rss, {
      changeTimeoutMs: 60_000,
    });
  } finally {
    rss.stop();
    await Promise.all(procs.map((p) => ctx.tracker.stop(p)));
  }
}
