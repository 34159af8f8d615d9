/**
 * Harness canary (NOT part of the product's suite): one test passes, one fails on purpose. The
 * harness self-test runs this suite and requires the launcher to report exactly this failure and
 * exit non-zero; if it ever reports success, the harness is hiding failures.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

describe('canary', () => {
  it('passes inside the extension host', () => {
    assert.equal(typeof vscode.version, 'string');
  });

  it('fails on purpose', () => {
    assert.equal(1 + 1, 3, 'deliberate canary failure');
  });
});
