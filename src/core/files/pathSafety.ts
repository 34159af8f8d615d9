/**
 * Relative paths inside a synced folder: the checks that keep a path inside it, and a few small
 * posix-path helpers. Pure string logic (no `node:path`): the core ring has no Node.
 *
 * A plan path is *canonical*: relative to the folder root, `/`-separated, no empty, `.` or `..`
 * segment, no leading or trailing `/`. Anything else is refused rather than normalised, so a path
 * can never be made to mean something other than what it says (`a/../../x`, `/etc/passwd`, `C:x`).
 *
 * Path styles:
 *  - `posix`: `/` is the only separator; a backslash is an ordinary character in a name.
 *  - `windows`: `\` is a separator too (so `..\x` is a traversal), drive letters (`C:`), UNC and
 *    rooted paths are absolute, and Windows' own rules apply to each name: no reserved device
 *    names (CON, PRN, AUX, NUL, COM0-9, LPT0-9, CONIN$, CONOUT$, with or without an extension), no
 *    name ending in a dot or a space, none of `<>:"|?*`.
 * In both styles: no control character (U+0000-U+001F, U+007F), no unpaired surrogate, at most
 * {@link MAX_NAME_BYTES} UTF-8 bytes per name and {@link MAX_PATH_BYTES} for the whole path.
 */

export type PathStyle = 'posix' | 'windows';

export type PathViolationCode =
  | 'path_empty'
  | 'path_absolute'
  | 'path_traversal'
  | 'path_dot_segment'
  | 'path_empty_segment'
  | 'control_character'
  | 'invalid_unicode'
  | 'name_too_long'
  | 'path_too_long'
  | 'reserved_name'
  | 'reserved_character'
  | 'trailing_dot_or_space';

export interface PathViolation {
  readonly code: PathViolationCode;
  readonly message: string;
}

/** Longest name (one path segment) in UTF-8 bytes: the common file-system limit. */
export const MAX_NAME_BYTES = 255;
/** Longest relative path in UTF-8 bytes (Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

const WINDOWS_RESERVED_STEM = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$/i;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const WINDOWS_RESERVED_CHARACTER = /[<>:"|?*]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Number of bytes of `text` in UTF-8 (unpaired surrogates count as the 3-byte U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

function violation(code: PathViolationCode, message: string): PathViolation {
  return { code, message };
}

function quote(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/**
 * Every reason `path` is not a safe canonical relative path in `style` (empty when it is). The
 * checks are independent, so a path may get several violations; the first one is the most
 * fundamental (structure before names).
 */
export function checkRelativePath(path: string, style: PathStyle = 'posix'): PathViolation[] {
  if (path.length === 0) return [violation('path_empty', 'the path is empty')];
  const found: PathViolation[] = [];
  const add = (code: PathViolationCode, message: string): void => {
    if (!found.some((v) => v.code === code)) found.push(violation(code, message));
  };
  const q = quote(path);
  if (isAbsolute(path, style)) add('path_absolute', `${q} is absolute, not relative to the folder`);
  if (CONTROL_CHARACTER.test(path)) add('control_character', `${q} contains a control character`);
  if (LONE_SURROGATE.test(path)) add('invalid_unicode', `${q} is not valid Unicode`);
  if (utf8Length(path) > MAX_PATH_BYTES) {
    add('path_too_long', `the path is longer than ${MAX_PATH_BYTES} bytes`);
  }
  const segments = splitSegments(path, style);
  segments.forEach((segment, index) => {
    if (segment === '') {
      // A leading empty segment is the absolute path already reported.
      if (index > 0 || !found.some((v) => v.code === 'path_absolute')) {
        add('path_empty_segment', `${q} has an empty segment (a doubled or trailing separator)`);
      }
      return;
    }
    if (segment === '..') {
      add('path_traversal', `${q} contains "..": it could leave the folder`);
      return;
    }
    if (segment === '.') {
      add('path_dot_segment', `${q} contains a "." segment`);
      return;
    }
    if (utf8Length(segment) > MAX_NAME_BYTES) {
      add('name_too_long', `a name in ${q} is longer than ${MAX_NAME_BYTES} bytes`);
    }
    if (style === 'windows') {
      const stem = (segment.split('.')[0] ?? '').replace(/ +$/, '');
      if (WINDOWS_RESERVED_STEM.test(stem)) {
        add('reserved_name', `${quote(segment)} is a reserved device name on Windows`);
      }
      if (segment.endsWith('.') || segment.endsWith(' ')) {
        add('trailing_dot_or_space', `${quote(segment)} ends with a dot or a space`);
      }
      if (WINDOWS_RESERVED_CHARACTER.test(segment)) {
        add('reserved_character', `${quote(segment)} contains one of <>:"|?*`);
      }
    }
  });
  return found;
}

/** True when `path` is a safe canonical relative path in `style`. */
export function isSafeRelativePath(path: string, style: PathStyle = 'posix'): boolean {
  return checkRelativePath(path, style).length === 0;
}

function isAbsolute(path: string, style: PathStyle): boolean {
  if (path.startsWith('/')) return true;
  if (style === 'windows') {
    // Rooted (\x), UNC (\\server), and drive-qualified paths, including drive-relative `C:x`.
    return path.startsWith('\\') || /^[A-Za-z]:/.test(path);
  }
  return false;
}

/** The segments of `path` split on the separators of `style` (no filtering). */
export function splitSegments(path: string, style: PathStyle = 'posix'): string[] {
  return style === 'windows' ? path.split(/[\\/]/) : path.split('/');
}

// ---- posix helpers over canonical paths (the plan's own form) ----

/** The parent of a canonical path; '' for a top-level name (the folder root). */
export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** The last segment of a canonical path. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Joins canonical segments ('' stands for the root and is dropped). */
export function joinPath(...parts: readonly string[]): string {
  return parts.filter((part) => part !== '').join('/');
}

/** Number of segments: 1 for a top-level name. */
export function pathDepth(path: string): number {
  let depth = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 0x2f) depth++;
  return depth;
}

/** The proper ancestors of a canonical path, outermost first: `a/b/c` → [`a`, `a/b`]. */
export function ancestorPaths(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

/** True when `path` is `ancestor` itself or lies under it. */
export function isSameOrInside(ancestor: string, path: string): boolean {
  return path === ancestor || path.startsWith(`${ancestor}/`);
}

/** The key under which a case-insensitive file system sees `path` (also Unicode-normalised). */
export function foldPath(path: string, caseInsensitive: boolean): string {
  return caseInsensitive ? path.normalize('NFC').toLowerCase() : path;
}
