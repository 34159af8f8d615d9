/**
 * Fuzzes the network decoders (npx tsx scripts/fuzz/fuzzDecoders.ts [--runs N] [--seed S]
 * [--targets frame,sync,unit,handshake] [--case-ms MS] [--hang-ms MS]).
 *
 * Each target (scripts/fuzz/decoderTargets.ts) runs N cases (default 200,000 per target) of random
 * and mutated input through fast-check; every case must end in a valid decode or a clean, typed
 * rejection within --case-ms (default 2000). The cases run in a child process that reports
 * progress every chunk; if it goes quiet for --hang-ms (default 30,000) it is killed and the run
 * counts as a hang. Prints cases/s per target and a summary; exits 1 on a failure or crash, 2 on
 * a hang. A failure prints fast-check's report: rerun with the printed --seed to reproduce.
 */
import { fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { TARGETS, runTarget, type TargetName } from './decoderTargets';

const CHUNK = 5_000;

interface Args {
  runs: number;
  seed: number;
  targets: TargetName[];
  caseMs: number;
  hangMs: number;
  child: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    runs: 200_000,
    seed: Math.floor(Math.random() * 0x7fffffff),
    targets: [...TARGETS],
    caseMs: 2000,
    hangMs: 30_000,
    child: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    const num = (): number => {
      const n = Number(value);
      if (value === undefined || !Number.isSafeInteger(n) || n < 0) {
        throw new Error(`${flag ?? ''} needs a non-negative integer`);
      }
      i++;
      return n;
    };
    switch (flag) {
      case '--runs':
        args.runs = num();
        break;
      case '--seed':
        args.seed = num();
        break;
      case '--case-ms':
        args.caseMs = num();
        break;
      case '--hang-ms':
        args.hangMs = num();
        break;
      case '--targets': {
        const names = (value ?? '').split(',').filter((n) => n.length > 0);
        for (const n of names) {
          if (!(TARGETS as readonly string[]).includes(n)) throw new Error(`unknown target ${n}`);
        }
        args.targets = names as TargetName[];
        i++;
        break;
      }
      case '--child':
        args.child = true;
        break;
      default:
        throw new Error(`unknown argument ${flag ?? ''}`);
    }
  }
  return args;
}

type ChildMessage =
  | { kind: 'progress'; target: TargetName; done: number }
  | { kind: 'target'; target: TargetName; cases: number; ms: number }
  | { kind: 'failure'; target: TargetName; seed: number; report: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** The child: runs every target in chunks (a fresh seed per chunk), reporting after each. */
function child(args: Args): void {
  for (const target of args.targets) {
    const t0 = performance.now();
    let done = 0;
    let chunk = 0;
    while (done < args.runs) {
      const numRuns = Math.min(CHUNK, args.runs - done);
      const seed = (args.seed + chunk * 7919) | 0;
      try {
        runTarget(target, { numRuns, seed }, { caseTimeMs: args.caseMs });
      } catch (error) {
        send({
          kind: 'failure',
          target,
          seed,
          report: error instanceof Error ? error.message : String(error),
        });
        process.exitCode = 1;
        return;
      }
      done += numRuns;
      chunk += 1;
      send({ kind: 'progress', target, done });
    }
    send({ kind: 'target', target, cases: done, ms: performance.now() - t0 });
  }
}

async function parent(args: Args): Promise<number> {
  process.stdout.write(
    `fuzzing ${args.targets.join(', ')}: ${args.runs} cases each, seed ${args.seed}\n`,
  );
  const proc = fork(
    process.argv[1] ?? '',
    [
      '--child',
      '--runs',
      String(args.runs),
      '--seed',
      String(args.seed),
      '--targets',
      args.targets.join(','),
      '--case-ms',
      String(args.caseMs),
    ],
    { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  const results: { target: TargetName; cases: number; ms: number }[] = [];
  let failure: Extract<ChildMessage, { kind: 'failure' }> | undefined;
  let last = 'start';
  const watch = { hung: false };
  let watchdog: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (watchdog !== undefined) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      watch.hung = true;
      proc.kill('SIGKILL');
    }, args.hangMs);
  };
  arm();
  proc.on('message', (raw) => {
    const message = raw as ChildMessage;
    arm();
    if (message.kind === 'progress') last = `${message.target} after ${message.done} cases`;
    else if (message.kind === 'target') {
      results.push(message);
      const rate = message.cases / (message.ms / 1000);
      process.stdout.write(
        `  ${message.target.padEnd(10)} ${String(message.cases).padStart(8)} cases  ` +
          `${(message.ms / 1000).toFixed(1).padStart(6)} s  ${rate.toFixed(0).padStart(8)} cases/s  ok\n`,
      );
    } else failure = message;
  });
  const code = await new Promise<number | null>((resolve) => {
    proc.on('exit', (c) => {
      resolve(c);
    });
  });
  if (watchdog !== undefined) clearTimeout(watchdog);
  const total = results.reduce((n, r) => n + r.cases, 0);
  const ms = results.reduce((n, r) => n + r.ms, 0);
  if (watch.hung) {
    process.stdout.write(
      `HANG: no progress for ${args.hangMs} ms (last: ${last}); rerun with --seed ${args.seed}\n`,
    );
    return 2;
  }
  if (failure !== undefined) {
    process.stdout.write(
      `FAILURE in ${failure.target} (chunk seed ${failure.seed}; run seed ${args.seed}):\n${failure.report}\n`,
    );
    return 1;
  }
  if (code !== 0) {
    process.stdout.write(`CRASH: the fuzz process exited with ${String(code)} (last: ${last})\n`);
    return 1;
  }
  process.stdout.write(
    `summary: ${total} cases, ${results.length} targets, ${(ms / 1000).toFixed(1)} s, ` +
      `${(total / (ms / 1000)).toFixed(0)} cases/s, 0 failures, 0 hangs\n`,
  );
  return 0;
}

const args = parseArgs(process.argv.slice(2));
if (args.child) child(args);
else
  void parent(args).then((code) => {
    process.exitCode = code;
  });
