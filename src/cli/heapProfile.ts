/**
 * The headless peer's V8 heap settings. `serve` is a long-running background process whose
 * allocations are mostly short-lived (file contents, frames, Yjs updates): with V8's defaults
 * the young generation grows to 16 MiB semi-spaces and the old generation to several times what
 * is live, so a first sync of 10,000 files peaked at ~250 MB of RSS for ~35 MB of live objects.
 *
 * 'lean' (the default) keeps the young generation at its initial size and lets the old
 * generation grow by half of what survived each full GC: peak RSS roughly halves for about a
 * quarter more CPU during a large first sync (`npm run bench:files` prints both). 'fast' keeps
 * V8's defaults. The process's heap limit is not changed: nothing runs out of memory because of
 * this, it is only collected sooner.
 *
 * Both flags are GC heuristics V8 reads at every collection, so setting them once the process has
 * started takes effect at the next one. Never used in the VS Code extension host (the heap there
 * is the editor's, not ours).
 */
import { setFlagsFromString } from 'node:v8';

export type HeapProfile = 'lean' | 'fast';

export const HEAP_PROFILES: readonly HeapProfile[] = ['lean', 'fast'];

const LEAN_FLAGS = ['--semi-space-growth-factor=1', '--heap-growing-percent=50'];

export function applyHeapProfile(profile: HeapProfile): void {
  if (profile === 'fast') return;
  for (const flag of LEAN_FLAGS) setFlagsFromString(flag);
}
