/**
 * Host test: the commands contributed in package.json and the commands the extension registers
 * are the same set (read from the installed manifest, never hard-coded here).
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { contributedCommands, isViewCommand, twinspaceApi } from './twinspaceApi';

describe('commands', () => {
  before(async () => {
    await twinspaceApi();
  });

  it('package.json contributes at least one command, each in the Twinspace category', () => {
    const commands = contributedCommands();
    assert.ok(commands.length > 0, 'contributes.commands is empty');
    for (const c of commands) {
      assert.match(c.command, /^twinspace\.[A-Za-z]+$/);
      assert.equal(c.category, 'Twinspace', `${c.command} category`);
      assert.ok(c.title.trim().length > 0, `${c.command} has an empty title`);
    }
    const ids = commands.map((c) => c.command);
    assert.equal(new Set(ids).size, ids.length, `duplicate command ids: ${ids.join(', ')}`);
  });

  it('every contributed command is registered', async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributedCommands()
      .map((c) => c.command)
      .filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], 'contributed but not registered');
  });

  it('every registered twinspace.* command is contributed', async () => {
    const contributed = new Set(contributedCommands().map((c) => c.command));
    const extra = (await vscode.commands.getCommands(true)).filter(
      (id) => id.startsWith('twinspace.') && !contributed.has(id) && !isViewCommand(id),
    );
    assert.deepEqual(extra, [], 'registered but not contributed');
  });
});
