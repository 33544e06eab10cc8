// The worker thread of policy-checker.ts: checks policy text posted to it, one message at a
// time, with the settings it was started with; answers carry at most WORKER_MAX_ISSUES issues.
import { parentPort, workerData } from 'node:worker_threads';
import { capIssues, checkWithDeps, type CheckSettings } from './policy-checker.ts';

const settings = workerData as CheckSettings;

// Loaded: checks may be timed from now.
parentPort?.postMessage({ ready: true });

parentPort?.on('message', (m: { id: number; text: string; file: string }) => {
  try {
    parentPort?.postMessage({ id: m.id, outcome: capIssues(checkWithDeps(m.text, m.file, settings)) });
  } catch (e) {
    parentPort?.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
