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
export function diveMetrics(scans: readonly LayerScan[]): DiveMetrics {
  const scores = new Map<string, { cumulative: number; minimum: number; count: number }>();
  // the stack of the layers beneath; dive starts it from a copy of layer 0 (a no-op for layer 0 itself),
  // so layer 0's own tree serves once layer 0 is scored
  let stacked: DiveNode | undefined;
  scans.forEach((scan, current) => {
    const tree = layerTree(scan);
    const beneath = stacked ?? tree;
    // the visiting order matters only where a whiteout can stop the layer or remove a path
    const ordered = scan.entries.some((e) => e.mark === 'whiteout');
    try {
      visitChildFirst(tree, ordered, (node) => {
        if (node.children.size > 0) return;
        const path = divePath(node);
        let size = node.size;
        if (isWhiteout(node)) {
          const prev = lookup(beneath, path);
          if (!prev) throw new StopLayer();
          size = prev.isDir ? subtreeSize(prev) : 0;
        }
        const s = scores.get(path);
        if (!s) scores.set(path, { cumulative: size, minimum: size, count: 1 });
        else {
          s.cumulative += size;
          s.minimum = Math.min(s.minimum, size);
          s.count++;
        }
      });
    } catch (e) {
      if (!(e instanceof StopLayer)) throw e;
    }
    stacked = current === 0 ? tree : stack(stacked!, tree, ordered);
  });

  let minimums = 0;
  let cumulatives = 0;
  let wastedBytes = 0;
  const inefficientFiles: DiveMetrics['inefficientFiles'] = [];
  for (const [path, s] of scores) {
    minimums += s.minimum;
    cumulatives += s.cumulative;
    if (s.count < 2) continue;
    wastedBytes += s.cumulative;
    inefficientFiles.push({ path, count: s.count, wastedBytes: s.cumulative });
  }
  inefficientFiles.sort((a, b) => b.wastedBytes - a.wastedBytes || (a.path < b.path ? -1 : 1));
  const sizes = scans.map((s) => s.entries.reduce((n, e) => n + e.size, 0));
  const sizeBytes = sizes.reduce((a, b) => a + b, 0);
  const userSizeBytes = sizeBytes - (sizes[0] ?? 0);
  return {
    efficiency: cumulatives === 0 ? 1 : minimums / cumulatives,
    wastedBytes,
    userWastedPercent: userSizeBytes === 0 ? null : wastedBytes / userSizeBytes,
    sizeBytes,
    userSizeBytes,
    inefficientFiles,
  };
}

class StopLayer extends Error {}

interface DiveNode {
  name: string;
  parent?: DiveNode;
  children: Map<string, DiveNode>;
  size: number;
  isDir: boolean;
}

const WHITEOUT = '.wh.';
const newNode = (name: string, parent?: DiveNode): DiveNode => ({ name, parent, children: new Map(), size: 0, isDir: false });
const isWhiteout = (n: DiveNode): boolean => n.name.startsWith(WHITEOUT);

/** "/a/b", the leaf's whiteout prefix dropped, as dive names paths. */
function divePath(node: DiveNode): string {
  const parts: string[] = [];
  for (let n: DiveNode | undefined = node; n?.parent; n = n.parent) parts.push(n === node && isWhiteout(n) ? n.name.slice(WHITEOUT.length) : n.name);
  return `/${parts.reverse().join('/')}`;
}

/** dive's AddPath: missing parents are made with empty info; a new `.wh..wh..` name is not added. */
function addPath(root: DiveNode, path: string, info: { size: number; isDir: boolean }): void {
  let node = root;
  const names = path.split('/').filter((n) => n !== '');
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    let child = node.children.get(name);
    if (!child) {
      if (name.startsWith('.wh..wh..')) return;
      node.children.set(name, (child = newNode(name, node)));
    }
    node = child;
    if (i === names.length - 1) {
      node.size = info.size;
      node.isDir = info.isDir;
    }
  }
}

function lookup(root: DiveNode, path: string): DiveNode | undefined {
  let node: DiveNode | undefined = root;
  for (const name of path.split('/')) if (name !== '') node = node?.children.get(name);
  return node;
}

function layerTree(scan: LayerScan): DiveNode {
  const root = newNode('');
  for (const e of scan.entries) if (e.path !== '') addPath(root, e.path, { size: e.size, isDir: e.type === 'dir' });
  return root;
}

const byName = (m: Map<string, DiveNode>): DiveNode[] => [...m.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

function visitChildFirst(node: DiveNode, ordered: boolean, visit: (n: DiveNode) => void): void {
  for (const child of ordered ? byName(node.children) : node.children.values()) visitChildFirst(child, ordered, visit);
  visit(node);
}

function subtreeSize(node: DiveNode): number {
  let n = node.size;
  for (const c of node.children.values()) n += subtreeSize(c);
  return n;
}

/** dive's Stack: the upper tree's nodes, children first; a whiteout removes its path, any other node is added. */
function stack(lower: DiveNode, upper: DiveNode, ordered: boolean): DiveNode {
  visitChildFirst(upper, ordered, (node) => {
    if (!node.parent) return;
    const path = divePath(node);
    if (isWhiteout(node)) {
      const gone = lookup(lower, path);
      if (gone?.parent) gone.parent.children.delete(gone.name);
    } else addPath(lower, path, node);
  });
  return lower;
}
