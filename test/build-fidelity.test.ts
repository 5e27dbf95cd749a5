/**
 * Build fidelity against Docker's classic builder: each Dockerfile of the table is built by shale and by
 * `DOCKER_BUILDKIT=0 docker build` from the same busybox base (made by `shale import`, loaded into Docker).
 * shale's image is loaded into Docker too, so both final filesystems come out of `docker export` of a
 * container (Docker's init-layer paths are the same on both sides); every path's type, mode, owner,
 * content, link target and hard-link group must match, except the four files Docker writes per container.
 * Each case also compares the layers entry by entry, the history, and runs shale's image under Docker.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  busyboxBase,
  compareImageTrees,
  dockerBuild,
  dockerSavedImage,
  historyLines,
  loadIntoDocker,
  shaleBuild,
  shaleImageLayers,
  writeContext,
  type ContextFile,
  type ImageConfigJson,
} from './support/build.js';
import { dockerignoreContext, referenceDockerfile } from '../src/dockerfile/dockerfile-fixtures.js';
import { dockerOk } from './support/docker.js';
import { shaleJson, tempDir, tempStore, uniqueSuffix } from './support/shale.js';
import { requireTool } from './support/tools.js';
import type { TreeEntry } from './support/tree-compare.js';

type Tree = Map<string, TreeEntry>;

interface FidelityCase {
  name: string;
  /** `{{base}}` stands for the base image. */
  dockerfile: string;
  /** What Docker builds instead, when the classic builder lacks the syntax (heredocs); history is then not compared. */
  dockerDockerfile?: string;
  files?: Record<string, ContextFile>;
  /** Makes context content that needs tools (archives). */
  prepare?: (context: string) => void;
  buildArgs?: string[];
  /** A command run in both images under Docker (entrypoint cleared); stdout must be equal. Default `true`. */
  run?: string[];
  /** Checks on shale's exported tree that the case did what it is about (so equality is not vacuous). */
  check?: (tree: Tree, layers: string[][]) => void;
  /** Marks a case that a shale bug breaks (node:test `todo`: reported, does not fail the suite). */
  todo?: string;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function at(tree: Tree, path: string): TreeEntry {
  const e = tree.get(path);
  assert.ok(e, `${path} is in shale's tree`);
  return e;
}
const absent = (tree: Tree, ...paths: string[]) => {
  for (const p of paths) assert.equal(tree.has(p), false, `${p} is not in shale's tree`);
};
const content = (tree: Tree, path: string, text: string) => assert.equal(at(tree, path).sha256, sha(text), `${path} holds ${JSON.stringify(text)}`);
const owner = (tree: Tree, path: string) => `${at(tree, path).uid}:${at(tree, path).gid}`;
const below = (tree: Tree, dir: string) => [...tree.keys()].filter((p) => p.startsWith(`${dir}/`)).sort();

/** The reference Dockerfile of reference/docker-classic-builder.md (Docker's measured history and config). */
const REFERENCE_DOCKERFILE = referenceDockerfile('{{base}}');
const REFERENCE_FILES: Record<string, ContextFile> = { 'a.txt': 'hello\n', d: { dir: true }, 'd/x': 'x\n' };

const CASES: FidelityCase[] = [
  {
    name: 'delete a file (of an earlier layer and of the base)',
    dockerfile: `FROM {{base}}
RUN mkdir -p /a/b && echo 1 > /a/b/f && echo 2 > /a/g && echo keep > /a/keep
RUN rm /a/g /srv/base/file.txt /etc/group
`,
    check: (tree, layers) => {
      absent(tree, 'a/g', 'srv/base/file.txt', 'etc/group');
      content(tree, 'a/keep', 'keep\n');
      assert.ok(layers[2]!.includes('whiteout srv/base/.wh.file.txt'), 'the deletion is a whiteout');
    },
  },
  {
    name: 'delete a whole directory',
    dockerfile: `FROM {{base}}
RUN mkdir -p /a/b/c && echo 1 > /a/b/c/f && echo 2 > /a/g
RUN rm -rf /a /srv/base /tmp
`,
    check: (tree, layers) => {
      absent(tree, 'a', 'srv/base', 'tmp');
      assert.equal(at(tree, 'srv').type, 'dir');
      assert.ok(layers[2]!.includes('whiteout .wh.a'));
    },
  },
  {
    name: 'a directory removed and made again (opaque)',
    dockerfile: `FROM {{base}}
RUN mkdir -p /a/b && echo 1 > /a/b/f && echo 2 > /a/g
RUN rm -rf /a && mkdir -p /a/b && echo 3 > /a/new && rm -rf /srv/base && mkdir -m 700 /srv/base && echo n > /srv/base/new
RUN rm -rf /a/b && mkdir /a/b && touch /a/b/z
`,
    check: (tree, layers) => {
      assert.deepEqual(below(tree, 'a'), ['a/b', 'a/b/z', 'a/new']);
      assert.deepEqual(below(tree, 'srv/base'), ['srv/base/new']);
      assert.equal(at(tree, 'srv/base').mode, '0700');
      assert.ok(layers[2]!.includes('whiteout a/.wh..wh..opq') && layers[2]!.includes('whiteout srv/base/.wh..wh..opq'), 'opaque markers');
      assert.ok(layers[3]!.includes('whiteout a/b/.wh..wh..opq'));
    },
  },
  {
    name: 'a file replaced by a directory, a directory by a file',
    dockerfile: `FROM {{base}}
RUN echo 1 > /x && mkdir -p /d/sub && echo 2 > /d/sub/f
RUN rm /x && mkdir /x && echo in > /x/f && rm -rf /d && echo now-a-file > /d && rm /srv/base/file.txt && mkdir /srv/base/file.txt && touch /srv/base/file.txt/inner
`,
    check: (tree) => {
      assert.equal(at(tree, 'x').type, 'dir');
      content(tree, 'x/f', 'in\n');
      assert.equal(at(tree, 'd').type, 'file');
      absent(tree, 'd/sub');
      assert.deepEqual(below(tree, 'srv/base/file.txt'), ['srv/base/file.txt/inner']);
    },
  },
  {
    name: 'symlinks: relative, absolute, dangling, to a directory, retargeted',
    dockerfile: `FROM {{base}}
RUN mkdir /l && echo data > /l/f && ln -s f /l/rel && ln -s /l/f /l/abs && ln -s /nowhere /l/dangling && ln -s /l /ldir && ln -s ../srv/base /l/up
RUN rm /l/rel && ln -s abs /l/rel && ln -sfn /etc /l/abs && rm /srv/base-link && ln -s /l /srv/base-link
`,
    run: ['cat', '/ldir/rel/passwd'],
    check: (tree) => {
      assert.equal(at(tree, 'l/rel').linkTarget, 'abs');
      assert.equal(at(tree, 'l/abs').linkTarget, '/etc');
      assert.equal(at(tree, 'l/dangling').linkTarget, '/nowhere');
      assert.equal(at(tree, 'l/up').linkTarget, '../srv/base');
      assert.equal(at(tree, 'srv/base-link').linkTarget, '/l');
    },
  },
  {
    name: 'hard links: in one layer, to a base file, across a later change',
    dockerfile: `FROM {{base}}
RUN mkdir /h && echo data > /h/f && ln /h/f /h/g && ln /h/f /h/g2 && ln /srv/base/h1 /h/from-base && echo x > /h/solo
RUN echo more >> /h/g && ln /h/solo /h/solo2 && rm /h/g2 && ln /bin/busybox /h/bb
`,
    check: (tree) => {
      assert.deepEqual(at(tree, 'h/solo').hardLinks, ['h/solo2']);
      assert.deepEqual(at(tree, 'h/bb').hardLinks, ['bin/busybox']);
      assert.ok(at(tree, 'h/from-base').hardLinks?.includes('srv/base/h1'));
      content(tree, 'h/g', 'data\nmore\n');
    },
  },
  {
    name: 'chmod only (files, directories, setuid/setgid/sticky, a base file)',
    dockerfile: `FROM {{base}}
RUN mkdir -p /m/d && echo m > /m/f && echo n > /m/d/g
RUN chmod 600 /m/f && chmod 4755 /m/d/g && chmod 1770 /m/d && chmod 0640 /srv/base/file.txt && chmod 2755 /srv/base/sub
`,
    check: (tree, layers) => {
      assert.deepEqual(['m/f', 'm/d/g', 'm/d', 'srv/base/file.txt', 'srv/base/sub'].map((p) => at(tree, p).mode), ['0600', '4755', '1770', '0640', '2755']);
      assert.ok(layers[2]!.includes('f 0640 0:0 5 srv/base/file.txt'), 'a mode change copies the file up');
    },
  },
  {
    name: 'chown only (files, a tree, a symlink itself, a base file)',
    dockerfile: `FROM {{base}}
RUN mkdir -p /o/d/e && echo o > /o/f && echo p > /o/d/e/p && ln -s f /o/link
RUN chown 1000:1000 /o/f && chown -R 123:456 /o/d && chown -h 7:8 /o/link && chown 1000 /srv/base/file.txt && chown 5:5 /srv/base/sub
`,
    check: (tree) => {
      assert.deepEqual(
        ['o/f', 'o/d', 'o/d/e/p', 'o/link', 'srv/base/file.txt', 'srv/base/sub'].map((p) => owner(tree, p)),
        ['1000:1000', '123:456', '123:456', '7:8', '1000:0', '5:5'],
      );
    },
  },
  {
    name: 'COPY with globs',
    dockerfile: `FROM {{base}}
COPY *.txt /dst/
COPY sub/a?.md sub/[bc]*.cfg /cfg/
COPY sub/*.md /single/
`,
    files: {
      'one.txt': '1\n',
      'two.txt': '2\n',
      'three.dat': 'no\n',
      sub: { dir: true },
      'sub/a1.md': { content: 'a1\n', mode: 0o755 },
      'sub/a2.md': 'a2\n',
      'sub/b.cfg': { content: 'b\n', mode: 0o600 },
      'sub/cx.cfg': 'c\n',
      'sub/d.cfg': 'd\n',
    },
    check: (tree) => {
      assert.deepEqual(below(tree, 'dst'), ['dst/one.txt', 'dst/two.txt']);
      assert.deepEqual(below(tree, 'cfg'), ['cfg/a1.md', 'cfg/a2.md', 'cfg/b.cfg', 'cfg/cx.cfg']);
      assert.equal(at(tree, 'cfg/b.cfg').mode, '0600');
      assert.equal(at(tree, 'cfg/a1.md').mode, '0755');
    },
  },
  {
    name: 'COPY of a directory (contents, trailing slash, into an existing dir, relative to WORKDIR)',
    dockerfile: `FROM {{base}}
COPY tree /tree
COPY tree/ /tree2/
COPY tree/inner /etc/
COPY tree relative
WORKDIR /w
COPY tree .
`,
    files: {
      tree: { dir: true },
      'tree/empty': { dir: true },
      'tree/inner': { dir: true, mode: 0o700 },
      'tree/inner/deep': { dir: true },
      'tree/inner/deep/z': 'z\n',
      'tree/inner/y': { content: 'y\n', mode: 0o640 },
      'tree/x': { content: 'x\n', owner: [1000, 1000] },
    },
    check: (tree) => {
      assert.deepEqual(below(tree, 'tree'), ['tree/empty', 'tree/inner', 'tree/inner/deep', 'tree/inner/deep/z', 'tree/inner/y', 'tree/x']);
      assert.equal(owner(tree, 'tree/x'), '0:0', 'COPY makes the files root-owned');
      assert.equal(at(tree, 'tree/inner').mode, '0700');
      content(tree, 'etc/y', 'y\n');
      content(tree, 'relative/x', 'x\n');
      content(tree, 'w/inner/deep/z', 'z\n');
    },
  },
  {
    name: 'COPY of a directory and of single files that are symlinks and hard links',
    dockerfile: `FROM {{base}}
COPY tree /tree
COPY tree/lnk /single-symlink
COPY tree/xhard /single-hardlink
`,
    files: {
      'tree/x': 'x\n',
      'tree/xhard': { hardlinkTo: 'tree/x' },
      'tree/lnk': { symlink: 'x' },
      'tree/dangling': { symlink: '/nowhere' },
    },
    check: (tree) => {
      assert.equal(at(tree, 'tree/lnk').linkTarget, 'x');
      assert.deepEqual(at(tree, 'tree/x').hardLinks, ['tree/xhard'], 'a hard link inside one COPY stays one');
      assert.equal(at(tree, 'single-symlink').type, 'file', 'a symlink source is followed');
      content(tree, 'single-hardlink', 'x\n');
    },
  },
  {
    name: 'COPY with .dockerignore (patterns, ** and ! exceptions)',
    dockerfile: `FROM {{base}}
COPY . /ctx/
COPY logs /logs/
`,
    files: { ...dockerignoreContext },
    check: (tree) => {
      assert.deepEqual(below(tree, 'logs'), ['logs/important.log', 'logs/keep', 'logs/keep/k.log']);
      absent(tree, 'ctx/.env', 'ctx/Dockerfile', 'ctx/NOTES.md', 'ctx/node_modules', 'ctx/src/main.o', 'ctx/src/deep/x.o', 'ctx/logs/a.log');
      content(tree, 'ctx/README.md', 'r\n');
    },
  },
  {
    name: 'COPY --chown (uid:gid, user name, user:group, uid only)',
    dockerfile: `FROM {{base}}
COPY --chown=1000:1000 f /a/
COPY --chown=user d /b
COPY --chown=user:root f /c
COPY --chown=42 f d /e/
`,
    files: { f: 'f\n', 'd/s/x': 'x\n' },
    check: (tree) => {
      assert.deepEqual(['a', 'a/f', 'b', 'b/s/x', 'c', 'e', 'e/f', 'e/s/x'].map((p) => owner(tree, p)), [
        '1000:1000',
        '1000:1000',
        '1000:1000',
        '1000:1000',
        '1000:0',
        '42:42',
        '42:42',
        '42:42',
      ]);
    },
  },
  {
    name: 'multi-stage: FROM an earlier stage, --target stops before a later one',
    dockerfile: `FROM {{base}} AS one
RUN echo one > /one
FROM one AS two
RUN echo two > /two
FROM {{base}} AS three
RUN echo three > /three
`,
    buildArgs: ['--target', 'two'],
    run: ['cat', '/one', '/two'],
    check: (tree) => {
      content(tree, 'one', 'one\n');
      content(tree, 'two', 'two\n');
      absent(tree, 'three');
    },
  },
  {
    name: 'multi-stage: COPY --from a stage (by name and by index) and --target',
    dockerfile: `FROM {{base}} AS builder
RUN mkdir -p /out/sub && echo built > /out/artifact && chmod 751 /out/artifact && ln -s artifact /out/link && echo s > /out/sub/s
FROM {{base}} AS final
COPY --from=builder /out /app
COPY --from=builder /out/artifact /usr/bin/
COPY --from=0 /out/link /app2/
RUN echo final > /final
FROM final AS extra
RUN echo extra > /extra
`,
    buildArgs: ['--target', 'final'],
    run: ['cat', '/app/artifact'],
    check: (tree) => {
      assert.deepEqual(below(tree, 'app'), ['app/artifact', 'app/link', 'app/sub', 'app/sub/s']);
      assert.equal(at(tree, 'usr/bin/artifact').mode, '0751');
      assert.equal(at(tree, 'app2/link').type, 'file', 'a symlink named as the source is followed, as in the context');
      content(tree, 'app2/link', 'built\n');
      absent(tree, 'extra', 'out');
    },
  },
  {
    name: 'ARG and ENV expansion with --build-arg (defaults, :-, :+, quoting)',
    dockerfile: `ARG BASE=none
FROM \${BASE}
ARG DIR=/default
ARG NAME
ARG UNSET
ENV PREFIX=/opt/app GREETING="hello world" EMPTY=
ENV SUB=\${PREFIX}/sub ALT=\${UNSET:-fallback} PLUS=\${NAME:+set}
RUN mkdir -p $DIR $SUB && echo "$GREETING $NAME $ALT $PLUS" > $DIR/out && env | grep -v HOSTNAME | sort > $DIR/env
COPY f \${SUB}/
WORKDIR \${PREFIX}/w
ADD f $DIR/added
RUN echo '$PREFIX' "\${PREFIX}" > lit
`,
    files: { f: 'f\n' },
    buildArgs: ['--build-arg', 'NAME=bob', '--build-arg', 'DIR=/given'],
    check: (tree) => {
      content(tree, 'given/out', 'hello world bob fallback set\n');
      content(tree, 'opt/app/sub/f', 'f\n');
      content(tree, 'given/added', 'f\n');
      content(tree, 'opt/app/w/lit', '$PREFIX /opt/app\n');
    },
  },
  {
    name: 'USER and WORKDIR (relative, existing, made by a non-root user)',
    dockerfile: `FROM {{base}}
WORKDIR /srv
WORKDIR app
WORKDIR ./sub/../deep
RUN echo $PWD > pwd && id -u > uid0
USER user
RUN touch /tmp/u && id -u > /tmp/uid1 && id -g > /tmp/gid1 && mkdir -p /tmp/ud
USER 1234:5678
RUN touch /tmp/u2
WORKDIR /made/by/user
WORKDIR /etc
USER root
COPY f ./
`,
    files: { f: 'f\n' },
    run: ['sh', '-c', 'pwd; id -u; id -g'],
    check: (tree) => {
      content(tree, 'srv/app/deep/pwd', '/srv/app/deep\n');
      content(tree, 'tmp/uid1', '1000\n');
      assert.deepEqual(['tmp/u', 'tmp/ud', 'tmp/u2'].map((p) => owner(tree, p)), ['1000:1000', '1000:1000', '1234:5678']);
      assert.equal(owner(tree, 'made/by/user'), '0:0', 'WORKDIR makes directories as root');
      content(tree, 'etc/f', 'f\n');
    },
  },
  {
    name: "RUN's process credentials: supplementary groups as Docker sets them",
    dockerfile: `FROM {{base}}
RUN grep -e '^Uid' -e '^Gid' -e '^Groups' /proc/self/status > /root-creds
USER user
RUN grep -e '^Uid' -e '^Gid' -e '^Groups' /proc/self/status > /tmp/user-creds
`,
  },
  {
    name: 'heredocs: RUN <<EOF, RUN <<-EOT with a command, COPY <<EOF (expanded and quoted)',
    dockerfile: `FROM {{base}}
ENV WHO=builder
RUN <<EOF
mkdir -p /h
echo "line one" > /h/a
echo "$WHO" > /h/who
EOF
RUN <<-EOT sh
	echo tabbed > /h/b
	EOT
COPY <<EOF /h/c.txt
copied by $WHO
  indented
EOF
COPY <<'EOF' /h/d.txt
quoted $WHO
EOF
RUN cat <<EOF > /h/e
inline here
EOF
`,
    // the classic builder has no heredocs: the same files made without them
    dockerDockerfile: `FROM {{base}}
ENV WHO=builder
RUN mkdir -p /h && echo "line one" > /h/a && echo "$WHO" > /h/who
RUN echo tabbed > /h/b
RUN printf 'copied by builder\\n  indented\\n' > /h/c.txt
RUN printf 'quoted $WHO\\n' > /h/d.txt
RUN echo inline here > /h/e
`,
    run: ['cat', '/h/a', '/h/who', '/h/b', '/h/c.txt', '/h/d.txt', '/h/e'],
    check: (tree) => {
      content(tree, 'h/who', 'builder\n');
      content(tree, 'h/c.txt', 'copied by builder\n  indented\n');
      content(tree, 'h/d.txt', 'quoted $WHO\n');
      content(tree, 'h/e', 'inline here\n');
    },
  },
  {
    name: 'ADD of a local tar.gz and tar (extracted), of a plain .gz (copied)',
    dockerfile: `FROM {{base}}
ADD pkg.tar.gz /opt/
ADD plain.tar /plain
ADD single.gz /single/
ADD pkg.tar.gz /again/x.tgz
COPY pkg.tar.gz /copied/
`,
    prepare: (ctx) => {
      const src = join(ctx, '..', `${ctx.split('/').pop()}-src`);
      writeContext(src, { 'pkg/a': 'a\n', 'pkg/sub/b': { content: 'b\n' }, 'pkg/link': { symlink: 'a' }, 'pkg/hard': { hardlinkTo: 'pkg/a' } });
      execFileSync('chmod', ['700', join(src, 'pkg', 'sub')]);
      execFileSync('chown', ['-R', '1234:2345', join(src, 'pkg')]);
      execFileSync('tar', ['-C', src, '-czf', join(ctx, 'pkg.tar.gz'), 'pkg']);
      execFileSync('tar', ['-C', src, '-cf', join(ctx, 'plain.tar'), 'pkg']);
      execFileSync('sh', ['-c', 'gzip -c < "$1" > "$2"', 'sh', join(src, 'pkg', 'a'), join(ctx, 'single.gz')]);
    },
    check: (tree) => {
      assert.deepEqual(below(tree, 'opt/pkg'), ['opt/pkg/a', 'opt/pkg/hard', 'opt/pkg/link', 'opt/pkg/sub', 'opt/pkg/sub/b']);
      assert.equal(owner(tree, 'opt/pkg/a'), '1234:2345', 'ADD keeps the archive owners');
      assert.equal(at(tree, 'plain').type, 'dir');
      assert.equal(at(tree, 'single/single.gz').type, 'file');
      assert.equal(at(tree, 'copied/pkg.tar.gz').type, 'file');
    },
  },
  {
    name: 'VOLUME: the next RUN makes the declared directories',
    dockerfile: `FROM {{base}}
VOLUME /data ["/vol/a"]
VOLUME /vol/b
RUN echo x > /outside
`,
    check: (tree) => {
      assert.equal(at(tree, 'data').type, 'dir');
      assert.equal(at(tree, 'vol/b').type, 'dir');
    },
  },
  {
    name: 'VOLUME: RUN writes into a declared volume are discarded, COPY does not make the directory',
    dockerfile: `FROM {{base}}
RUN mkdir -p /data && echo before > /data/before
VOLUME /data /late
COPY f /copied
RUN echo after > /data/after && echo outside > /outside
`,
    files: { f: 'f\n' },
    check: (tree) => {
      content(tree, 'data/before', 'before\n');
      absent(tree, 'data/after');
    },
  },
  {
    name: 'ONBUILD triggers run when a later stage builds FROM the stage',
    dockerfile: `FROM {{base}} AS parent
ONBUILD RUN echo triggered > /trig
ONBUILD WORKDIR /from-trigger
RUN echo p > /p
FROM parent
WORKDIR /
RUN echo child > child
`,
    check: (tree) => {
      content(tree, 'trig', 'triggered\n');
      assert.equal(at(tree, 'from-trigger').type, 'dir');
      content(tree, 'child', 'child\n');
    },
  },
  {
    name: 'the reference Dockerfile (reference/docker-classic-builder.md)',
    dockerfile: REFERENCE_DOCKERFILE,
    files: REFERENCE_FILES,
    run: ['cat', '/x/a.txt', '/y', '/d/x', '/tmp/e'],
    check: (_tree, layers) => {
      assert.equal(layers.length, 6, 'base, WORKDIR, COPY, COPY, ADD, RUN');
      // gid 0 on both sides: this base's /etc/passwd has no entry for 65534 (the reference file shows
      // 65534:65534; its base presumably listed that user)
      assert.deepEqual(layers[5], ['d 0755 0:0 0 data', 'd 1777 0:0 0 tmp', 'f 0644 65534:0 2 tmp/e']);
    },
  },
];

/** The base for every case: busybox plus a few files of its own to delete, change and link to. */
function baseExtras(rootfs: string): void {
  writeContext(rootfs, {
    srv: { dir: true },
    'srv/base': { dir: true },
    'srv/base/file.txt': 'base\n',
    'srv/base/sub': { dir: true },
    'srv/base/sub/deep.txt': 'deep\n',
    'srv/base/h1': 'linked\n',
    'srv/base/h2': { hardlinkTo: 'srv/base/h1' },
    'srv/base-link': { symlink: 'base/file.txt' },
    'opt/keep': 'keep\n',
  });
}

test('build fidelity: shale and the classic builder make the same images from the same Dockerfiles', { timeout: 600_000 }, async (t) => {
  if (!requireTool(t, 'docker') || !requireTool(t, 'runc')) return;
  const work = tempDir(t);
  const root = tempStore(t);
  const prefix = `shale-fid-${uniqueSuffix()}`;
  const base = busyboxBase(t, work, root, `${prefix}:base`, { docker: true, extra: baseExtras });
  assert.ok(CASES.length >= 15);

  const runCase = async (st: TestContext, c: FidelityCase, index: number) => {
    const dir = join(work, `case-${index}`);
    const ctx = writeContext(join(dir, 'context'), { ...c.files, Dockerfile: c.dockerfile.replaceAll('{{base}}', base.ref) });
    c.prepare?.(ctx);
    const args = [...(c.buildArgs ?? [])];
    if (c.dockerfile.includes('${BASE}')) args.push('--build-arg', `BASE=${base.ref}`);
    const dockerArgs = [...args];
    if (c.dockerDockerfile) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'Dockerfile.docker'), c.dockerDockerfile.replaceAll('{{base}}', base.ref));
      dockerArgs.push('-f', join(dir, 'Dockerfile.docker'));
    }
    const { id } = shaleBuild(root, ctx, args, undefined, { classic: true });
    const shaleRef = `${prefix}-${index}:shale`;
    const dockerRef = `${prefix}-${index}:docker`;
    loadIntoDocker(st, root, id, shaleRef, dir);
    dockerBuild(st, ctx, dockerRef, dockerArgs);

    const { diffs, a } = compareImageTrees(st, dir, shaleRef, dockerRef);
    assert.deepEqual(diffs, [], `the final filesystems differ:\n${diffs.join('\n')}`);

    const mine = await dockerSavedImage(shaleRef);
    const theirs = await dockerSavedImage(dockerRef);
    assert.deepEqual(mine.layers, theirs.layers, 'the same layers, entry by entry');
    assert.deepEqual(await shaleImageLayers(root, id), mine.layers, 'Docker holds the layers shale stored');
    if (!c.dockerDockerfile) assert.deepEqual(historyLines(mine.config), historyLines(theirs.config), 'the same history');

    const cmd = c.run ?? ['true'];
    const out = dockerOk(['run', '--rm', '--entrypoint', '', shaleRef, ...cmd]);
    assert.equal(out, dockerOk(['run', '--rm', '--entrypoint', '', dockerRef, ...cmd]), `\`${cmd.join(' ')}\` prints the same in both images`);
    c.check?.(a, mine.layers);
  };

  for (const [i, c] of CASES.entries()) {
    await t.test(c.name, { todo: c.todo }, (st) => runCase(st, c, i));
  }

  await t.test('the reference Dockerfile: history created_by and config fields equal Docker\'s', async (st) => {
    const ctx = writeContext(join(work, 'reference'), { ...REFERENCE_FILES, Dockerfile: REFERENCE_DOCKERFILE.replaceAll('{{base}}', base.ref) });
    const { id } = shaleBuild(root, ctx, [], undefined, { classic: true });
    dockerBuild(st, ctx, `${prefix}-reference:docker`);
    const theirs = (await dockerSavedImage(`${prefix}-reference:docker`)).config;
    const mine = shaleJson<{ config: ImageConfigJson }>(['inspect', id], { root }).config;

    const createdBy = (c: ImageConfigJson) => c.history.map((h) => ({ created_by: h.created_by ?? '', empty_layer: h.empty_layer ?? false, author: h.author }));
    assert.deepEqual(createdBy(mine), createdBy(theirs));
    assert.equal(mine.author, theirs.author);
    assert.equal(mine.rootfs.diff_ids.length, theirs.rootfs.diff_ids.length);
    const FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'StopSignal', 'Healthcheck', 'OnBuild', 'Shell'];
    const pick = (c: ImageConfigJson) => Object.fromEntries(FIELDS.map((f) => [f, c.config[f] ?? null]));
    assert.deepEqual(pick(mine), pick(theirs));
    // and what the reference file recorded from the engine
    assert.deepEqual(pick(mine), {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'E=1', 'F=two words'],
      Cmd: ['-c', 'echo hi'],
      Entrypoint: ['/bin/sh'],
      WorkingDir: '/home/w',
      User: '65534',
      ExposedPorts: { '80/tcp': {} },
      Volumes: { '/data': {} },
      Labels: { a: 'b' },
      StopSignal: 'SIGTERM',
      Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5_000_000_000 },
      OnBuild: ['RUN echo child'],
      Shell: ['/bin/sh', '-c'],
    });
  });
});
