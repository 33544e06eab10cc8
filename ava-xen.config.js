// The tests that need the Xen lab (QEMU + Xen, scripts/xen-lab/): `npm run test:xen` (gridhost end to
// end on Xen), `test:xen:failures`, `test:xen:all` (every file). One at a time:
// each boots its own emulated machine on the 2 shared cores.
export default {
  files: ['test/xen/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  // Above each test's own limit (t.timeout), so a slow test fails with the phases it reached.
  timeout: '20m',
  concurrency: 1,
  serial: true,
};
