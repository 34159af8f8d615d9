import type * as vscode from 'vscode';
import type { DiagnosticSink } from '../runtime/Diagnostics';

/** Feeds diagnostics into the "Twinspace" LogOutputChannel, one line each: `[channel] message`. */
export function createLogSink(channel: vscode.LogOutputChannel): DiagnosticSink {
  return (event) => {
    const data = event.data !== undefined ? ` ${JSON.stringify(event.data)}` : '';
    const line = `[${event.channel}] ${event.message}${data}`;
    switch (event.severity) {
      case 'error':
        channel.error(line);
        break;
      case 'warn':
        channel.warn(line);
        break;
      default:
        channel.info(line);
    }
  };
}
