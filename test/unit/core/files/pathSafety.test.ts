import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as fc from 'fast-check';
import {
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  ancestorPaths,
  checkRelativePath,
  foldPath,
  isSafeRelativePath,
  isSameOrInside,
  parentPath,
  utf8Length,
} from '../../../../src/core/files/pathSafety';
import type { PathStyle } from '../../../../src/core/files/pathSafety';

function codes(p: string, style: PathStyle = 'posix'): string[] {
  return checkRelativePath(p, style).map((v) => v.code);
}

describe('pathSafety', () => {
  describe('hostile paths are refused with a stable code', () => {
    const cases: [string, PathStyle, string][] = [
      ['', 'posix', 'path_empty'],
      ['../x', 'posix', 'path_traversal'],
      ['..', 'posix', 'path_traversal'],
      ['a/../../x', 'posix', 'path_traversal'],
      ['a/..', 'posix', 'path_traversal'],
      ['a/../b', 'posix', 'path_traversal'],
      ['/etc/passwd', 'posix', 'path_absolute'],
      ['//server/share', 'posix', 'path_absolute'],
      ['./a', 'posix', 'path_dot_segment'],
      ['a/./b', 'posix', 'path_dot_segment'],
      ['a//b', 'posix', 'path_empty_segment'],
      ['a/', 'posix', 'path_empty_segment'],
      ['a\u0000b', 'posix', 'control_character'],
      ['a\nb', 'posix', 'control_character'],
      ['a\u001fb', 'posix', 'control_character'],
      ['a\u007fb', 'posix', 'control_character'],
      ['bad\ud800name', 'posix', 'invalid_unicode'],
      ['x'.repeat(MAX_NAME_BYTES + 1), 'posix', 'name_too_long'],
      ['é'.repeat(128), 'posix', 'name_too_long'], // 256 bytes in UTF-8
      [Array.from({ length: 2100 }, () => 'ab').join('/'), 'posix', 'path_too_long'],
      // Windows-style input: backslashes are separators.
      ['..\\x', 'windows', 'path_traversal'],
      ['a\\..\\..\\x', 'windows', 'path_traversal'],
      ['a/..\\..\\x', 'windows', 'path_traversal'],
      ['\\x', 'windows', 'path_absolute'],
      ['\\\\server\\share\\x', 'windows', 'path_absolute'],
      ['C:\\Windows\\x', 'windows', 'path_absolute'],
      ['C:x', 'windows', 'path_absolute'],
      ['c:/x', 'windows', 'path_absolute'],
      ['a\\\\b', 'windows', 'path_empty_segment'],
      ['CON', 'windows', 'reserved_name'],
      ['con.txt', 'windows', 'reserved_name'],
      ['dir/NUL', 'windows', 'reserved_name'],
      ['COM1', 'windows', 'reserved_name'],
      ['lpt9.log', 'windows', 'reserved_name'],
      ['AUX .c', 'windows', 'reserved_name'],
      ['CONOUT$', 'windows', 'reserved_name'],
      ['name.', 'windows', 'trailing_dot_or_space'],
      ['name ', 'windows', 'trailing_dot_or_space'],
      ['dir./x', 'windows', 'trailing_dot_or_space'],
      ['a:b', 'windows', 'reserved_character'],
      ['what?', 'windows', 'reserved_character'],
      ['a|b', 'windows', 'reserved_character'],
      ['a<b>', 'windows', 'reserved_character'],
    ];
    for (const [p, style, code] of cases) {
      it(`${JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}…` : p)} (${style}) → ${code}`, () => {
        assert.ok(codes(p, style).includes(code), `got ${JSON.stringify(codes(p, style))}`);
        assert.equal(isSafeRelativePath(p, style), false);
        for (const v of checkRelativePath(p, style)) assert.ok(v.message.length > 0);
      });
    }
  });

  describe('ordinary paths are accepted', () => {
    const ok: [string, PathStyle][] = [
      ['a', 'posix'],
      ['src/index.ts', 'posix'],
      ['.gitignore', 'posix'],
      ['..foo', 'posix'],
      ['a/..b/c...', 'posix'],
      ['x'.repeat(MAX_NAME_BYTES), 'posix'],
      ['weird\\name', 'posix'], // a backslash is a plain character on posix
      ['CON', 'posix'], // Windows rules only for the windows style
      ['name.', 'posix'],
      ['ünïcödé/文件.txt', 'posix'],
      ['😀/emoji', 'posix'],
      ['src\\index.ts', 'windows'],
      ['console.log', 'windows'],
      ['COM10', 'windows'],
      ['.env', 'windows'],
    ];
    for (const [p, style] of ok) {
      it(`${JSON.stringify(p.length > 40 ? `${p.slice(0, 40)}…` : p)} (${style})`, () => {
        assert.deepEqual(codes(p, style), []);
      });
    }
    it('a path of exactly the byte limit is accepted', () => {
      const name = 'n'.repeat(99);
      const p = Array.from({ length: 41 }, () => name).join('/'); // 41*99 + 40 = 4099
      assert.ok(utf8Length(p) > MAX_PATH_BYTES);
      const fits = p.slice(0, MAX_PATH_BYTES);
      assert.equal(utf8Length(fits), MAX_PATH_BYTES);
      assert.ok(!codes(fits).includes('path_too_long'));
    });
  });

  it('utf8Length agrees with Buffer.byteLength', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        assert.equal(utf8Length(s), Buffer.byteLength(s, 'utf8'));
      }),
      { numRuns: 300 },
    );
  });

  it('posix helpers', () => {
    assert.equal(parentPath('a/b/c'), 'a/b');
    assert.equal(parentPath('a'), '');
    assert.deepEqual(ancestorPaths('a/b/c'), ['a', 'a/b']);
    assert.deepEqual(ancestorPaths('a'), []);
    assert.ok(isSameOrInside('a', 'a/b'));
    assert.ok(isSameOrInside('a', 'a'));
    assert.ok(!isSameOrInside('a', 'ab'));
    assert.equal(foldPath('Ä/B', true), foldPath('a\u0308/b', true));
    assert.notEqual(foldPath('A', false), foldPath('a', false));
  });

  describe('property: no accepted path leaves the folder', () => {
    // Segments chosen to provoke escapes: dots, separators of both kinds, drive letters, roots.
    const segment = fc.oneof(
      fc.constantFrom('..', '.', '', 'a', 'b', 'C:', 'c:', '\\', '/', '..\\..', '~', ' ', '...'),
      fc.string({ maxLength: 6 }),
      fc.stringMatching(/^[a-z./\\:]{1,6}$/),
    );
    const separator = fc.constantFrom('/', '\\', '//', '/\\');
    const candidate = fc
      .tuple(fc.array(segment, { minLength: 1, maxLength: 8 }), separator, fc.boolean())
      .map(([segments, sep, lead]) => (lead ? sep : '') + segments.join(sep));

    it('posix style: normalising root/path always stays under root', () => {
      const root = '/srv/folder';
      fc.assert(
        fc.property(candidate, (p) => {
          if (!isSafeRelativePath(p, 'posix')) return;
          const resolved = path.posix.resolve(root, p);
          assert.ok(resolved.startsWith(`${root}/`), `${JSON.stringify(p)} → ${resolved}`);
          // Canonical: resolving changes nothing but the root.
          assert.equal(resolved, `${root}/${p}`);
        }),
        { numRuns: 3000 },
      );
    });

    it('windows style: win32 resolution always stays under the root', () => {
      const root = 'D:\\work\\folder';
      fc.assert(
        fc.property(candidate, (p) => {
          if (!isSafeRelativePath(p, 'windows')) return;
          const resolved = path.win32.resolve(root, p);
          assert.ok(
            resolved.toLowerCase().startsWith(`${root.toLowerCase()}\\`),
            `${JSON.stringify(p)} → ${resolved}`,
          );
          // A posix device receiving the same path also keeps it inside.
          assert.ok(path.posix.resolve('/srv/folder', p).startsWith('/srv/folder/'));
        }),
        { numRuns: 3000 },
      );
    });

    it('the generator does produce accepted and escaping paths (the test can fail)', () => {
      const samples = fc.sample(candidate, { numRuns: 3000, seed: 42 });
      assert.ok(samples.some((p) => isSafeRelativePath(p, 'posix')));
      assert.ok(samples.some((p) => isSafeRelativePath(p, 'windows')));
      assert.ok(
        samples.some((p) => !path.posix.resolve('/srv/folder', p).startsWith('/srv/folder/')),
      );
    });
  });
});
