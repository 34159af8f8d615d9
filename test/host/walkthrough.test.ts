/**
 * Host test: the Getting Started walkthrough and the settings are contributed by the installed
 * extension (read from its manifest), each step's command is registered, its Markdown is in the
 * VSIX, and the status bar carries a Markdown tooltip.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXTENSION_ID, twinspaceApi, twinspaceExtension } from './twinspaceApi';

interface Step {
  readonly id: string;
  readonly media?: { readonly markdown?: string };
  readonly completionEvents?: readonly string[];
}

function walkthroughs(): { id: string; steps: Step[] }[] {
  const manifest = twinspaceExtension().packageJSON as {
    contributes?: { walkthroughs?: { id: string; steps: Step[] }[] };
  };
  return manifest.contributes?.walkthroughs ?? [];
}

describe('walkthrough and settings', () => {
  before(async () => {
    await twinspaceApi();
  });

  it('contributes the Device Sync walkthrough with pair, link and status steps', () => {
    const walk = walkthroughs().find((w) => w.id === 'twinspace.deviceSync');
    assert.ok(walk, `walkthroughs: ${JSON.stringify(walkthroughs().map((w) => w.id))}`);
    assert.deepEqual(
      walk.steps.map((s) => s.completionEvents),
      [
        ['onCommand:twinspace.pairDevice'],
        ['onCommand:twinspace.linkWorkspace'],
        ['onCommand:twinspace.openSyncPanel'],
      ],
    );
  });

  it("every step's command is registered and its Markdown is packaged", async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const root = twinspaceExtension().extensionPath;
    for (const w of walkthroughs()) {
      for (const step of w.steps) {
        for (const event of step.completionEvents ?? []) {
          const command = event.replace(/^onCommand:/, '');
          assert.ok(registered.has(command), `${step.id}: ${command} is not registered`);
        }
        const md = step.media?.markdown;
        assert.ok(md !== undefined, `${step.id} has no markdown`);
        assert.ok(fs.existsSync(path.join(root, md)), `${md} is not in the VSIX`);
      }
    }
  });

  it('the walkthrough opens in the workbench', async () => {
    await vscode.commands.executeCommand(
      'workbench.action.openWalkthrough',
      `${EXTENSION_ID}#twinspace.deviceSync`,
      false,
    );
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('the new settings are registered with their defaults', () => {
    const config = vscode.workspace.getConfiguration('twinspace');
    assert.equal(config.inspect('syncUnsavedEdits')?.defaultValue, true);
    assert.equal(config.inspect('maxFileSizeMB')?.defaultValue, 50);
    assert.equal(config.inspect('tabBudget')?.defaultValue, 20);
    assert.equal(config.inspect('wan.signalingUrl')?.defaultValue, '');
  });

  it('the status bar tooltip is Markdown that starts with the status line', async () => {
    const api = await twinspaceApi();
    const tooltip = api.statusTooltip();
    assert.match(tooltip, /^\*\*Twinspace: /, tooltip);
  });
});
