/**
 * Extended attributes of whole trees through Debian's `attr` tools (Node has no xattr API): one
 * `getfattr -R` reads a tree, one `setfattr --restore` writes many files. Neither follows symlinks.
 */
import { ShaleError } from '../internal/errors.js';
import { runTool } from './run-tool.js';

/** Attribute name -> raw value. */
export type Xattrs = Record<string, Buffer>;

/** Paths (relative to the tree, `''` for its root) that carry at least one attribute. */
export type XattrTree = Map<string, Xattrs>;

/** The octal escaping getfattr uses and setfattr undoes: backslash, `=`, blanks, controls and non-ASCII bytes. */
function quote(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out += b <= 0x20 || b >= 0x7f || b === 0x5c || b === 0x3d ? `\\${b.toString(8).padStart(3, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/** Undoes getfattr's `\ooo` escapes; `s` holds the printed bytes as latin1, the result is decoded as UTF-8. */
function unquote(s: string): string {
  const raw = Buffer.from(s, 'latin1');
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const isOct = (j: number) => raw[j] !== undefined && raw[j]! >= 0x30 && raw[j]! <= 0x37;
    if (raw[i] === 0x5c && isOct(i + 1) && isOct(i + 2) && isOct(i + 3)) {
      out.push(((raw[i + 1]! - 0x30) << 6) + ((raw[i + 2]! - 0x30) << 3) + (raw[i + 3]! - 0x30));
      i += 3;
    } else out.push(raw[i]!);
  }
  return Buffer.from(out).toString('utf8');
}

/** Parses `getfattr -d -e hex` output. */
export function parseGetfattrDump(text: string): XattrTree {
  const tree: XattrTree = new Map();
  let current: Xattrs | undefined;
  for (const line of text.split('\n')) {
    if (line === '') {
      current = undefined;
      continue;
    }
    if (line.startsWith('# file: ')) {
      let path = unquote(line.slice('# file: '.length));
      if (path === '.') path = '';
      else if (path.startsWith('./')) path = path.slice(2);
      current = {};
      tree.set(path, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current) throw new ShaleError('CORRUPT_INPUT', `getfattr printed an attribute outside a file block: "${line}"`);
    if (eq < 0) {
      current[unquote(line)] = Buffer.alloc(0);
      continue;
    }
    const value = line.slice(eq + 1);
    if (!value.startsWith('0x')) throw new ShaleError('CORRUPT_INPUT', `getfattr printed a value that is not hex: "${line}"`);
    current[unquote(line.slice(0, eq))] = Buffer.from(value.slice(2), 'hex');
  }
  for (const [path, attrs] of tree) if (Object.keys(attrs).length === 0) tree.delete(path);
  return tree;
}

/** Every attribute (all namespaces: user, trusted, security, system) of every path under `dir`, symlinks not followed. */
export async function readXattrTree(dir: string): Promise<XattrTree> {
  const out = await runTool('getfattr', ['--recursive', '--physical', '--no-dereference', '--dump', '--match=-', '--encoding=hex', '.'], {
    cwd: dir,
  });
  return parseGetfattrDump(out.toString('latin1'));
}

/** Sets the attributes of many paths under `dir` with one `setfattr` (symlinks are not followed). */
export async function writeXattrTree(dir: string, tree: XattrTree): Promise<void> {
  const blocks: string[] = [];
  for (const [path, attrs] of tree) {
    const names = Object.keys(attrs).sort();
    if (names.length === 0) continue;
    const lines = [`# file: ${path === '' ? '.' : quote(path)}`];
    for (const n of names) lines.push(`${quote(n)}=0x${attrs[n]!.toString('hex')}`);
    blocks.push(`${lines.join('\n')}\n\n`);
  }
  if (blocks.length === 0) return;
  await runTool('setfattr', ['--no-dereference', '--restore=-'], { cwd: dir, input: Buffer.from(blocks.join(''), 'latin1') });
}
