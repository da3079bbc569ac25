import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The boundaries of the house, read from the code's own imports: no import circle and no forwardRef in
 * src/, @stoqey/ib only in repositories, the simulator standing alone, and the service running (not
 * borrowing from) the simulator. The same rules are lint rules where eslint can say them; this test also
 * catches the circles, which eslint cannot see cheaply.
 */
const ROOT = resolve(__dirname, '../../..');
const SRC = join(ROOT, 'src');

/** Files of the service that start the simulator: the only ones that may import it. */
const SIMULATOR_RUNNERS = [
  'main.ts',
  'cli.ts',
  'gateway/gateway.module.ts',
  'gateway/simulator-gateway-runtime.ts',
];

interface SourceFile {
  path: string; // relative to src/
  text: string;
  imports: string[]; // module specifiers as written
}

function sourceFiles(directory = SRC): SourceFile[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    if (!entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) return [];
    const text = readFileSync(full, 'utf8');
    const imports = ts.preProcessFile(text, true, true).importedFiles.map((file) => file.fileName);
    return [{ path: relative(SRC, full), text, imports }];
  });
}

const files = sourceFiles();
const known = new Set(files.map((file) => file.path));

/** The src/ file a relative specifier names, if it is one. */
function target(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = relative(SRC, resolve(SRC, dirname(from), specifier));
  return [`${base}.ts`, join(base, 'index.ts')].find((candidate) => known.has(candidate));
}

function edges(): Map<string, string[]> {
  return new Map(
    files.map((file) => [
      file.path,
      file.imports.map((specifier) => target(file.path, specifier)).filter((t): t is string => !!t),
    ]),
  );
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!index.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, index.get(next)!));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return found;
}

const isSimulator = (path: string): boolean => path.startsWith('simulator/');

/** Long files are where roles pile up; data tables are allowed to be long. */
const MAX_LINES = 450;
const DATA_TABLES = ['simulator/market/universe.ts'];

describe('the structure of src/', () => {
  it('reads the whole tree', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(known.has('app.module.ts')).toBe(true);
  });

  it('has no import circle (type-only imports count too)', () => {
    expect(circles(edges())).toEqual([]);
  });

  it('finds a circle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(circles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });

  it(`has no file over ${MAX_LINES} lines but the simulator's data tables`, () => {
    const long = files
      .filter((file) => !DATA_TABLES.includes(file.path))
      .map((file) => ({ path: file.path, lines: file.text.split('\n').length - 1 }))
      .filter((file) => file.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it('uses no forwardRef', () => {
    expect(files.filter((file) => /\bforwardRef\b/.test(file.text)).map((file) => file.path)).toEqual([]);
  });

  it('imports @stoqey/ib only in repositories (and the simulator)', () => {
    const offenders = files
      .filter((file) => !isSimulator(file.path) && !file.path.endsWith('.repository.ts'))
      .filter((file) =>
        file.imports.some((specifier) => specifier === '@stoqey/ib' || specifier.startsWith('@stoqey/ib/')),
      )
      .map((file) => file.path);
    expect(offenders).toEqual([]);
  });

  it('keeps the simulator free of the service', () => {
    const offenders = files
      .filter((file) => isSimulator(file.path))
      .flatMap((file) =>
        file.imports
          .map((specifier) => target(file.path, specifier))
          .filter((t): t is string => !!t && !isSimulator(t))
          .map((t) => `${file.path} -> ${t}`),
      );
    expect(offenders).toEqual([]);
  });

  it('imports the simulator only where the service runs it', () => {
    const offenders = files
      .filter((file) => !isSimulator(file.path) && !SIMULATOR_RUNNERS.includes(file.path))
      .flatMap((file) =>
        file.imports
          .map((specifier) => target(file.path, specifier))
          .filter((t): t is string => !!t && isSimulator(t))
          .map((t) => `${file.path} -> ${t}`),
      );
    expect(offenders).toEqual([]);
  });
});
