// Validates the two contract documents with their ecosystems' own parsers.
// .ci/run runs it from .ci/tools, where package.json pins the parsers and
// npm ci installs them:
//
//   (cd .ci/tools && npm ci && node ../../docs/tools/validate-contracts.mjs ../../docs)
//
// Exit status 0 when docs/asyncapi.yaml parses as AsyncAPI with no errors
// and docs/openapi.yaml validates as OpenAPI.
import path from 'node:path';
import { createRequire } from 'node:module';

// The packages live where npm installed them (the current directory), not
// beside this file.
const require = createRequire(path.join(process.cwd(), 'noop.js'));
const { Parser, fromFile } = require('@asyncapi/parser');
const SwaggerParser = require('@apidevtools/swagger-parser');

const dir = process.argv[2] ?? 'docs';
let failed = false;

const { document, diagnostics } = await fromFile(new Parser(), path.join(dir, 'asyncapi.yaml')).parse();
for (const d of diagnostics) {
  console.log(`asyncapi ${['error', 'warning', 'info', 'hint'][d.severity]}: ${d.code}: ${d.message} at ${d.path.join('.')}`);
}
const errors = diagnostics.filter((d) => d.severity === 0).length;
if (!document || errors > 0) {
  failed = true;
  console.log(`asyncapi.yaml: INVALID (${errors} errors)`);
} else {
  console.log(`asyncapi.yaml: AsyncAPI ${document.version()}, ${document.channels().length} channels, ${document.messages().length} messages, no errors`);
}

try {
  const api = await SwaggerParser.validate(path.join(dir, 'openapi.yaml'));
  console.log(`openapi.yaml: OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths, valid`);
} catch (e) {
  failed = true;
  console.log(`openapi.yaml: INVALID: ${e.message}`);
}
process.exit(failed ? 1 : 0);
