import type { DiveMetrics } from './analysis.js';
import type { LayerScan } from './layer-scan.js';

/**
 * dive's image efficiency, reproduced with its quirks so the numbers compare (see README.md):
 * - each layer is a tree of its tar paths; only its leaves are scored; a whiteout leaf `.wh.X` scores X;
 *   opaque markers are ignored;
 * - a leaf scores its tar header size; a whiteout scores the summed sizes below X in the stack of the
 *   layers beneath when X was a directory there, else 0; a whiteout of a path missing beneath stops the
 *   scoring of the rest of that layer (leaves in name order, children first);
 * - per path: cumulative = sum of its scores, minimum = smallest score; efficiency = sum of minimums /
 *   sum of cumulatives; wasted bytes = sum of cumulatives of paths scored in two or more layers;
 * - a layer's size is the sum of its tar header sizes; user bytes are all layers but the first.
 */
export class DiveScorer {
  private readonly scores = new PathScores();
  /** Each layer's summed tar header sizes. */
  private readonly sizes: number[] = [];
  // the stack of the layers beneath; dive starts it from a copy of layer 0 (a no-op for layer 0 itself),
  // so layer 0's own tree serves once layer 0 is scored
  private stacked: DiveNode | undefined;

  /** Scores the next layer up. */
  add(scan: LayerScan): void {
    const { scores } = this;
    const tree = layerTree(scan);
    const beneath = this.stacked ?? tree;
    // the visiting order matters only where a whiteout can stop the layer or remove a path
    const ordered = scan.entries.some((e) => e.mark === 'whiteout');
    try {
      visitLeaves(tree, '', ordered, (node, path) => {
        let size = node.size;
        if (isWhiteout(node)) {
          const prev = lookup(beneath, path);
          if (!prev) throw new StopLayer();
          size = prev.isDir ? subtreeSize(prev) : 0;
        }
        scores.add(path, size);
      });
    } catch (e) {
      if (!(e instanceof StopLayer)) throw e;
    }
    if (this.stacked === undefined) this.stacked = tree;
    else stackInto(this.stacked, tree, ordered);
    this.sizes.push(scan.entries.reduce((n, e) => n + e.size, 0));
  }

  metrics(): DiveMetrics {
    let minimums = 0;
    let cumulatives = 0;
    let wastedBytes = 0;
    const inefficientFiles: DiveMetrics['inefficientFiles'] = [];
    for (const [path, s] of this.scores.entries()) {
      minimums += s.minimum;
      cumulatives += s.cumulative;
      if (s.count < 2) continue;
      wastedBytes += s.cumulative;
      inefficientFiles.push({ path, count: s.count, wastedBytes: s.cumulative });
    }
    inefficientFiles.sort((a, b) => b.wastedBytes - a.wastedBytes || (a.path < b.path ? -1 : 1));
    const sizeBytes = this.sizes.reduce((a, b) => a + b, 0);
    const userSizeBytes = sizeBytes - (this.sizes[0] ?? 0);
    return {
      efficiency: cumulatives === 0 ? 1 : minimums / cumulatives,
      wastedBytes,
      userWastedPercent: userSizeBytes === 0 ? null : wastedBytes / userSizeBytes,
      sizeBytes,
      userSizeBytes,
      inefficientFiles: inefficientFiles.slice(0, MAX_LISTED),
      inefficientFileCount: inefficientFiles.length,
    };
  }
}

/** dive's metrics of a whole stack at once. */
export function diveMetrics(scans: readonly LayerScan[]): DiveMetrics {
  const scorer = new DiveScorer();
  for (const scan of scans) scorer.add(scan);
  return scorer.metrics();
}

/** How many of dive's inefficient files the metrics list. */
const MAX_LISTED = 1000;

class StopLayer extends Error {}

/** Per path: the sum, the smallest and the number of its scores, in flat arrays (200k paths stay small). */
class PathScores {
  private readonly index = new Map<string, number>();
  private cumulative = new Float64Array(1024);
  private minimum = new Float64Array(1024);
  private count = new Uint32Array(1024);

  add(path: string, size: number): void {
    let i = this.index.get(path);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(path, i);
      if (i === this.count.length) this.grow();
      this.cumulative[i] = size;
      this.minimum[i] = size;
      this.count[i] = 1;
      return;
    }
    this.cumulative[i]! += size;
    if (size < this.minimum[i]!) this.minimum[i] = size;
    this.count[i]!++;
  }

  *entries(): Generator<[string, { cumulative: number; minimum: number; count: number }]> {
    for (const [path, i] of this.index) yield [path, { cumulative: this.cumulative[i]!, minimum: this.minimum[i]!, count: this.count[i]! }];
  }

  private grow(): void {
    const n = this.count.length * 2;
    const cumulative = new Float64Array(n);
    const minimum = new Float64Array(n);
    const count = new Uint32Array(n);
    cumulative.set(this.cumulative);
    minimum.set(this.minimum);
    count.set(this.count);
    [this.cumulative, this.minimum, this.count] = [cumulative, minimum, count];
  }
}

interface DiveNode {
  name: string;
  /** Made on the first child: most nodes are leaves. */
  children?: Map<string, DiveNode>;
  size: number;
  isDir: boolean;
}

const WHITEOUT = '.wh.';
const newNode = (name: string): DiveNode => ({ name, size: 0, isDir: false });
const isWhiteout = (n: DiveNode): boolean => n.name.startsWith(WHITEOUT);

function child(node: DiveNode, name: string): DiveNode {
  node.children ??= new Map();
  let c = node.children.get(name);
  if (!c) node.children.set(name, (c = newNode(name)));
  return c;
}

/** dive's AddPath: missing parents are made with empty info; a new `.wh..wh..` name is not added. */
function addPath(root: DiveNode, path: string, info: { size: number; isDir: boolean }): void {
  let node = root;
  const names = path.split('/');
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === '') continue;
    if (!node.children?.has(name) && name.startsWith('.wh..wh..')) return;
    node = child(node, name);
  }
  node.size = info.size;
  node.isDir = info.isDir;
}

function lookup(root: DiveNode, path: string): DiveNode | undefined {
  let node: DiveNode | undefined = root;
  for (const name of path.split('/')) if (name !== '') node = node?.children?.get(name);
  return node;
}

function layerTree(scan: LayerScan): DiveNode {
  const root = newNode('');
  for (const e of scan.entries) if (e.path !== '') addPath(root, e.path, { size: e.size, isDir: e.type === 'dir' });
  return root;
}

const byName = (m: Map<string, DiveNode>): DiveNode[] => [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
const childrenOf = (n: DiveNode, ordered: boolean): Iterable<DiveNode> => (!n.children ? [] : ordered ? byName(n.children) : n.children.values());

/** The leaves of a tree, children before parents (names sorted when `ordered`), with dive's path ("/a/b", a whiteout's prefix dropped). */
function visitLeaves(node: DiveNode, path: string, ordered: boolean, visit: (n: DiveNode, path: string) => void): void {
  if (!node.children || node.children.size === 0) {
    visit(node, path === '' ? '/' : path);
    return;
  }
  for (const c of childrenOf(node, ordered)) {
    const leafWhiteout = isWhiteout(c) && !c.children?.size; // dive drops the prefix on the leaf only
    visitLeaves(c, `${path}/${leafWhiteout ? c.name.slice(WHITEOUT.length) : c.name}`, ordered, visit);
  }
}

function subtreeSize(node: DiveNode): number {
  let n = node.size;
  for (const c of node.children?.values() ?? []) n += subtreeSize(c);
  return n;
}

/**
 * dive's Stack of `upper` onto `lower`, done as one walk of both trees: upper's nodes children first; a
 * whiteout removes its path below, any other node takes its place (parents made as needed, info set
 * after the children, as dive's AddPath of each node in that order leaves them).
 */
function stackInto(lower: DiveNode, upper: DiveNode, ordered: boolean): void {
  for (const c of childrenOf(upper, ordered)) {
    if (isWhiteout(c)) {
      lower.children?.delete(c.name.slice(WHITEOUT.length));
      continue;
    }
    const target = child(lower, c.name);
    stackInto(target, c, ordered);
    target.size = c.size;
    target.isDir = c.isDir;
  }
}
