import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Intent } from '../core/intents';
import { nodeIdOf } from './GraphPanel';

/**
 * Records the workspace graph's traversals: each time the active editor moves to a workspace
 * file, a VisitNode intent (the file, and the file the user came from as the edge's source).
 */
export class GraphVisits implements vscode.Disposable {
  private previous: string | undefined;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly dispatch: (intent: Intent) => Promise<void> | undefined) {
    this.subscription = vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor) this.visit(editor.document.uri);
    });
    const active = vscode.window.activeTextEditor;
    if (active) this.visit(active.document.uri);
  }

  private visit(uri: vscode.Uri): void {
    const nodeId = nodeIdOf(uri);
    if (nodeId === undefined || nodeId === this.previous) return;
    const from = this.previous;
    this.previous = nodeId;
    const intent: Intent = {
      type: 'VisitNode',
      nodeId,
      kind: 'file',
      label: path.posix.basename(nodeId),
      ...(from !== undefined ? { from, edge: 'navigation' as const } : {}),
    };
    // A refused visit (the source node not replicated yet) must not break the editor.
    void this.dispatch(intent)?.catch(() => undefined);
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
