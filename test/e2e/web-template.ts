// The local driver's template for the repo's example image (templates/images/web), as a test
// writes it beside its policy: server.mjs on the guest's loopback port, named after the guest,
// doing `workMs` of CPU work per request; `env` adds the server's other knobs (RATE_WINDOW_MS...).
export function webTemplate(workMs: number, env: Record<string, string> = {}): string {
  const vars = { HOST: '127.0.0.1', PORT: '{{port}}', GUEST_ID: '{{guest}}', WORK_MS: String(workMs), ...env };
  return `command: node
args: ["server.mjs"]
env:
${Object.entries(vars).map(([k, v]) => `  ${k}: "${v}"\n`).join('')}`;
}
