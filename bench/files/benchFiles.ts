/**
 * File-sync benchmark (npm run bench:files): Twinspace vs Syncthing vs rsync on one generated
 * workspace, in the same run, on the same file system, inside a private network namespace that
 * has only `lo` (the bench re-executes itself under `unshare -n`; needs root).
 *
 *   tsx bench/files/benchFiles.ts [--files N] [--samples N] [--seed S] [--dir BASE]
 *       [--tools rsync,syncthing,twinspace] [--timeout-s N] [--stall-s N] [--keep] [--no-build]
 *       [--no-netns] [--out FILE]
 *
 *  --files      files outside node_modules/ (default 10000: 90% text 200 B–50 KB, 10% binary
 *               20 KB–1 MB), plus an ignored node_modules/ tree
 *  --samples    change-propagation samples per tool (default 100)
 *  --dir        where the run's temp dir goes (default /tmp; its file system is reported)
 *  --timeout-s  bound of one initial sync (default 900)
 *  --stall-s    fail an initial sync whose destination has not grown for this long (default 120)
 *  --no-build   do not run `node esbuild.mjs` before the Twinspace row
 *  --no-netns   run in the current network namespace (everything still binds to 127.0.0.1)
 *  --out        results JSON (default bench-results/files-<time>.json)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { BenchContext, ToolResult } from './BenchContext';
import { generateWorkspace } from './generateWorkspace';
import { ProcessTracker, run } from './ProcessTracker';
import { formatReport, type BenchReport } from './formatReport';
import { runRsync } from './runRsync';
import { runSyncthing } from './runSyncthing';
import { runTwinspace } from './runTwinspace';
import { digestTree, listTree } from './treeDigest';

const REPO = path.resolve(__dirname, '../..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const NETNS_ENV = 'TWINSPACE_BENCH_NETNS';
const TOOLS = ['rsync', 'syncthing', 'twinspace'] as const;
type Tool = (typeof TOOLS)[number];

interface Options {
  files: number;
  samples: number;
  seed: number;
  dir: string;
  tools: Tool[];
  timeoutMs: number;
  stallMs: number;
  keep: boolean;
  build: boolean;
  netns: boolean;
  out: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      files: { type: 'string', default: '10000' },
      samples: { type: 'string', default: '100' },
      seed: { type: 'string', default: '1' },
      dir: { type: 'string', default: os.tmpdir() },
      tools: { type: 'string', default: TOOLS.join(',') },
      'timeout-s': { type: 'string', default: '900' },
      'stall-s': { type: 'string', default: '120' },
      keep: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      'no-netns': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  const int = (name: string, text: string, min: number): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  const tools = values.tools.split(',').map((t) => t.trim());
  for (const t of tools) {
    if (!(TOOLS as readonly string[]).includes(t)) throw new Error(`unknown tool ${t}`);
  }
  return {
    files: int('files', values.files, 10),
    samples: int('samples', values.samples, 1),
    seed: int('seed', values.seed, 0),
    dir: path.resolve(values.dir),
    tools: tools as Tool[],
    timeoutMs: int('timeout-s', values['timeout-s'], 1) * 1000,
    stallMs: int('stall-s', values['stall-s'], 1) * 1000,
    keep: values.keep,
    build: !values['no-build'],
    netns: !values['no-netns'],
    out: values.out,
  };
}

/** Re-runs this script under `unshare -n` with `lo` up; resolves with its exit code. */
function reexecInNetns(): Promise<number> {
  const script = ['ip link set lo up', 'exec "$@"'].join(' && ');
  const child = spawn(
    'unshare',
    [
      '-n',
      '--',
      'sh',
      '-c',
      script,
      'sh',
      process.execPath,
      ...process.execArgv,
      ...process.argv.slice(1),
    ],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: '1' } },
  );
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('error', (error) => {
      process.stderr.write(`bench: cannot run unshare -n (${error.message}); use --no-netns\n`);
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      resolve(code ?? (signal !== null ? 130 : 1));
    });
  });
}

function fsType(dir: string): string {
  const mnt = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '--target', dir], {
    encoding: 'utf8',
    timeout: 10_000,
  });
  const first = mnt.stdout.trim().split('\n')[0] ?? '';
  if (mnt.status === 0 && first !== '') return first;
  const r = spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

function log(line: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (options.netns && process.env[NETNS_ENV] !== '1') {
    if (process.getuid?.() !== 0) {
      process.stderr.write(
        'bench: a private network namespace (unshare -n) needs root; run as root, or pass ' +
          "--no-netns to run on this namespace's loopback\n",
      );
      return 2;
    }
    return reexecInNetns();
  }

  mkdirSync(options.dir, { recursive: true });
  const root = mkdtempSync(path.join(options.dir, 'twinspace-benchfiles-'));
  const tracker = new ProcessTracker();
  tracker.installExitHooks(() => {
    if (!options.keep) rmSync(root, { recursive: true, force: true });
  });
  const fs = fsType(root);
  log(`run dir ${root} (${fs}), ${options.files} files, seed ${options.seed}`);
  const interfaces = Object.keys(os.networkInterfaces());
  try {
    if (options.tools.includes('twinspace') && options.build) {
      log('building dist/ (node esbuild.mjs)');
      run(process.execPath, ['esbuild.mjs'], 300_000, { cwd: REPO });
    }
    const sourceRoot = path.join(root, 'source');
    const g0 = performance.now();
    const gen = await generateWorkspace(sourceRoot, { files: options.files, seed: options.seed });
    const generateMs = performance.now() - g0;
    const sourceDigest = await digestTree(sourceRoot);
    const sourceListing = await listTree(sourceRoot);
    log(
      `generated ${gen.textCount} text + ${gen.binaryCount} binary files ` +
        `(${(sourceDigest.bytes / 1e6).toFixed(1)} MB) + ${gen.ignoredCount} ignored in ` +
        `${generateMs.toFixed(0)} ms; digest ${sourceDigest.digest.slice(0, 16)}`,
    );

    const results: ToolResult[] = [];
    for (const tool of options.tools) {
      const workDir = path.join(root, tool);
      mkdirSync(workDir, { recursive: true });
      const ctx: BenchContext = {
        workDir,
        sourceRoot,
        sourceDigest,
        sourceListing,
        textFiles: gen.textFiles,
        samples: options.samples,
        seed: options.seed,
        initialTimeoutMs: options.timeoutMs,
        stallMs: options.stallMs,
        tracker,
        log,
      };
      log(`--- ${tool}`);
      let result: ToolResult;
      try {
        result =
          tool === 'rsync'
            ? await runRsync(ctx)
            : tool === 'syncthing'
              ? await runSyncthing(ctx)
              : await runTwinspace(ctx, CLI);
      } catch (error) {
        result = {
          tool,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
          notes: [],
        };
      }
      if (!result.ok) log(`${tool} FAILED: ${result.error ?? 'unknown error'}`);
      results.push(result);
      // Free the disk between tools: each copy is the whole tree.
      if (!options.keep) rmSync(workDir, { recursive: true, force: true });
    }

    const report: BenchReport = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, memGiB: os.totalmem() / 2 ** 30, node: process.version },
      fileSystem: fs,
      runDir: root,
      networkInterfaces: interfaces,
      workload: {
        seed: options.seed,
        files: sourceDigest.files,
        textFiles: gen.textCount,
        binaryFiles: gen.binaryCount,
        ignoredFiles: gen.ignoredCount,
        textBytes: gen.textBytes,
        binaryBytes: gen.binaryBytes,
        folders: gen.folders,
        bytes: sourceDigest.bytes,
        digest: sourceDigest.digest,
        generateMs,
      },
      samples: options.samples,
      results,
    };
    process.stdout.write(formatReport(report));
    const out =
      options.out ??
      path.join(REPO, 'bench-results', `files-${report.date.replace(/[:.]/g, '-')}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    log(`results written to ${out}`);
    return results.every((r) => r.ok) ? 0 : 1;
  } finally {
    tracker.killAllNow();
    if (!options.keep) rmSync(root, { recursive: true, force: true });
    else log(`kept ${root}`);
  }
}

main().then(
  (code) => {
    process.exit(code);
  },
  (error: unknown) => {
    process.stderr.write(
      `benchFiles failed: ${error instanceof Error ? error.stack : String(error)}\n`,
    );
    process.exit(1);
  },
);
