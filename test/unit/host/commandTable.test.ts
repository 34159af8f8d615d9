import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMMAND_CATEGORY, COMMAND_TABLE } from '../../../src/host/commandTable';

interface ContributedCommand {
  command: string;
  title: string;
  category?: string;
}

describe('host command table', () => {
  const root = path.join(__dirname, '../../..');
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { commands: ContributedCommand[] };
  };
  const nls = JSON.parse(readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<
    string,
    string
  >;
  /** A `%key%` placeholder resolved through package.nls.json, as VS Code does. */
  const resolve = (text: string): string => {
    const key = /^%(.+)%$/.exec(text)?.[1];
    if (key === undefined) return text;
    const value = nls[key];
    assert.ok(value !== undefined, `package.nls.json has no ${key}`);
    return value;
  };

  it('package.json contributes exactly the commands of the table, with the same titles', () => {
    const declared = pkg.contributes.commands
      .map((c) => `${c.command}|${resolve(c.title)}|${resolve(c.category ?? '')}`)
      .sort();
    const registered = COMMAND_TABLE.map((c) => `${c.id}|${c.title}|${COMMAND_CATEGORY}`).sort();
    assert.deepEqual(declared, registered);
  });

  it('every command title is a %key% placeholder (localisable)', () => {
    for (const c of pkg.contributes.commands)
      assert.match(c.title, /^%command\.[A-Za-z]+\.title%$/);
  });

  it('has unique ids, all under the twinspace. prefix', () => {
    const ids = COMMAND_TABLE.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^twinspace\.[a-zA-Z]+$/);
  });
});
