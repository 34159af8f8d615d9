/**
 * Harness canary (NOT part of the product's suite): a test that never finishes, with mocha's own
 * timeout turned off. The launcher's deadline must end the run and report a failure.
 */
describe('hang canary', () => {
  it('never completes', function () {
    this.timeout(0);
    return new Promise<void>(() => {
      // Never settles.
    });
  });
});
