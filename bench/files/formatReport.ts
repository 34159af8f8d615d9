/**
 * The file-sync benchmark's printed report: the workload, one table row per tool, the ratios
 * Twinspace / Syncthing, and the targets with MET / MISSED.
 */
import type { ToolResult } from './BenchContext';

export interface BenchReport {
  readonly date: string;
  readonly machine: { cpus: number; memGiB: number; node: string };
  readonly fileSystem: string;
  readonly runDir: string;
  readonly networkInterfaces: readonly string[];
  readonly workload: {
    seed: number;
    files: number;
    textFiles: number;
    binaryFiles: number;
    ignoredFiles: number;
    textBytes: number;
    binaryBytes: number;
    folders: number;
    bytes: number;
    digest: string;
    generateMs: number;
  };
  readonly samples: number;
  readonly results: readonly ToolResult[];
}

export type TargetVerdict = 'MET' | 'MISSED' | 'n/a';

export interface Target {
  readonly name: string;
  readonly verdict: TargetVerdict;
  readonly detail: string;
}

const seconds = (ms: number | undefined): string =>
  ms === undefined
    ? '–'
    : ms >= 10_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${(ms / 1000).toFixed(2)} s`;
const millis = (ms: number | undefined): string =>
  ms === undefined ? '–' : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;

/** The largest per-process (per-peer) peak RSS of a tool, MiB. */
export function maxRss(r: ToolResult | undefined): number | undefined {
  const values = Object.values(r?.peakRssMb ?? {});
  return values.length > 0 ? Math.max(...values) : undefined;
}

function rssCell(r: ToolResult): string {
  const entries = Object.entries(r.peakRssMb ?? {});
  if (entries.length === 0) return '–';
  return entries.map(([label, mb]) => `${label} ${mb.toFixed(0)}`).join(' / ') + ' MB';
}

/**
 * The three targets of the issue, judged on this run's rows: 'n/a' when Twinspace was not run or
 * Syncthing's row failed (nothing to compare with), 'MISSED' when Twinspace's row failed.
 */
export function judgeTargets(results: readonly ToolResult[]): Target[] {
  const twin = results.find((r) => r.tool === 'twinspace');
  const st = results.find((r) => r.tool === 'syncthing');
  const names = {
    initial: 'initial sync faster than Syncthing',
    p50: 'change propagation p50 under 50 ms',
    rss: "peak RSS below Syncthing's (largest peer)",
  };
  if (twin === undefined) {
    return Object.values(names).map((name) => ({
      name,
      verdict: 'n/a',
      detail: 'Twinspace not run',
    }));
  }
  const twinFailed = `Twinspace row failed`;
  const stUsable = st?.verified === true && st.initialMs !== undefined;
  const targets: Target[] = [];
  if (!stUsable) {
    targets.push({ name: names.initial, verdict: 'n/a', detail: 'no Syncthing figure' });
  } else if (twin.verified !== true || twin.initialMs === undefined) {
    targets.push({ name: names.initial, verdict: 'MISSED', detail: twinFailed });
  } else {
    targets.push({
      name: names.initial,
      verdict: twin.initialMs < (st.initialMs ?? 0) ? 'MET' : 'MISSED',
      detail: `${seconds(twin.initialMs)} vs ${seconds(st.initialMs)}`,
    });
  }
  targets.push(
    twin.change !== undefined
      ? {
          name: names.p50,
          verdict: twin.change.p50Ms < 50 ? 'MET' : 'MISSED',
          detail: millis(twin.change.p50Ms),
        }
      : { name: names.p50, verdict: 'MISSED', detail: twinFailed },
  );
  const tr = maxRss(twin);
  const sr = maxRss(st);
  if (sr === undefined || st?.ok !== true) {
    targets.push({ name: names.rss, verdict: 'n/a', detail: 'no Syncthing figure' });
  } else if (tr === undefined || !twin.ok) {
    targets.push({ name: names.rss, verdict: 'MISSED', detail: twinFailed });
  } else {
    targets.push({
      name: names.rss,
      verdict: tr < sr ? 'MET' : 'MISSED',
      detail: `${tr.toFixed(0)} MB vs ${sr.toFixed(0)} MB`,
    });
  }
  return targets;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: readonly string[]): string =>
    `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |\n`;
  const [head, ...body] = rows;
  if (head === undefined) return '';
  return (
    line(head) + `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n` + body.map(line).join('')
  );
}

export function formatReport(report: BenchReport): string {
  const w = report.workload;
  const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
  let out =
    `\nFile sync benchmark, ${report.date}\n` +
    `machine: ${report.machine.cpus} cores, ${report.machine.memGiB.toFixed(0)} GiB, node ${report.machine.node}; ` +
    `file system: ${report.fileSystem} (${report.runDir}); network interfaces: ${report.networkInterfaces.join(', ')}\n` +
    `workload (seed ${w.seed}): ${w.files} files in ${w.folders} folders, ${mb(w.bytes)} ` +
    `(${w.textFiles} text ${mb(w.textBytes)}, ${w.binaryFiles} binary ${mb(w.binaryBytes)}, .gitignore) ` +
    `+ ${w.ignoredFiles} ignored in node_modules/; generated in ${(w.generateMs / 1000).toFixed(1)} s\n` +
    `change propagation: ${report.samples} samples, append one line to a random text file on A\n\n`;
  const rows: string[][] = [
    ['tool', 'initial sync', 'verified', 'change p50', 'change p95', 'peak RSS'],
  ];
  for (const r of report.results) {
    rows.push([
      r.tool,
      r.verified === true ? seconds(r.initialMs) : 'FAILED',
      r.verified === undefined ? '–' : r.verified ? 'identical' : 'DIFFERENT',
      millis(r.change?.p50Ms),
      millis(r.change?.p95Ms),
      rssCell(r),
    ]);
  }
  out += table(rows);
  for (const r of report.results) {
    const notes = [...(r.change !== undefined ? [`change: ${r.change.what}`] : []), ...r.notes];
    if (notes.length > 0) out += `  ${r.tool}: ${notes.join('; ')}\n`;
  }
  for (const r of report.results) {
    if (!r.ok) out += `\n${r.tool} FAILED: ${r.error ?? 'unknown error'}`;
  }
  const twin = report.results.find((r) => r.tool === 'twinspace');
  const st = report.results.find((r) => r.tool === 'syncthing');
  if (twin?.verified === true && st?.verified === true) {
    const ratio = (a: number | undefined, b: number | undefined): string =>
      a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '–';
    out +=
      `\n\nTwinspace / Syncthing: initial ${ratio(twin.initialMs, st.initialMs)}, ` +
      `change p50 ${ratio(twin.change?.p50Ms, st.change?.p50Ms)}, ` +
      `p95 ${ratio(twin.change?.p95Ms, st.change?.p95Ms)}, ` +
      `peak RSS (largest peer) ${ratio(maxRss(twin), maxRss(st))}`;
  }
  out += '\n\nTargets:\n';
  out += table([
    ['target', 'result', 'measured'],
    ...judgeTargets(report.results).map((t) => [t.name, t.verdict, t.detail]),
  ]);
  return out;
}
