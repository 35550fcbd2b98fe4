// Writes thywill/static/thywill/thywill.mjs, the ES module build of the browser client, from
// thywill/static/thywill/thywill.js, its one source: the text between the two "module body"
// markers of thywill.js, as it is, then the named exports. No bundler, no dependency.
//
//   node scripts/build-client-module.mjs           writes thywill.mjs
//   node scripts/build-client-module.mjs --check   exits 1 when the committed thywill.mjs is
//                                                  not what it would write
//
// Why a generated file rather than one file for both (see also the head of thywill.js): a
// classic script cannot `export`, and a module that imported the script for its side effects
// could only read its functions back from a global. tests/js/module.test.mjs checks that the
// committed thywill.mjs is up to date, so `node --test tests/js/` (and ./dev lint) fails
// when thywill.js was changed and this was not run.
import {readFileSync, writeFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';

export const SCRIPT = new URL('../thywill/static/thywill/thywill.js', import.meta.url);
export const MODULE = new URL('../thywill/static/thywill/thywill.mjs', import.meta.url);
export const EXPORTS = ['connect', 'defaultClient', 'ThywillError', 'createSseParser'];

const BEGIN = '  // === module body: from here to its end marker, this text is also thywill.mjs ===\n';
const END = '  // === end of module body ===\n';
const HEADER = `// thywill.mjs: the browser client of thywill, as an ES module (types: thywill.d.ts).
//
// GENERATED from thywill.js (the text between its "module body" markers) by
// scripts/build-client-module.mjs. Do not edit: edit thywill.js, then run
// \`node scripts/build-client-module.mjs\`.
//
// Importing it connects nothing and needs no page: connect(application, options) makes the
// client of an application, defaultClient() the one of the page's #thywill-config.
`;

/** The text of thywill.mjs for the text of thywill.js. */
export function buildModule(source) {
  const begin = source.indexOf(BEGIN);
  const end = source.indexOf(END);
  if (begin === -1 || end < begin || source.indexOf(BEGIN, begin + 1) !== -1
      || source.indexOf(END, end + 1) !== -1) {
    throw new Error('thywill.js must have each module body marker once, in order:\n' + BEGIN + END);
  }
  return HEADER + source.slice(begin + BEGIN.length, end) + 'export {' + EXPORTS.join(', ') + '};\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const built = buildModule(readFileSync(SCRIPT, 'utf8'));
  if (process.argv.includes('--check')) {
    if (readFileSync(MODULE, 'utf8') !== built) {
      console.error('thywill.mjs is not built from the current thywill.js:'
        + ' run node scripts/build-client-module.mjs');
      process.exit(1);
    }
  } else {
    writeFileSync(MODULE, built);
  }
}
