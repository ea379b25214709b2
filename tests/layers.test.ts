// The layer rule of docs/layers.md, enforced on every import under src/: folders import only what the doc's table
// allows, only runtime/ imports onnxruntime-node, and only pipeline/ and io/ (and the listed exceptions) touch the
// filesystem. The tables are read from the doc, so the doc and the check cannot drift apart.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');
const DOC = join(ROOT, 'docs', 'layers.md');

interface LayerRules {
  /** folder → the folders it may import (value imports), and those it may import types from only. */
  mayImport: Map<string, { any: Set<string>; typesOnly: Set<string> }>;
  /** Files (relative to the repository root) allowed to import node:fs outside pipeline/ and io/. */
  fsExceptions: Set<string>;
}

/** The rules as docs/layers.md states them (its "The rule" and "Filesystem exceptions" tables). */
function rulesFromDoc(text: string): LayerRules {
  const mayImport = new Map<string, { any: Set<string>; typesOnly: Set<string> }>();
  const fsExceptions = new Set<string>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 4) continue;
    const layer = /^`src\/([a-z]+)\/`$/.exec(cells[1]!);
    if (layer && cells.length >= 5) {
      const any = new Set<string>();
      const typesOnly = new Set<string>();
      for (const m of cells[3]!.matchAll(/`src\/([a-z]+)`( \(types only\))?/g)) (m[2] ? typesOnly : any).add(m[1]!);
      mayImport.set(layer[1]!, { any, typesOnly });
      continue;
    }
    const file = /^`(src\/[^`]+\.ts)`$/.exec(cells[1]!);
    if (file) fsExceptions.add(file[1]!);
  }
  return { mayImport, fsExceptions };
}

interface Import {
  line: number;
  spec: string;
  typeOnly: boolean;
}

/** Every module specifier `text` imports: import/export … from, side-effect imports, import('…'), import('…').T. */
function importsOf(file: string, text: string): Import[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (node: ts.Node, spec: ts.Expression | undefined, typeOnly: boolean): void => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    out.push({ line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1, spec: spec.text, typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const allTypes = Boolean(c && (c.isTypeOnly || (!c.name && named && named.length > 0 && named.every((e) => e.isTypeOnly))));
      add(node, node.moduleSpecifier, allTypes);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node, node.moduleSpecifier, node.isTypeOnly || Boolean(named && named.length > 0 && named.every((e) => e.isTypeOnly)));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

/** The src/ folder of a path under src/ ('' for src/errors.ts, src/index.ts). */
function folderOf(path: string): string {
  const parts = relative(SRC, path).split(sep);
  return parts.length > 1 ? parts[0]! : '';
}

const FS_MODULES = new Set(['node:fs', 'node:fs/promises', 'fs', 'fs/promises']);

/** Violations of `rules` by the imports of one file (`file` absolute, under src/). */
function violations(file: string, text: string, rules: LayerRules): string[] {
  const from = folderOf(file);
  const rel = relative(ROOT, file).split(sep).join('/');
  const base = relative(SRC, file).split(sep).join('/');
  const bad: string[] = [];
  for (const imp of importsOf(file, text)) {
    const where = `${rel}:${imp.line}: import '${imp.spec}'`;
    if (imp.spec === 'onnxruntime-node' || imp.spec.startsWith('onnxruntime-node/')) {
      if (from !== 'runtime') bad.push(`${where}: only src/runtime/ imports onnxruntime-node`);
      continue;
    }
    if (FS_MODULES.has(imp.spec)) {
      if (from !== 'pipeline' && from !== 'io' && !rules.fsExceptions.has(rel) && !imp.typeOnly)
        bad.push(`${where}: only src/pipeline/ and src/io/ touch the filesystem (or a file listed in docs/layers.md, "Filesystem exceptions")`);
      continue;
    }
    if (!imp.spec.startsWith('.')) continue;
    const target = resolve(dirname(file), imp.spec);
    if (!target.startsWith(SRC + sep)) continue;
    const to = folderOf(target);
    if (to === from || (to === '' && relative(SRC, target).startsWith('errors.'))) continue;
    if (to === '') {
      bad.push(`${where}: nothing imports the library entry point`);
      continue;
    }
    if (base === 'index.ts') {
      if (to === 'cli') bad.push(`${where}: the library entry point does not import src/cli/`);
      continue;
    }
    const allowed = rules.mayImport.get(from);
    if (!allowed) {
      bad.push(`${where}: src/${from}/ has no row in docs/layers.md`);
      continue;
    }
    if (allowed.any.has(to) || (imp.typeOnly && allowed.typesOnly.has(to))) continue;
    const may = [...allowed.any].map((f) => `src/${f}`).concat([...allowed.typesOnly].map((f) => `src/${f} (types only)`));
    bad.push(`${where}: src/${from}/ may not import src/${to}/ (it may import ${may.length ? may.join(', ') : 'nothing'})`);
  }
  return bad;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

const rules = rulesFromDoc(readFileSync(DOC, 'utf8'));

describe('layers (docs/layers.md)', () => {
  it('has a row for every folder under src/', () => {
    const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    expect([...rules.mayImport.keys()].sort()).toEqual(folders);
  });

  it('every import under src/ follows the rule', () => {
    const bad = sourceFiles(SRC).flatMap((f) => violations(f, readFileSync(f, 'utf8'), rules));
    expect(bad, bad.join('\n')).toEqual([]);
  });

  it('names file, line and import when a folder imports one it may not (a check that can fail)', () => {
    const src = [
      "import { ConfigError } from '../errors.js';",
      "import type { Table } from './table.js';",
      "import { rng } from '../eval/stats.js';",
      "export { readFile } from 'node:fs/promises';",
      "const m = await import('../pipeline/run.js');",
      "type P = import('../cli/main.js').Args;",
      "import * as ort from 'onnxruntime-node';",
    ].join('\n');
    expect(violations(join(SRC, 'io', 'bad.ts'), src, rules)).toEqual([
      "src/io/bad.ts:3: import '../eval/stats.js': src/io/ may not import src/eval/ (it may import src/core, src/native)",
      "src/io/bad.ts:5: import '../pipeline/run.js': src/io/ may not import src/pipeline/ (it may import src/core, src/native)",
      "src/io/bad.ts:6: import '../cli/main.js': src/io/ may not import src/cli/ (it may import src/core, src/native)",
      "src/io/bad.ts:7: import 'onnxruntime-node': only src/runtime/ imports onnxruntime-node",
    ]);
    expect(violations(join(SRC, 'eval', 'bad.ts'), "import { writeFile } from 'node:fs/promises';", rules)).toEqual([
      "src/eval/bad.ts:1: import 'node:fs/promises': only src/pipeline/ and src/io/ touch the filesystem (or a file listed in docs/layers.md, \"Filesystem exceptions\")",
    ]);
    // a types-only allowance refuses a value import
    expect(violations(join(SRC, 'encode', 'bad.ts'), "import type { FieldSpec } from '../config/schema.js';\nimport { parseConfig } from '../config/schema.js';", rules)).toEqual([
      "src/encode/bad.ts:2: import '../config/schema.js': src/encode/ may not import src/config/ (it may import src/core, src/io, src/config (types only))",
    ]);
  });
});
