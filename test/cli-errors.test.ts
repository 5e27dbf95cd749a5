/**
 * Every command ends after it reports. Each error path the suite knows (bad references and flags, extra
 * arguments, missing and corrupt inputs, outputs that cannot be written, bad Dockerfiles, unusable store
 * roots, a build by an unprivileged user) runs under a short timeout and must exit 2 with one `error:`
 * line. The process also ends when something it opened is still holding the event loop, and a reader
 * that closes stdout early ends it quietly.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { writeContext } from './support/build.js';
import { makeBusyboxRootfs, tarDir } from './support/rootfs.js';
import { assertCliError, REPO_ROOT, SHALE_BIN, shaleOk, tempDir, tempStore, type ShaleResult } from './support/shale.js';

/** Long enough for any of these on a loaded machine; a hang is minutes. */
const TIMEOUT_MS = 20_000;

interface Bounded extends ShaleResult {
  timedOut: boolean;
}

/** Runs `node bin/shale.mjs ARGV` (no implicit --root), killing it after TIMEOUT_MS. */
function runBounded(argv: readonly string[], opts: { cwd?: string; wrapper?: string[] } = {}): Promise<Bounded> {
  const env = { ...process.env };
  delete env.CI;
  const [cmd, ...args] = [...(opts.wrapper ?? []), process.execPath, SHALE_BIN, ...argv];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut });
    });
  });
}

interface ErrorCase {
  name: string;
  argv: string[];
  /** What the one error line must say. */
  says: RegExp;
  /** What the hint line must say, where one is owed. */
  hint?: RegExp;
  wrapper?: string[];
}

/** Runs each case (two at a time) and checks: no hang, exit 2, exactly one `error:` line saying what it should. */
async function expectErrors(t: TestContext, cases: ErrorCase[]): Promise<void> {
  const queue = [...cases];
  const failures: string[] = [];
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const started = Date.now();
      const r = await runBounded(c.argv, { wrapper: c.wrapper });
      const took = Date.now() - started;
      try {
        assert.ok(!r.timedOut, `${c.name}: still running after ${TIMEOUT_MS} ms (shale ${c.argv.join(' ')})\nstderr: ${r.stderr}`);
        // a build's progress lines (`#N ...`) may come first; then one error line and an optional hint
        const progress = r.stderr.split('\n').filter((l) => /^#\d+ /.test(l));
        const rest = r.stderr.split('\n').filter((l) => !/^#\d+ /.test(l)).join('\n');
        const line = assertCliError({ ...r, stderr: rest }, c.name);
        assert.ok(progress.length === 0 || c.argv.includes('build'), `${c.name}: progress lines outside a build\n${r.stderr}`);
        assert.match(line, c.says, c.name);
        if (c.hint) assert.match(rest, new RegExp(`^hint: ${c.hint.source}`, 'm'), `${c.name}: the hint`);
        t.diagnostic(`${c.name}: ${took} ms: ${line}`);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  };
  await Promise.all([worker(), worker()]);
  assert.deepEqual(failures, []);
}

/** A store holding bb:1 (a busybox rootfs), and a scratch directory. */
function fixture(t: TestContext): { root: string; work: string; rootfsTar: string } {
  const work = tempDir(t, 'shale-cli-errors-');
  const root = tempStore(t);
  const rootfsTar = tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar'));
  shaleOk(['import', rootfsTar, 'bb:1'], { root });
  return { root, work, rootfsTar };
}

const isRoot = process.getuid?.() === 0;

/** True when this runs as root (mounts, other users); otherwise skips, or fails in CI where root is given. */
function requireRoot(t: TestContext): boolean {
  if (isRoot) return true;
  if (process.env.CI === 'true') throw new Error('these cases need root, which CI (CI=true) provides');
  t.skip('needs root');
  return false;
}

/** A read-only tmpfs on a new directory, unmounted and removed when the test ends. */
function readOnlyMount(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'shale-ro-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  t.after(() => {
    spawnSync('umount', [dir]);
    rmdirSync(dir);
  });
  assert.equal(r.status, 0, `mount a read-only tmpfs: ${r.stderr}`);
  return dir;
}

test('CLI errors: every error path the suite knows ends at once with exit 2 and one error line', async (t) => {
  const { root, work } = fixture(t);
  const at = (...args: string[]) => ['--root', root, ...args];
  const garbage = join(work, 'garbage.tar');
  writeFileSync(garbage, Buffer.alloc(4096, 'x'));
  const saved = join(work, 'bb.tar');
  shaleOk(['save', 'bb:1', '-o', saved], { root });
  const truncated = join(work, 'truncated.tar');
  writeFileSync(truncated, readFileSync(saved));
  truncateSync(truncated, Math.floor(readFileSync(saved).length / 2));
  const context = (name: string, dockerfile: string) => writeContext(join(work, name), { Dockerfile: dockerfile, 'a.txt': 'a\n' });
  await expectErrors(t, [
    { name: 'an invalid reference', argv: at('inspect', 'Bad:REF!'), says: /invalid image reference "Bad:REF!"/ },
    { name: 'an image not in the store', argv: at('history', 'nosuch:1'), says: /nosuch/ },
    { name: 'rmi of an image not in the store', argv: at('rmi', 'nosuch:1'), says: /nosuch/ },
    { name: 'an unknown flag', argv: at('images', '--bogus'), says: /unknown option '--bogus'/ },
    { name: 'a flag value not among its choices', argv: at('analyze', 'bb:1', '--format', 'xml'), says: /xml/ },
    { name: 'a missing required argument', argv: at('tag', 'bb:1'), says: /missing required argument/ },
    { name: 'an extra argument to images', argv: at('images', 'bb', 'extra'), says: /too many arguments for 'images'/ },
    { name: 'an extra argument to tag', argv: at('tag', 'bb:1', 'x:1', 'y:1'), says: /too many arguments for 'tag'/ },
    { name: 'an extra argument to inspect', argv: at('inspect', 'bb:1', 'more'), says: /too many arguments for 'inspect'/ },
    { name: 'an extra argument to prune', argv: at('prune', 'everything'), says: /too many arguments for 'prune'/ },
    { name: 'a malformed images pattern', argv: at('images', 'bb:['), says: /syntax error in pattern "bb:\["/ },
    { name: 'a missing tarball', argv: at('import', join(work, 'missing.tar'), 'x:1'), says: /missing\.tar/ },
    { name: 'a missing archive', argv: at('load', '-i', join(work, 'missing.tar')), says: /missing\.tar/ },
    { name: 'an archive that is not a tar', argv: at('load', '-i', garbage), says: /garbage\.tar|tar/ },
    { name: 'a truncated archive', argv: at('analyze', `docker-archive:${truncated}`), says: /truncated/ },
    { name: 'a missing --compare image', argv: at('analyze', 'bb:1', '--compare', 'nosuch:1'), says: /nosuch/ },
    { name: 'export into a missing directory', argv: at('export', 'bb:1', '-o', '/nonexistent-dir/x.tar'), says: /cannot write \/nonexistent-dir\/x\.tar: directory \/nonexistent-dir does not exist/ },
    { name: 'save into a missing directory', argv: at('save', 'bb:1', '-o', '/nonexistent-dir/x.tar'), says: /cannot write \/nonexistent-dir\/x\.tar: directory/ },
    { name: 'analyze -o into a missing directory', argv: at('analyze', 'bb:1', '-o', '/nonexistent-dir/r.txt'), says: /cannot write \/nonexistent-dir\/r\.txt: directory/ },
    { name: 'a missing build context', argv: at('build', join(work, 'no-context')), says: /no-context/ },
    { name: 'an unknown instruction', argv: at('build', context('unknown', 'FROM bb:1\nFROBNICATE x\n')), says: /Dockerfile:2/ },
    { name: 'a base image not in the store', argv: at('build', context('nobase', 'FROM nosuch:1\nCOPY a.txt /\n')), says: /nosuch/ },
    { name: 'COPY of a missing file', argv: at('build', context('nofile', 'FROM bb:1\nCOPY missing.txt /\n')), says: /missing\.txt/ },
    { name: 'lint of a missing Dockerfile', argv: at('lint', '-f', join(work, 'no', 'Dockerfile')), says: /Dockerfile/ },
    { name: 'a store root on /proc', argv: ['--root', '/proc/shale-store', 'images'], says: /\/proc\/shale-store is on proc, a kernel pseudo-filesystem/ },
    { name: 'a store root on /sys', argv: ['--root', '/sys/shale-store', 'images'], says: /\/sys\/shale-store is on sysfs, a kernel pseudo-filesystem/ },
  ]);
});

test('CLI errors: outputs and store roots on a read-only filesystem', async (t) => {
  if (!requireRoot(t)) return;
  const { root } = fixture(t);
  const ro = readOnlyMount(t);
  await expectErrors(t, [
    { name: 'export into a read-only directory', argv: ['--root', root, 'export', 'bb:1', '-o', join(ro, 'x.tar')], says: /cannot write .*\/x\.tar: .* is on a read-only filesystem/ },
    { name: 'save into a read-only directory', argv: ['--root', root, 'save', 'bb:1', '-o', join(ro, 'x.tar')], says: /cannot write .*\/x\.tar: .* is on a read-only filesystem/ },
    { name: 'a store root on a read-only filesystem', argv: ['--root', join(ro, 'store'), 'images'], says: /store root .*\/store is on a read-only filesystem/ },
  ]);
});

test('CLI errors: an unprivileged user without subordinate ids builds COPY and RUN; a chown to another id fails naming /etc/subuid', async (t) => {
  if (!requireRoot(t)) return;
  const work = tempDir(t, 'shale-cli-nonroot-');
  chmodSync(work, 0o755); // mkdtemp makes it 0700: the user must reach its store
  // nobody has no /etc/subuid range: its user namespace maps its own id alone
  const nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'env', '-u', 'XDG_RUNTIME_DIR'];
  t.after(() => {
    const pid = Number(readFileSync(join(tmpdir(), 'shale-65534', 'userns.pid'), 'latin1'));
    if (pid > 0) process.kill(pid, 'SIGKILL');
  });
  const rootfsTar = tarDir(makeBusyboxRootfs(join(work, 'rootfs')), join(work, 'rootfs.tar'));
  const store = join(work, 'store');
  mkdirSync(store);
  chownSync(store, 65534, 65534);
  const imported = await runBounded(['--root', store, 'import', rootfsTar, 'bb:1'], { wrapper: nobody });
  assert.equal(imported.status, 0, `import as nobody: ${imported.stderr}`);
  const context = (name: string, dockerfile: string) => writeContext(join(work, name), { Dockerfile: dockerfile, 'a.txt': 'a\n' });
  const built = await runBounded(['--root', store, 'build', '-t', 'ok:1', context('ok', 'FROM bb:1\nCOPY a.txt /a.txt\nRUN echo hi > /b.txt\n')], { wrapper: nobody });
  assert.equal(built.status, 0, `COPY and RUN as nobody: ${built.stderr}`);
  await expectErrors(t, [
    { name: 'COPY --chown to an id the namespace does not map', argv: ['--root', store, 'build', context('copy', 'FROM bb:1\nCOPY --chown=1000:1000 a.txt /a.txt\n')], says: /does not map that id \(see \/etc\/subuid\)/, hint: /.*\/etc\/subuid/, wrapper: nobody },
    { name: 'RUN chown to an id the namespace does not map', argv: ['--root', store, 'build', context('run', 'FROM bb:1\nRUN touch /x && chown 1000 /x\n')], says: /returned a non-zero code: 1/, hint: /.*\/etc\/subuid/, wrapper: nobody },
  ]);
});

test('CLI: the process ends when the command returns, whatever it left open', async (t) => {
  const { root } = fixture(t);
  // a handle that would keep Node alive forever, opened before the CLI runs (as a leaked worker or socket would)
  const script = `setInterval(() => {}, 1000); require(${JSON.stringify(join(REPO_ROOT, 'dist', 'shale.cjs'))}).main(process.argv.slice(1));`;
  for (const argv of [['--root', root, 'inspect', 'nosuch:1'], ['--root', root, 'images', '--format', 'json']]) {
    const r = spawnSync(process.execPath, ['-e', script, '--', ...argv], { encoding: 'utf8', timeout: TIMEOUT_MS });
    assert.notEqual(r.signal, 'SIGTERM', `shale ${argv.join(' ')} did not end after it returned`);
    if (argv.includes('inspect')) assertCliError({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr }, 'inspect nosuch:1');
    else assert.equal(r.status, 0, r.stderr);
  }
});

test('CLI: save and export to a reader that stops early end quietly, killed by SIGPIPE as Docker is', async (t) => {
  const { root } = fixture(t);
  for (const argv of [['save', 'bb:1', '-o', '-'], ['export', 'bb:1', '-o', '-']]) {
    const r = await new Promise<{ signal: NodeJS.Signals | null; status: number | null; stderr: string; got: number }>((resolve, reject) => {
      const child = spawn(process.execPath, [SHALE_BIN, '--root', root, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let got = 0;
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      // read the first chunk, then close the pipe as `head -c 10` does
      child.stdout.once('data', (c: Buffer) => {
        got = c.length;
        child.stdout.destroy();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
      child.on('error', reject);
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        resolve({ status, signal, stderr, got });
      });
    });
    assert.ok(r.got > 0, `${argv.join(' ')} wrote something first`);
    assert.equal(r.signal, 'SIGPIPE', `${argv.join(' ')}: ended by ${r.signal ?? `exit ${r.status}`}\n${r.stderr}`);
    assert.equal(r.stderr, '', `${argv.join(' ')} prints nothing on a closed pipe`);
  }
  // --version alone is answered before the CLI is loaded; with a command, by the CLI: the same end either way
  for (const argv of [['--version'], ['--version', 'images']]) {
    const r = spawnSync('bash', ['-c', '"$@" | { exec 0<&-; sleep 0.5; }; echo "${PIPESTATUS[0]}"', 'bash', process.execPath, SHALE_BIN, ...argv], { encoding: 'utf8', timeout: TIMEOUT_MS });
    assert.equal(r.stdout.trim(), String(128 + 13), `${argv.join(' ')} into a closed pipe: ended by SIGPIPE\n${r.stderr}`);
    assert.equal(r.stderr, '', `${argv.join(' ')} prints nothing on a closed pipe`);
  }
});
