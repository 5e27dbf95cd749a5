import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The module direction of DESIGN.md: each folder may import only itself and the folders listed.
const ALLOWED: Record<string, string[]> = {
  oci: ['internal'],
  internal: [],
  layer: ['oci', 'internal'],
  image: ['layer', 'oci', 'internal'],
  store: ['image', 'layer', 'oci', 'internal'],
  registry: ['image', 'layer', 'oci', 'internal'],
  snapshot: ['layer', 'oci', 'internal'],
  runtime: ['snapshot', 'store', 'image', 'layer', 'oci', 'internal'],
  dockerfile: ['oci', 'internal'],
  build: ['dockerfile', 'runtime', 'snapshot', 'store', 'image', 'layer', 'oci', 'internal'],
  analyze: ['image', 'layer', 'oci', 'internal'],
  optimize: ['analyze', 'build', 'dockerfile', 'runtime', 'snapshot', 'store', 'image', 'layer', 'oci', 'internal'],
  report: ['analyze', 'oci', 'internal'],
  cli: ['*'],
};

// Sources sit beside the compiled tests: dist/src -> src.
const here = dirname(fileURLToPath(import.meta.url));
const srcRoot = join(here, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

test('modules import only in the direction DESIGN.md allows, and nothing imports cli/', () => {
  const problems: string[] = [];
  for (const folder of readdirSync(srcRoot)) {
    const dir = join(srcRoot, folder);
    if (!statSync(dir).isDirectory()) continue;
    const allowed = ALLOWED[folder];
    assert.ok(allowed, `src/${folder} is not in the module table; add it to DESIGN.md's direction and here`);
    for (const file of sourceFiles(dir)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/from\s+'\.\.\/([a-z]+)\//g)) {
        const target = m[1]!;
        if (target === 'cli' || (!allowed.includes('*') && !allowed.includes(target))) {
          problems.push(`${file.slice(srcRoot.length + 1)} imports ${target}/`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});
