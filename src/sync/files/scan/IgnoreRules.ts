/**
 * Which paths of a synced folder are not synced: the defaults, then `.gitignore` and
 * `.twinspaceignore` files at any depth, with git's semantics (matching is done by the `ignore`
 * library, the matcher eslint and others use):
 *  - the rules of a file in directory D apply to paths below D, relative to D;
 *  - deeper files override shallower ones, and in one directory `.twinspaceignore` overrides
 *    `.gitignore` (so a root `.twinspaceignore` with `!.env` syncs a git-ignored `.env`);
 *  - a path inside an ignored directory is ignored whatever later rules say (git cannot
 *    re-include a file whose directory is excluded; neither can we).
 * The defaults cannot be overridden: `.git` (directory, or the file of a submodule), the Twinspace state folder (`.twinspace/` unless
 * configured) at any depth, and the orchestrator's temp files (`.twinspace-<hex>.tmp`).
 * `node_modules/` is not a default: it is ignored when a `.gitignore` says so (as it usually does).
 *
 * Paths are folder-relative, `/`-separated, without a leading `./` or `/`.
 */
import ignore, { type Ignore } from 'ignore';
import { TwinspaceError } from '../../../core/errors';

export const GITIGNORE = '.gitignore';
export const TWINSPACEIGNORE = '.twinspaceignore';
/** The rule files, in the order their rules apply within one directory. */
export const IGNORE_FILE_NAMES = [GITIGNORE, TWINSPACEIGNORE] as const;
export type IgnoreFileName = (typeof IGNORE_FILE_NAMES)[number];

export const DEFAULT_STATE_DIR_NAME = '.twinspace';

export interface IgnoreRulesOptions {
  /** Name of the Twinspace state folder, ignored at any depth. Default `.twinspace`. */
  readonly stateDirName?: string;
  /** More patterns with default force (settings), in .gitignore syntax, relative to the root. */
  readonly extraPatterns?: readonly string[];
  /**
   * Match case-insensitively. Default false (git's default on Linux); every device of a
   * workspace must use the same value or they disagree on what syncs.
   */
  readonly ignoreCase?: boolean;
}

/** Why a path is ignored. */
export type IgnoreSource =
  | { readonly kind: 'default'; readonly pattern: string }
  | {
      readonly kind: 'file';
      /** The directory holding the rule file ('' for the root). */
      readonly dir: string;
      readonly file: IgnoreFileName;
      readonly pattern: string;
    };

export interface IgnoreVerdict {
  readonly ignored: boolean;
  /** The rule that decided it (only when ignored). */
  readonly source?: IgnoreSource;
}

interface RuleSet {
  readonly file: IgnoreFileName;
  readonly text: string;
  readonly matcher: Ignore;
}

export class IgnoreRules {
  private readonly defaults: Ignore;
  private readonly defaultPatterns: readonly string[];
  /** dir → its rule files, in application order. */
  private readonly byDir = new Map<string, RuleSet[]>();
  private readonly dirCache = new Map<string, IgnoreVerdict>();
  private readonly ignoreCase: boolean;

  constructor(options: IgnoreRulesOptions = {}) {
    const stateDir = options.stateDirName ?? DEFAULT_STATE_DIR_NAME;
    this.defaultPatterns = [
      '.git',
      `${stateDir.replace(/\/+$/, '')}/`,
      '.twinspace-*.tmp',
      ...(options.extraPatterns ?? []),
    ];
    this.ignoreCase = options.ignoreCase ?? false;
    this.defaults = ignore({ ignorecase: this.ignoreCase }).add([...this.defaultPatterns]);
  }

  /** The patterns that always apply. */
  get defaultRules(): readonly string[] {
    return this.defaultPatterns;
  }

  /**
   * Sets (or with `undefined`, removes) the rules of the file `file` in directory `dir` ('' for
   * the root). Returns whether anything changed.
   */
  setRules(dir: string, file: IgnoreFileName, text: string | undefined): boolean {
    const key = normalizeDir(dir);
    const existing = this.byDir.get(key) ?? [];
    if (existing.find((s) => s.file === file)?.text === text) return false;
    const sets = existing.filter((s) => s.file !== file);
    if (text !== undefined) {
      sets.push({ file, text, matcher: ignore({ ignorecase: this.ignoreCase }).add(text) });
    }
    sets.sort((a, b) => IGNORE_FILE_NAMES.indexOf(a.file) - IGNORE_FILE_NAMES.indexOf(b.file));
    if (sets.length === 0) this.byDir.delete(key);
    else this.byDir.set(key, sets);
    this.dirCache.clear();
    return true;
  }

  /** Directories that have rule files loaded. */
  ruleDirs(): string[] {
    return [...this.byDir.keys()].sort();
  }

  /**
   * Whether `path` (a file, or a directory when `isDirectory`) is ignored. Throws `validation`
   * for a path with a `..` segment (callers pass canonical folder-relative paths).
   */
  isIgnored(path: string, isDirectory = false): boolean {
    return this.check(path, isDirectory).ignored;
  }

  /** Like {@link isIgnored}, with the rule that decided. */
  check(path: string, isDirectory = false): IgnoreVerdict {
    const parts = splitPath(path);
    if (parts.includes('..')) {
      throw new TwinspaceError('validation', `not a folder-relative path: ${path}`);
    }
    if (parts.length === 0) return NOT_IGNORED; // the root itself
    // An ignored ancestor directory decides for everything below it.
    let dir = '';
    for (let i = 0; i < parts.length - 1; i += 1) {
      dir = dir === '' ? (parts[i] ?? '') : `${dir}/${parts[i] ?? ''}`;
      const verdict = this.checkDir(dir);
      if (verdict.ignored) return verdict;
    }
    return this.checkOwn(parts, isDirectory);
  }

  private checkDir(dir: string): IgnoreVerdict {
    const cached = this.dirCache.get(dir);
    if (cached) return cached;
    const verdict = this.checkOwn(splitPath(dir), true);
    this.dirCache.set(dir, verdict);
    return verdict;
  }

  /** The verdict for the path itself, ancestors assumed not ignored. */
  private checkOwn(parts: readonly string[], isDirectory: boolean): IgnoreVerdict {
    const full = parts.join('/') + (isDirectory ? '/' : '');
    const byDefault = this.defaults.test(full);
    if (byDefault.ignored) {
      return {
        ignored: true,
        source: { kind: 'default', pattern: byDefault.rule?.pattern ?? '' },
      };
    }
    let verdict: IgnoreVerdict = NOT_IGNORED;
    let dir = '';
    for (let depth = 0; depth < parts.length; depth += 1) {
      const sets = this.byDir.get(dir);
      if (sets) {
        const rel = parts.slice(depth).join('/') + (isDirectory ? '/' : '');
        for (const set of sets) {
          const result = set.matcher.test(rel);
          if (result.ignored) {
            verdict = {
              ignored: true,
              source: { kind: 'file', dir, file: set.file, pattern: result.rule?.pattern ?? '' },
            };
          } else if (result.unignored) {
            verdict = NOT_IGNORED;
          }
        }
      }
      const part = parts[depth] ?? '';
      dir = dir === '' ? part : `${dir}/${part}`;
    }
    return verdict;
  }
}

const NOT_IGNORED: IgnoreVerdict = { ignored: false };

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

function normalizeDir(dir: string): string {
  return splitPath(dir).join('/');
}
