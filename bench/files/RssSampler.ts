/**
 * Peak resident memory of process trees, from /proc: every `intervalMs` each root process and
 * its descendants are found (by parent pid) and their VmHWM (the kernel's own peak RSS) read.
 * A label's peak is the sum, over the distinct processes seen in its tree, of their highest
 * VmHWM (for a single-process tree: that process's peak RSS).
 */
import { readdirSync, readFileSync } from 'node:fs';

interface Root {
  readonly label: string;
  readonly pid: number;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...; comm may contain spaces and parentheses.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(rest[1]);
    return Number.isFinite(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
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

/** `root` and all its live descendants. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ppid = parentOf(pid);
    if (ppid === undefined) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined) break;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
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
