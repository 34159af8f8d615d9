/**
 * A deterministic workspace for the file-sync benchmark: the same seed and counts always give the
 * same paths, sizes and bytes.
 *
 * Layout (for `files` = N, default 10,000 in the bench):
 *  - 90% text files of 200 B–50 KB (log-uniform sizes), lines of pseudo-words, in nested folders;
 *  - 10% binary files of 20 KB–1 MB (log-uniform), bytes from AES-128-CTR keyed by the seed;
 *  - about N / 15 leaf folders, two or three levels deep;
 *  - a `.gitignore` holding `node_modules/`, and a `node_modules/` tree (about N / 20 small
 *    files) that no tool may copy (rsync `--exclude node_modules`, Syncthing `.stignore`,
 *    Twinspace through the `.gitignore`).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';

export interface GenerateOptions {
  /** Files outside `node_modules/` (the `.gitignore` counts as one of them). */
  readonly files: number;
  readonly seed: number;
  /** Fraction of binary files (default 0.1). */
  readonly binaryFraction?: number;
  /** Size ranges in bytes (defaults 200–50,000 and 20,000–1,000,000). */
  readonly textBytes?: readonly [number, number];
  readonly binaryBytes?: readonly [number, number];
}

export interface GeneratedFile {
  /** Relative, '/'-separated. */
  readonly path: string;
  readonly size: number;
  readonly kind: 'text' | 'binary' | 'ignored' | 'meta';
}

export interface GeneratedWorkspace {
  readonly root: string;
  /** Every file written, in creation order, ignored ones included. */
  readonly files: readonly GeneratedFile[];
  /** Relative paths of the text files (candidates for the change test). */
  readonly textFiles: readonly string[];
  readonly textCount: number;
  readonly binaryCount: number;
  readonly ignoredCount: number;
  readonly textBytes: number;
  readonly binaryBytes: number;
  readonly folders: number;
}

/** mulberry32: a small, fast, seedable PRNG (uniform in [0, 1)). */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Log-uniform integer in [lo, hi]. */
  logUniform(lo: number, hi: number): number {
    const v = Math.round(Math.exp(Math.log(lo) + this.next() * (Math.log(hi) - Math.log(lo))));
    return Math.min(hi, Math.max(lo, v));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

const TEXT_EXT = ['ts', 'md', 'json', 'txt', 'css', 'js', 'yaml'] as const;
const BINARY_EXT = ['png', 'bin', 'woff2', 'jpg', 'zip'] as const;
const SYLLABLES = ['ka', 'lo', 'mi', 'nu', 're', 'sa', 'ti', 'vo', 'ze', 'qu', 'an', 'el', 'or'];

function makeWords(rng: SeededRandom, count: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = rng.int(1, 4);
    let w = '';
    for (let j = 0; j < n; j++) w += rng.pick(SYLLABLES);
    words.push(w);
  }
  return words;
}

/** Exactly `size` bytes of ASCII text lines (pseudo-words, newline-terminated). */
export function makeText(rng: SeededRandom, words: readonly string[], size: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  let lineLength = 0;
  const indent = '  ';
  while (length < size) {
    let token: string;
    if (lineLength > 60 + rng.int(0, 30)) {
      token = '\n';
      lineLength = 0;
    } else if (lineLength === 0 && rng.next() < 0.3) {
      token = indent;
      lineLength += token.length;
    } else {
      token = (lineLength === 0 ? '' : ' ') + rng.pick(words);
      lineLength += token.length;
    }
    parts.push(token);
    length += token.length;
  }
  const text = Buffer.from(parts.join(''), 'latin1').subarray(0, size);
  // End on a newline, as most source files do.
  if (size > 0) text[size - 1] = 0x0a;
  return text;
}

/** Exactly `size` pseudo-random bytes, deterministic in (seed, index). */
export function makeBinary(seed: number, index: number, size: number): Buffer {
  const key = createHash('sha256').update(`twinspace-bench:${seed}:${index}`).digest();
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

function folderPaths(count: number): string[] {
  const folders: string[] = [];
  for (let k = 0; k < count; k++) {
    const top = `pkg${String(Math.floor(k / 24)).padStart(2, '0')}`;
    const mid = `mod${String(k % 24).padStart(2, '0')}`;
    folders.push(k % 3 === 0 ? `${top}/${mid}/lib` : `${top}/${mid}`);
  }
  return folders;
}

/** Writes the workspace under `root` (created if missing; it should be empty). */
export async function generateWorkspace(
  root: string,
  options: GenerateOptions,
): Promise<GeneratedWorkspace> {
  const total = Math.max(1, Math.floor(options.files));
  const rng = new SeededRandom(options.seed);
  const words = makeWords(rng, 2000);
  const [textLo, textHi] = options.textBytes ?? [200, 50_000];
  const [binLo, binHi] = options.binaryBytes ?? [20_000, 1_000_000];
  const binaryCount = Math.round((total - 1) * (options.binaryFraction ?? 0.1));
  const textCount = total - 1 - binaryCount;
  const folders = folderPaths(Math.max(1, Math.round(total / 15)));

  const files: GeneratedFile[] = [];
  const textFiles: string[] = [];
  const madeDirs = new Set<string>();
  const write = async (rel: string, data: Buffer, kind: GeneratedFile['kind']): Promise<void> => {
    const dir = path.posix.dirname(rel);
    if (dir !== '.' && !madeDirs.has(dir)) {
      await mkdir(path.join(root, dir), { recursive: true });
      madeDirs.add(dir);
    }
    await writeFile(path.join(root, rel), data);
    files.push({ path: rel, size: data.length, kind });
  };

  await mkdir(root, { recursive: true });
  await write('.gitignore', Buffer.from('node_modules/\n'), 'meta');

  // Interleave text and binary files so that every folder gets a mix.
  let textBytes = 0;
  let binaryBytes = 0;
  let t = 0;
  let b = 0;
  for (let i = 0; t + b < textCount + binaryCount; i++) {
    const binary = b < binaryCount && (t >= textCount || rng.next() < binaryCount / (total - 1));
    const folder = rng.pick(folders);
    if (binary) {
      const size = rng.logUniform(binLo, binHi);
      const rel = `${folder}/asset${String(b).padStart(5, '0')}.${rng.pick(BINARY_EXT)}`;
      await write(rel, makeBinary(options.seed, i, size), 'binary');
      binaryBytes += size;
      b++;
    } else {
      const size = rng.logUniform(textLo, textHi);
      const rel = `${folder}/file${String(t).padStart(5, '0')}.${rng.pick(TEXT_EXT)}`;
      await write(rel, makeText(rng, words, size), 'text');
      textFiles.push(rel);
      textBytes += size;
      t++;
    }
  }

  // The ignored tree: small package files, like a real node_modules.
  const ignoredCount = Math.max(10, Math.round(total / 20));
  for (let i = 0; i < ignoredCount; i++) {
    const pkg = `node_modules/dep${String(i % 40).padStart(2, '0')}`;
    const rel = i % 40 === i ? `${pkg}/package.json` : `${pkg}/lib/part${i}.js`;
    await write(rel, makeText(rng, words, rng.logUniform(100, 8_000)), 'ignored');
  }

  return {
    root,
    files,
    textFiles,
    textCount,
    binaryCount,
    ignoredCount,
    textBytes,
    binaryBytes,
    folders: madeDirs.size,
  };
}
