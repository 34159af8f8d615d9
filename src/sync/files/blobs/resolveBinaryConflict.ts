/**
 * Which version of a binary file stays when two devices changed it concurrently, and which one
 * becomes the conflict copy. Pure and symmetric: both devices evaluate it on the same two
 * versions and reach the same answer without talking to each other, so they write the same
 * winner under the path and the same conflict copy next to it (named from the loser's device and
 * time, see `conflictCopyPath` in src/core/files/plan.ts). Nothing is lost either way.
 *
 * Order: the later modification time wins; on a tie, the higher device id; on the same device
 * and time (two concurrent sessions of one device), the higher hash. Clocks of different devices
 * may disagree: that only decides which version keeps the name, never whether one survives.
 */

export interface BinaryVersion {
  /** Full device id (the total order uses it). */
  readonly deviceId: string;
  /** The short, human-checkable id shown to people and used in conflict copy names. */
  readonly deviceShortId: string;
  /** SHA-256 of the content. */
  readonly hash: string;
  readonly size: number;
  /** When the device saw the change (epoch ms). */
  readonly mtimeMs: number;
}

export type BinaryConflictDecision =
  /** Both sides hold the same content: nothing to resolve. */
  | { readonly kind: 'same'; readonly version: BinaryVersion }
  | {
      readonly kind: 'conflict';
      /** Stays under the file's path. */
      readonly winner: BinaryVersion;
      /** Kept as a conflict copy next to it. */
      readonly loser: BinaryVersion;
      /** What names the copy: the loser's device and time. */
      readonly copy: { readonly deviceShortId: string; readonly at: number };
    };

/**
 * Decides between two concurrent versions (the argument order does not matter). A non-finite
 * time is taken as 0 (and returned so).
 */
export function resolveBinaryConflict(
  first: BinaryVersion,
  second: BinaryVersion,
): BinaryConflictDecision {
  const a = withFiniteTime(first);
  const b = withFiniteTime(second);
  if (a.hash === b.hash) {
    // Same content: keep the one the order prefers, so both devices record the same metadata.
    return { kind: 'same', version: compareVersions(a, b) >= 0 ? a : b };
  }
  const [winner, loser] = compareVersions(a, b) > 0 ? [a, b] : [b, a];
  return {
    kind: 'conflict',
    winner,
    loser,
    copy: { deviceShortId: loser.deviceShortId, at: loser.mtimeMs },
  };
}

/** Positive when `a` wins over `b`, negative when `b` wins, 0 only for identical keys. */
export function compareVersions(a: BinaryVersion, b: BinaryVersion): number {
  const ta = finiteTime(a.mtimeMs);
  const tb = finiteTime(b.mtimeMs);
  if (ta !== tb) return ta > tb ? 1 : -1;
  if (a.deviceId !== b.deviceId) return a.deviceId > b.deviceId ? 1 : -1;
  if (a.hash !== b.hash) return a.hash > b.hash ? 1 : -1;
  return 0;
}

function withFiniteTime(v: BinaryVersion): BinaryVersion {
  return Number.isFinite(v.mtimeMs) ? v : { ...v, mtimeMs: 0 };
}

/** A time that compares consistently (NaN or an infinity counts as 0). */
function finiteTime(ms: number): number {
  return Number.isFinite(ms) ? ms : 0;
}
