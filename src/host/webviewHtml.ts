import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** A page of one of the extension's webviews (Sync Panel, Workspace Graph). */
export interface WebviewPage {
  /** The document's title (plain text, not escaped). */
  readonly title: string;
  /** Markup between the title and the inline style; `asset` gives a file under dist/webview. */
  readonly head?: (asset: (...parts: string[]) => string) => string;
  /** The inline stylesheet, allowed by the page's nonce. */
  readonly css: string;
  /** Attributes of `<body>`; values are escaped. */
  readonly bodyAttributes: Readonly<Record<string, string>>;
  /** Attributes of `<main id="app">`, which shows "Loading…" until the script runs; escaped. */
  readonly mainAttributes: Readonly<Record<string, string>>;
  /** The bundled script, a file name under dist/webview. */
  readonly script: string;
}

/** Scripts on, and only the built webview files (scripts, codicons) loadable. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview')],
  };
}

/**
 * The HTML of a webview page: a fresh nonce, a CSP allowing only that nonce's script and style
 * plus the webview's own resources, theme colours through the inline style, the bundled script.
 */
export function webviewHtml(
  webview: vscode.Webview,
  extensionUri: vscode.Uri,
  page: WebviewPage,
): string {
  const nonce = randomBytes(16).toString('base64');
  const asset = (...parts: string[]): string =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', ...parts)).toString();
  const csp = [
    "default-src 'none'",
    `style-src ${webview.cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `img-src ${webview.cspSource} data:`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${page.title}</title>
${page.head?.(asset) ?? ''}<style nonce="${nonce}">${page.css}</style>
</head>
<body${attributes(page.bodyAttributes)}>
<main id="app"${attributes(page.mainAttributes)}><p class="muted">Loading…</p></main>
<script nonce="${nonce}" src="${asset(page.script)}"></script>
</body>
</html>`;
}

function attributes(values: Readonly<Record<string, string>>): string {
  const escape = (s: string): string => s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
  return Object.entries(values)
    .map(([name, value]) => ` ${name}="${escape(value)}"`)
    .join('');
}
