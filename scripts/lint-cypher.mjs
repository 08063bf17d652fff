#!/usr/bin/env node
// Checks every cypher/**/*.cypher file with Neo4j's own Cypher parser and semantic analysis
// (npm package @neo4j-cypher/language-support, `lintCypherQuery`), as `make test` does.
//
// Fails (exit 1) on any syntax or semantic error. Not failures: "Parameter $x is not
// defined." (queries get their parameters at run time, the linter has no values for them)
// and warnings (printed). A file may hold several statements separated by `;`. A template
// (holding the relation-type placeholder) is also checked in its rendered form.
//
// Usage: node scripts/lint-cypher.mjs [FILE_OR_DIR ...]   (default: cypher/)
// Install the package first: npm ci --prefix scripts/cypher-lint (scripts/setup.sh does).

import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(join(here, 'cypher-lint', 'package.json'));

let lintCypherQuery;
try {
  ({ lintCypherQuery } = require('@neo4j-cypher/language-support'));
} catch (err) {
  console.error(
    `lint-cypher: cannot load @neo4j-cypher/language-support (${err.code ?? err.message}); ` +
      'run `npm ci --prefix scripts/cypher-lint` or `make setup`',
  );
  process.exit(2);
}

const ERROR = 1;
// Where mnemo-neo4j puts one validated relation type (crates/mnemo-neo4j/src/queries.rs).
const RELATION_TYPE_PLACEHOLDER = '__RELATION_TYPE__';
const PARAMETER_NOT_DEFINED = /^Parameter \$\w+ is not defined\.$/;

function cypherFiles(path) {
  if (statSync(path).isDirectory()) {
    return readdirSync(path)
      .sort()
      .flatMap((name) => cypherFiles(join(path, name)));
  }
  return path.endsWith('.cypher') ? [path] : [];
}

/** 1-based line and column of a character offset. */
function position(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

const targets = process.argv.length > 2 ? process.argv.slice(2) : [join(root, 'cypher')];
const files = targets.flatMap((t) => cypherFiles(resolve(t)));
if (files.length === 0) {
  console.error(`lint-cypher: no .cypher files under ${targets.join(', ')}`);
  process.exit(2);
}

let errors = 0;
let warnings = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const name = relative(root, file);
  if (text.trim() === '') {
    console.error(`${name}: error: empty file`);
    errors += 1;
    continue;
  }
  // A template is checked as written and as mnemo-neo4j renders it for a sample type.
  const forms = [[name, text]];
  if (text.includes(RELATION_TYPE_PLACEHOLDER)) {
    const rendered = text
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('//'))
      .join('\n')
      .replaceAll(RELATION_TYPE_PLACEHOLDER, 'LIVES_IN');
    forms.push([`${name} (rendered for LIVES_IN)`, rendered]);
  }
  for (const [label, form] of forms) {
    for (const d of lintCypherQuery(form, {})) {
      if (PARAMETER_NOT_DEFINED.test(d.message)) continue;
      const at = `${label}:${position(form, d.offsets.start)}`;
      if (d.severity === ERROR) {
        console.error(`${at}: error: ${d.message}`);
        errors += 1;
      } else {
        console.warn(`${at}: warning: ${d.message}`);
        warnings += 1;
      }
    }
  }
}

console.log(
  `lint-cypher: ${files.length} files, ${errors} errors, ${warnings} warnings (Neo4j Cypher parser)`,
);
process.exit(errors > 0 ? 1 : 0);
