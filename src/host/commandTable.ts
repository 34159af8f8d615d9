/**
 * The commands Twinspace contributes, as one table (rust-analyzer style). package.json's
 * `contributes.commands` must list exactly these (a unit test checks it), and src/host/commands.ts
 * registers exactly these (its handler map is typed by `CommandId`, so a missing one does not
 * compile). This file must not import `vscode` so that plain Node tests can read it.
 */
export const COMMAND_TABLE = [
  { id: 'twinspace.openSyncPanel', title: 'Open Sync Panel', icon: '$(sync)' },
  { id: 'twinspace.openGraph', title: 'Open Workspace Graph', icon: '$(type-hierarchy)' },
  { id: 'twinspace.showStatus', title: 'Show Device Sync Status', icon: '$(info)' },
  { id: 'twinspace.showLog', title: 'Show Log', icon: '$(output)' },
  { id: 'twinspace.restartDeviceSync', title: 'Restart Device Sync', icon: '$(debug-restart)' },
  { id: 'twinspace.pairDevice', title: 'Pair a Device…', icon: '$(link)' },
  { id: 'twinspace.forgetDevice', title: 'Forget a Device…', icon: '$(trash)' },
  {
    id: 'twinspace.linkWorkspace',
    title: "Link This Folder to a Device's Workspace…",
    icon: '$(link)',
  },
  { id: 'twinspace.addPeerAddress', title: 'Add a Device by Address…', icon: '$(add)' },
  { id: 'twinspace.pauseDevice', title: 'Pause a Device…', icon: '$(debug-pause)' },
  { id: 'twinspace.resumeDevice', title: 'Resume a Device…', icon: '$(debug-start)' },
  { id: 'twinspace.waitUntilInSync', title: 'Wait Until Files Are in Sync', icon: '$(pass)' },
  {
    id: 'twinspace.continueOnThisDevice',
    title: 'Continue on This Device…',
    icon: '$(multiple-windows)',
  },
] as const;

export const COMMAND_CATEGORY = 'Twinspace';

export type CommandId = (typeof COMMAND_TABLE)[number]['id'];
