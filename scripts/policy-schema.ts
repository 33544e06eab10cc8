// npm run schema: write schema/policy.schema.json, the JSON Schema of policy files built from
// the validator (src/policy/policy-schema.ts). test/policy/policy-schema.test.ts fails when the
// file in the repo is not what this writes.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { policySchema } from '../src/policy/policy-schema.ts';

export const SCHEMA_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'policy.schema.json');

export function schemaText(): string {
  return `${JSON.stringify(policySchema(), null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, schemaText());
  console.log(`wrote ${SCHEMA_FILE}`);
}
