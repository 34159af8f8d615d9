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
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
    contributes: { commands: ContributedCommand[] };
  };

  it('package.json contributes exactly the commands of the table, with the same titles', () => {
    const declared = pkg.contributes.commands
      .map((c) => `${c.command}|${c.title}|${c.category ?? ''}`)
      .sort();
    const registered = COMMAND_TABLE.map((c) => `${c.id}|${c.title}|${COMMAND_CATEGORY}`).sort();
    assert.deepEqual(declared, registered);
  });

  it('has unique ids, all under the twinspace. prefix', () => {
    const ids = COMMAND_TABLE.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^twinspace\.[a-zA-Z]+$/);
  });
});
