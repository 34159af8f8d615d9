/**
 * Peak resident memory of process trees, from /proc: every `intervalMs` each root process and
 * its descendants are found (by parent pid) and their VmHWM (the kernel's own peak RSS) read.
 * A label's peak is the sum, over the distinct processes seen in its tree, of their highest
 * VmHWM (for a single-process tree: that process's peak RSS).
 */
import { readFileSync } from 'node:fs';
import { processTree } from './ProcessTracker';

interface Root {
  readonly label: string;
  readonly pid: number;
}

/** VmHWM in KiB, or undefined when the process is gone (or a zombie). */
export function peakRssKb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] !== undefined ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  private readonly roots: Root[] = [];
  /** label → pid → highest VmHWM seen (KiB). */
  private readonly peaks = new Map<string, Map<number, number>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs = 100) {}

  add(label: string, pid: number | undefined): void {
    if (pid === undefined) return;
    this.roots.push({ label, pid });
    this.sample();
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.sample();
    }, this.intervalMs);
  }

  /** One sample now (also call it right before stopping the processes). */
  sample(): void {
    for (const { label, pid } of this.roots) {
      const perPid = this.peaks.get(label) ?? new Map<number, number>();
      this.peaks.set(label, perPid);
      for (const p of processTree(pid)) {
        const kb = peakRssKb(p);
        if (kb !== undefined && kb > (perPid.get(p) ?? 0)) perPid.set(p, kb);
      }
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** label → the peak RSS (MiB) of each process seen in its tree, largest first. */
  perProcess(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [label, perPid] of this.peaks) {
      out[label] = [...perPid.values()].map((kb) => kb / 1024).sort((a, b) => b - a);
    }
    return out;
  }

  /** One note such as "A 81+17, B 85+17 MB" when a tree had more than one process. */
  describeTrees(): string | undefined {
    const trees = Object.entries(this.perProcess());
    if (trees.every(([, list]) => list.length <= 1)) return undefined;
    return (
      'RSS per process: ' +
      trees
        .map(([label, list]) => `${label} ${list.map((mb) => mb.toFixed(0)).join('+')}`)
        .join(', ') +
      ' MB'
    );
  }

  /** label → peak RSS in MiB (see the file comment). */
  result(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [label, perPid] of this.peaks) {
      let kb = 0;
      for (const v of perPid.values()) kb += v;
      out[label] = kb / 1024;
    }
    return out;
  }
}
