/**
 * One kill -9 trial of the orchestrator: a child process applies wet plans (the crash workload)
 * on a fresh folder; it is killed with SIGKILL at a random moment; the orchestrator is opened
 * again (stale lock cleared, recovery scan), and then the trial checks:
 *  1. no partial file under a final name: every file in the folder is, byte for byte, a content
 *     of the workload; no temp file of ours is left;
 *  2. nothing outside the folder: the outside directory holds its sentinel only, unchanged, and
 *     nothing new appeared next to the folder;
 *  3. the journal is consistent: it parses with no corruption and no torn tail left; every action
 *     is `Started → Completed|Halted` or (refused before running) `Halted` alone; nothing is left
 *     dangling; no action through the escaping link or with `..` ever completed; and replaying
 *     the completed actions over the initial folder gives exactly the folder on disk.
 * Used by the unit suite (3 trials) and by scripts/crash/crashTrials.ts (20).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, promises as fs, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { FileOrchestrator } from '../../src/sync/files/orchestrator/FileOrchestrator';
import { JOURNAL_FILE, readJournal } from '../../src/sync/files/orchestrator/Journal';
import type { JournalRecord } from '../../src/sync/files/orchestrator/Journal';
import type { RecoveryReport } from '../../src/sync/files/orchestrator/recoverFolder';
import { isTempName } from '../../src/sync/files/orchestrator/tempFiles';
import {
  ESCAPE_LINK,
  OUTSIDE_SENTINEL,
  OUTSIDE_SENTINEL_CONTENT,
  createInitialFolder,
  parseWorkloadContent,
  scanFolder,
} from './crashWorkload';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
const CHILD = path.join(REPO_ROOT, 'scripts', 'crash', 'crashChild.ts');

export interface CrashTrialOptions {
  readonly seed: number;
  /** The kill comes this long after the child is ready, at most (default 1500 ms). */
  readonly maxDelayMs?: number;
  readonly minDelayMs?: number;
  /** Keep the trial's folder when it fails (default true), to look at it. */
  readonly keepOnFailure?: boolean;
}

export interface CrashTrialResult {
  readonly seed: number;
  readonly delayMs: number;
  /** Generations the child reported finished before it was killed. */
  readonly generations: number;
  readonly journalRecords: number;
  readonly recovery: RecoveryReport;
  /** Empty when the trial passed. */
  readonly problems: readonly string[];
  /** Where the trial ran (removed when it passed). */
  readonly root: string;
}

/** A small seeded PRNG (mulberry32), so a failing trial can be replayed by its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Spawns a crash child (`churn` or `hold`) and resolves once it printed `ready`. */
export async function spawnChild(
  mode: 'churn' | 'hold',
  folder: string,
  stateDir: string,
): Promise<{ child: ChildProcess; generations: () => number; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', CHILD, mode, folder, stateDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let generations = 0;
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`crash child not ready in 60 s: ${stderr}`));
    }, 60_000);
    lines.on('line', (line) => {
      if (line.startsWith('ready ')) {
        clearTimeout(timer);
        resolve();
      } else if (line.startsWith('gen ')) generations++;
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`crash child exited early (${code ?? signal ?? '?'}): ${stderr}`));
    });
  });
  return { child, generations: () => generations, exited };
}

export async function runCrashTrial(options: CrashTrialOptions): Promise<CrashTrialResult> {
  const random = seededRandom(options.seed);
  const minDelay = options.minDelayMs ?? 0;
  const maxDelay = options.maxDelayMs ?? 1500;
  const delayMs = Math.round(minDelay + random() * (maxDelay - minDelay));
  const root = realpathSync(mkdtempSync(path.join(tmpdir(), 'tw-crash-')));
  const folder = path.join(root, 'folder');
  const stateDir = path.join(root, 'state');
  const outside = path.join(root, 'outside');
  await createInitialFolder(folder, outside);
  const initial = await scanFolder(folder);

  const { child, generations, exited } = await spawnChild('churn', folder, stateDir);
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  child.kill('SIGKILL');
  await exited; // reaped: its pid is gone, so its lock is stale

  const problems: string[] = [];
  const orchestrator = await FileOrchestrator.open({ folder, stateDir });
  const recovery = orchestrator.recovery;
  const journalFile = path.join(orchestrator.stateDir, JOURNAL_FILE);
  await orchestrator.close();

  // 1. No partial file, no temp file.
  const disk = await scanFolder(folder);
  for (const [rel, entry] of disk) {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (isTempName(name)) problems.push(`temp file left: ${rel}`);
    else if (entry.kind === 'file' && parseWorkloadContent(entry.bytes!) === undefined) {
      problems.push(`partial or foreign content under a final name: ${rel}`);
    }
  }
  // 2. Nothing outside.
  const outsideNames = await fs.readdir(outside);
  if (outsideNames.length !== 1 || outsideNames[0] !== OUTSIDE_SENTINEL) {
    problems.push(`outside directory changed: ${JSON.stringify(outsideNames)}`);
  }
  const sentinel = await fs.readFile(path.join(outside, OUTSIDE_SENTINEL), 'utf8');
  if (sentinel !== OUTSIDE_SENTINEL_CONTENT) problems.push('outside sentinel changed');
  const rootNames = (await fs.readdir(root)).sort();
  if (JSON.stringify(rootNames) !== JSON.stringify(['folder', 'outside', 'state'])) {
    problems.push(`something appeared next to the folder: ${JSON.stringify(rootNames)}`);
  }
  // 3. Journal consistency.
  let records: JournalRecord[] = [];
  try {
    const read = await readJournal(journalFile);
    records = read.records;
    if (read.tornTail !== undefined) problems.push('torn tail still in the journal after open');
  } catch (error) {
    problems.push(`journal unreadable: ${(error as Error).message}`);
  }
  problems.push(...checkJournal(records));
  problems.push(...checkReplay(initial, records, disk));

  const passed = problems.length === 0;
  if (passed || options.keepOnFailure === false)
    await fs.rm(root, { recursive: true, force: true });
  return {
    seed: options.seed,
    delayMs,
    generations: generations(),
    journalRecords: records.length,
    recovery,
    problems,
    root,
  };
}

/** Pairing rules of the journal (see the file comment). */
export function checkJournal(records: readonly JournalRecord[]): string[] {
  const problems: string[] = [];
  const byAction = new Map<string, JournalRecord[]>();
  for (const r of records) {
    const list = byAction.get(r.actionId) ?? [];
    list.push(r);
    byAction.set(r.actionId, list);
  }
  for (const [id, list] of byAction) {
    const types = list.map((r) => r.type).join(',');
    const ok =
      types === 'ActionStarted,ActionCompleted' ||
      types === 'ActionStarted,ActionHalted' ||
      types === 'ActionHalted';
    if (!ok) problems.push(`action ${id} has records ${types}`);
    for (const r of list) {
      if (r.type !== 'ActionCompleted') continue;
      const paths = [r.action.path, r.action.from, r.action.to, r.action.copyPath];
      if (
        paths.some(
          (p) =>
            p !== undefined && (p.startsWith(`${ESCAPE_LINK}/`) || p.split('/').includes('..')),
        )
      ) {
        problems.push(
          `action ${id} completed on a path outside the folder: ${JSON.stringify(r.action)}`,
        );
      }
    }
  }
  return problems;
}

type ModelEntry = { readonly kind: 'file'; readonly hash: string } | { readonly kind: 'dir' };

/** Replays the completed actions over the initial folder and compares with the disk. */
export function checkReplay(
  initial: ReadonlyMap<string, { kind: 'file' | 'dir'; hash?: string }>,
  records: readonly JournalRecord[],
  disk: ReadonlyMap<string, { kind: 'file' | 'dir'; hash?: string }>,
): string[] {
  const model = new Map<string, ModelEntry>();
  for (const [p, e] of initial)
    model.set(p, e.kind === 'dir' ? { kind: 'dir' } : { kind: 'file', hash: e.hash ?? '' });
  const starts = new Map<string, JournalRecord>();
  const problems: string[] = [];
  for (const r of records) {
    if (r.type === 'ActionStarted') {
      starts.set(r.actionId, r);
      continue;
    }
    if (r.type !== 'ActionCompleted') continue;
    const start = starts.get(r.actionId);
    const a = r.action;
    switch (a.type) {
      case 'write':
      case 'conflictCopy': {
        const target = a.type === 'write' ? a.path : a.copyPath;
        if (target === undefined || start?.intendedHash === undefined) {
          problems.push(`completed ${a.type} ${r.actionId} has no target or intended hash`);
          break;
        }
        model.set(target, { kind: 'file', hash: start.intendedHash });
        break;
      }
      case 'mkdir':
        if (a.path !== undefined) model.set(a.path, { kind: 'dir' });
        break;
      case 'delete':
        if (a.path !== undefined) model.delete(a.path);
        break;
      case 'rename': {
        if (a.from === undefined || a.to === undefined) break;
        for (const [p, e] of [...model]) {
          if (p === a.from || p.startsWith(`${a.from}/`)) {
            model.delete(p);
            model.set(a.to + p.slice(a.from.length), e);
          }
        }
        break;
      }
    }
  }
  const keys = new Set([...model.keys(), ...disk.keys()]);
  for (const p of [...keys].sort()) {
    const m = model.get(p);
    const d = disk.get(p);
    const show = (e: { kind: string; hash?: string } | undefined): string =>
      e === undefined ? 'absent' : e.kind === 'dir' ? 'dir' : `file ${(e.hash ?? '').slice(0, 8)}`;
    if (show(m) !== show(d))
      problems.push(`journal replay says ${p} is ${show(m)}, disk has ${show(d)}`);
  }
  return problems;
}
