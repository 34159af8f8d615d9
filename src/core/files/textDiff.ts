/**
 * Minimal text diffs applied to Y.Text, so that a local change to a file becomes a handful of Yjs
 * insert/delete operations and concurrent edits on two devices merge instead of conflicting.
 *
 * Diffing (`diffText`):
 *  - the common prefix and suffix are cut first (a typical save changes one small region);
 *  - a middle of at most `charDiffLimit` code units (both sides together) is diffed by character
 *    with fast-diff (Myers with the diff-match-patch speedups);
 *  - a larger middle is diffed by line first, with a Myers diff bounded to `maxLineEdits` edits
 *    (fast-diff has no deadline and takes minutes on large rewrites), then each changed block of
 *    lines is diffed by character when it is small enough and replaced whole otherwise;
 *  - past that bound (many changed lines, e.g. a reformatted file), lines that occur exactly once
 *    on each side serve as anchors (patience diff: longest increasing run of them) and the gaps
 *    between anchors get the bounded Myers diff each. A gap past the bound, or a middle without
 *    anchors, is replaced whole: still correct, only less fine-grained.
 * Edges never split a surrogate pair: an edit that would cut one is widened to the whole pair, so
 * an emoji is never half deleted or half inserted (Yjs stores text as UTF-8 in its updates, where
 * a lone surrogate would turn into U+FFFD).
 *
 * Applying (`applyTextChange`): the edits are applied in one transaction. When the Y.Text no
 * longer holds `oldText` (a remote change arrived after the caller last read it), the local edits
 * are rebased onto the current content: positions are mapped through a diff of oldText → current,
 * deletions remove only characters that still exist, and remote insertions are kept. Nothing of
 * either side is lost.
 *
 * Pure and deterministic: imports yjs and fast-diff only.
 */
import fastDiff from 'fast-diff';
import type * as Y from 'yjs';

/** One replacement in the coordinates of the old text. */
export interface TextEdit {
  /** Offset in the old text, in UTF-16 code units. */
  readonly index: number;
  /** How many code units of the old text it removes. */
  readonly deleteCount: number;
  /** What it puts in their place. */
  readonly insert: string;
}

export interface DiffOptions {
  /** Largest middle (both sides, code units) diffed by character directly. Default 8192. */
  readonly charDiffLimit?: number;
  /** Largest number of line insertions + deletions the line diff looks for. Default 1000. */
  readonly maxLineEdits?: number;
}

export interface ApplyTextChangeResult {
  /** The edits applied to the Y.Text, in its coordinates before the change, ascending. */
  readonly edits: readonly TextEdit[];
  /** Whether the Y.Text held something other than `oldText` and the change was rebased. */
  readonly rebased: boolean;
}

const DEFAULT_CHAR_DIFF_LIMIT = 8192;
const DEFAULT_MAX_LINE_EDITS = 1000;

/**
 * The edits that turn `oldText` into `newText`: ascending, non-overlapping, never adjacent, never
 * empty, never splitting a surrogate pair. `applyEdits(oldText, diffText(oldText, newText))`
 * equals `newText`.
 */
export function diffText(oldText: string, newText: string, options: DiffOptions = {}): TextEdit[] {
  if (oldText === newText) return [];
  const charDiffLimit = options.charDiffLimit ?? DEFAULT_CHAR_DIFF_LIMIT;
  const maxLineEdits = options.maxLineEdits ?? DEFAULT_MAX_LINE_EDITS;

  const prefix = commonPrefixLength(oldText, newText);
  const suffix = commonSuffixLength(oldText, newText, prefix);
  const oldMid = oldText.slice(prefix, oldText.length - suffix);
  const newMid = newText.slice(prefix, newText.length - suffix);

  const raw: TextEdit[] = [];
  if (oldMid.length + newMid.length <= charDiffLimit) {
    pushCharEdits(raw, oldMid, newMid, prefix);
  } else {
    lineModeEdits(raw, oldMid, newMid, prefix, charDiffLimit, maxLineEdits);
  }
  return normalizeEdits(oldText, raw);
}

/** Applies ascending, non-overlapping edits to a string. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  let out = '';
  let pos = 0;
  for (const edit of edits) {
    out += text.slice(pos, edit.index) + edit.insert;
    pos = edit.index + edit.deleteCount;
  }
  return out + text.slice(pos);
}

/**
 * Turns the Y.Text from `oldText` into `newText` with a minimal set of insert/delete operations,
 * in one transaction with `origin`. If the Y.Text does not hold `oldText` any more, the change
 * oldText → newText is rebased onto its current content (see the module comment).
 */
export function applyTextChange(
  ytext: Y.Text,
  oldText: string,
  newText: string,
  origin?: unknown,
  options: DiffOptions = {},
): ApplyTextChangeResult {
  const current = ytext.toJSON();
  const local = diffText(oldText, newText, options);
  const rebased = current !== oldText;
  const edits = rebased ? rebaseEdits(oldText, current, local, options) : local;
  if (edits.length === 0) return { edits, rebased };
  const apply = (): void => {
    // Right to left, so earlier offsets stay valid.
    for (let i = edits.length - 1; i >= 0; i -= 1) {
      const edit = edits[i];
      if (edit === undefined) continue;
      if (edit.deleteCount > 0) ytext.delete(edit.index, edit.deleteCount);
      if (edit.insert.length > 0) ytext.insert(edit.index, edit.insert);
    }
  };
  const doc = ytext.doc;
  if (doc) doc.transact(apply, origin);
  else apply();
  return { edits, rebased };
}

/**
 * Rebases `edits` (made against `base`) onto `current` (base changed by someone else): the
 * result applied to `current` holds both changes. Deletions skip characters that are already
 * gone and never remove text that `current` inserted; an insertion lands at its mapped position
 * (before text that `current` inserted at the same place, after text that replaced a region it
 * falls in).
 */
export function rebaseEdits(
  base: string,
  current: string,
  edits: readonly TextEdit[],
  options: DiffOptions = {},
): TextEdit[] {
  if (edits.length === 0) return [];
  // Segments of base that survive in current: [baseStart, baseEnd) ↦ currentStart.
  const theirs = diffText(base, current, options);
  const kept: { baseStart: number; baseEnd: number; curStart: number }[] = [];
  let basePos = 0;
  let curPos = 0;
  for (const edit of theirs) {
    if (edit.index > basePos) {
      kept.push({ baseStart: basePos, baseEnd: edit.index, curStart: curPos });
      curPos += edit.index - basePos;
    }
    curPos += edit.insert.length;
    basePos = edit.index + edit.deleteCount;
  }
  if (base.length > basePos) {
    kept.push({ baseStart: basePos, baseEnd: base.length, curStart: curPos });
  }

  /** Where an insertion at `p` of base goes in current. */
  const mapInsert = (p: number): number => {
    for (const seg of kept) {
      // Inside a region they removed or replaced: after their replacement.
      if (p < seg.baseStart) return seg.curStart;
      if (p <= seg.baseEnd) {
        return seg.curStart + (p - seg.baseStart);
      }
    }
    return current.length;
  };

  const out: TextEdit[] = [];
  for (const edit of edits) {
    const end = edit.index + edit.deleteCount;
    let insertAt: number | undefined;
    // Delete, piece by piece, the characters of [index, end) that still exist in current.
    for (const seg of kept) {
      const from = Math.max(seg.baseStart, edit.index);
      const to = Math.min(seg.baseEnd, end);
      if (from >= to) continue;
      const curFrom = seg.curStart + (from - seg.baseStart);
      insertAt ??= curFrom;
      out.push({ index: curFrom, deleteCount: to - from, insert: '' });
    }
    if (edit.insert.length > 0) {
      const at = insertAt ?? mapInsert(edit.index);
      out.push({ index: at, deleteCount: 0, insert: edit.insert });
    }
  }
  // Insertions sort before deletions that start at the same place; merge touching pieces.
  out.sort((a, b) => a.index - b.index || a.deleteCount - b.deleteCount);
  return normalizeEdits(current, mergeTouching(out));
}

/** Widens edits so that none cuts a surrogate pair, and merges those that then touch. */
function normalizeEdits(oldText: string, edits: readonly TextEdit[]): TextEdit[] {
  const widened: TextEdit[] = [];
  for (const edit of edits) {
    let { index, deleteCount, insert } = edit;
    if (deleteCount === 0 && insert.length === 0) continue;
    if (index > 0 && isHigh(oldText.charCodeAt(index - 1)) && isLow(oldText.charCodeAt(index))) {
      insert = oldText.charAt(index - 1) + insert;
      index -= 1;
      deleteCount += 1;
    }
    const end = index + deleteCount;
    if (end > 0 && isHigh(oldText.charCodeAt(end - 1)) && isLow(oldText.charCodeAt(end))) {
      insert += oldText.charAt(end);
      deleteCount += 1;
    }
    widened.push({ index, deleteCount, insert });
  }
  return mergeTouching(widened);
}

/**
 * Merges edits that touch (ascending input where an edit starts at or after the end of the one
 * before): `{0, 2, 'x'}` and `{2, 1, 'y'}` become `{0, 3, 'xy'}`.
 */
function mergeTouching(edits: readonly TextEdit[]): TextEdit[] {
  const out: TextEdit[] = [];
  for (const edit of edits) {
    const last = out[out.length - 1];
    if (last !== undefined && edit.index <= last.index + last.deleteCount) {
      out[out.length - 1] = {
        index: last.index,
        deleteCount: edit.index + edit.deleteCount - last.index,
        insert: last.insert + edit.insert,
      };
    } else {
      out.push(edit);
    }
  }
  return out;
}

function pushCharEdits(out: TextEdit[], oldMid: string, newMid: string, offset: number): void {
  if (oldMid.length === 0 && newMid.length === 0) return;
  if (oldMid.length === 0 || newMid.length === 0) {
    out.push({ index: offset, deleteCount: oldMid.length, insert: newMid });
    return;
  }
  let pos = offset;
  let pending: { index: number; deleteCount: number; insert: string } | undefined;
  for (const [op, chunk] of fastDiff(oldMid, newMid)) {
    if (op === fastDiff.EQUAL) {
      if (pending) out.push(pending);
      pending = undefined;
      pos += chunk.length;
    } else if (op === fastDiff.DELETE) {
      pending ??= { index: pos, deleteCount: 0, insert: '' };
      pending.deleteCount += chunk.length;
      pos += chunk.length;
    } else {
      pending ??= { index: pos, deleteCount: 0, insert: '' };
      pending.insert += chunk;
    }
  }
  if (pending) out.push(pending);
}

function lineModeEdits(
  out: TextEdit[],
  oldMid: string,
  newMid: string,
  offset: number,
  charDiffLimit: number,
  maxLineEdits: number,
): void {
  const oldLines = splitLines(oldMid);
  const newLines = splitLines(newMid);
  const ids = new Map<string, number>();
  const idOf = (line: string): number => {
    let id = ids.get(line);
    if (id === undefined) {
      id = ids.size;
      ids.set(line, id);
    }
    return id;
  };
  const a = Int32Array.from(oldLines, idOf);
  const b = Int32Array.from(newLines, idOf);
  const script = boundedMyers(a, b, maxLineEdits) ?? patienceScript(a, b, maxLineEdits);
  if (script === undefined) {
    out.push({ index: offset, deleteCount: oldMid.length, insert: newMid });
    return;
  }
  // Walk the line script; each run of deleted/inserted lines is one block.
  const oldStarts = lineStarts(oldLines, offset);
  const newStarts = lineStarts(newLines, 0);
  let i = 0;
  let j = 0;
  let k = 0;
  while (k <= script.length) {
    const op = script[k];
    if (op === EQ) {
      i += 1;
      j += 1;
      k += 1;
      continue;
    }
    const i0 = i;
    const j0 = j;
    while (k < script.length && script[k] !== EQ) {
      if (script[k] === DEL) i += 1;
      else j += 1;
      k += 1;
    }
    if (i > i0 || j > j0) {
      const oldFrom = oldStarts[i0] ?? 0;
      const oldTo = oldStarts[i] ?? 0;
      const blockOld = oldMid.slice(oldFrom - offset, oldTo - offset);
      const blockNew = newMid.slice(newStarts[j0] ?? 0, newStarts[j] ?? 0);
      if (blockOld.length + blockNew.length <= charDiffLimit) {
        pushCharEdits(out, blockOld, blockNew, oldFrom);
      } else {
        out.push({ index: oldFrom, deleteCount: blockOld.length, insert: blockNew });
      }
    }
    if (k >= script.length) break;
  }
}

const EQ = 0;
const DEL = 1;
const INS = 2;

/**
 * Myers' O((N+M)·D) diff of two id sequences, giving up (undefined) past `maxEdits` insertions
 * plus deletions. Returns the edit script as EQ/DEL/INS steps.
 */
function boundedMyers(a: Int32Array, b: Int32Array, maxEdits: number): Uint8Array | undefined {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, maxEdits);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d += 1) {
    trace.push(v.slice(offset - d, offset + d + 1));
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && (v[offset + k - 1] ?? 0) < (v[offset + k + 1] ?? 0))) {
        x = v[offset + k + 1] ?? 0;
      } else {
        x = (v[offset + k - 1] ?? 0) + 1;
      }
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x += 1;
        y += 1;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return undefined;
  // Backtrack from (n, m) through the saved rows (trace[d] holds v before step d).
  const steps: number[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d -= 1) {
    const row = trace[d];
    if (row === undefined) return undefined;
    const at = (k: number): number => row[k + d] ?? 0;
    const k = x - y;
    const fromInsert = k === -d || (k !== d && at(k - 1) < at(k + 1));
    const prevK = fromInsert ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > (fromInsert ? prevX : prevX + 1) && y > (fromInsert ? prevY + 1 : prevY)) {
      steps.push(EQ);
      x -= 1;
      y -= 1;
    }
    steps.push(fromInsert ? INS : DEL);
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    steps.push(EQ);
    x -= 1;
    y -= 1;
  }
  return Uint8Array.from(steps.reverse());
}

/**
 * A line script anchored on lines unique on both sides (patience diff), each gap between anchors
 * diffed by bounded Myers or, past the bound, deleted and inserted whole. `undefined` without
 * anchors.
 */
function patienceScript(a: Int32Array, b: Int32Array, maxEdits: number): Uint8Array | undefined {
  const countA = new Map<number, number>();
  const countB = new Map<number, number>();
  const posB = new Map<number, number>();
  for (const id of a) countA.set(id, (countA.get(id) ?? 0) + 1);
  b.forEach((id, j) => {
    countB.set(id, (countB.get(id) ?? 0) + 1);
    posB.set(id, j);
  });
  // Candidate pairs (i, j) in increasing i; keep the longest run increasing in j too.
  const pairs: [number, number][] = [];
  a.forEach((id, i) => {
    const j = posB.get(id);
    if (j !== undefined && countA.get(id) === 1 && countB.get(id) === 1) pairs.push([i, j]);
  });
  const anchors = longestIncreasing(pairs);
  if (anchors.length === 0) return undefined;
  const steps: number[] = [];
  let i0 = 0;
  let j0 = 0;
  const gap = (i1: number, j1: number): void => {
    const sub = boundedMyers(a.subarray(i0, i1), b.subarray(j0, j1), maxEdits);
    if (sub) {
      for (const step of sub) steps.push(step);
    } else {
      for (let i = i0; i < i1; i += 1) steps.push(DEL);
      for (let j = j0; j < j1; j += 1) steps.push(INS);
    }
  };
  for (const [i, j] of anchors) {
    gap(i, j);
    steps.push(EQ);
    i0 = i + 1;
    j0 = j + 1;
  }
  gap(a.length, b.length);
  return Uint8Array.from(steps);
}

/** The longest subsequence of `pairs` (sorted by first) whose seconds increase (O(n log n)). */
function longestIncreasing(pairs: readonly [number, number][]): [number, number][] {
  const tails: number[] = []; // index into pairs of the smallest tail of each length
  const prev = new Int32Array(pairs.length).fill(-1);
  pairs.forEach(([, j], k) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((pairs[tails[mid] ?? 0]?.[1] ?? 0) < j) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[k] = tails[lo - 1] ?? -1;
    tails[lo] = k;
  });
  const out: [number, number][] = [];
  for (let k = tails[tails.length - 1] ?? -1; k >= 0; k = prev[k] ?? -1) {
    const pair = pairs[k];
    if (pair) out.push(pair);
  }
  return out.reverse();
}

/** Lines with their terminators ("a\n", "b\r\n", "c"). */
function splitLines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    lines.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

/** Start offset of each line, plus the end offset, shifted by `offset`. */
function lineStarts(lines: readonly string[], offset: number): number[] {
  const starts = [offset];
  let pos = offset;
  for (const line of lines) {
    pos += line.length;
    starts.push(pos);
  }
  return starts;
}

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i += 1;
  return i;
}

function commonSuffixLength(a: string, b: string, prefix: number): number {
  const n = Math.min(a.length, b.length) - prefix;
  let i = 0;
  while (i < n && a.charCodeAt(a.length - 1 - i) === b.charCodeAt(b.length - 1 - i)) i += 1;
  return i;
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
