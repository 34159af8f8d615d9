/**
 * Harness canary (NOT part of the product's suite): a suite that defines no test. The launcher must
 * treat "zero tests ran" as a failure, never as a pass.
 */
describe('empty canary', () => {
  // Intentionally no tests.
});
