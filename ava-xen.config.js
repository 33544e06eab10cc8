// `npm run test:xen`: the tests that need the Xen lab (QEMU + Xen, scripts/xen-lab/). One at a time:
// each boots its own emulated machine on the 2 shared cores.
export default {
  files: ['test/xen/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  timeout: '10m',
  concurrency: 1,
  serial: true,
};
