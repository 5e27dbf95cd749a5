import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { rewriteDockerfile } from './slim-rewrite.js';

const rewrite = (text: string, opts = {}) => rewriteDockerfile(text, opts);
const kinds = (text: string, opts = {}) => rewrite(text, opts).changes.map((c) => `${c.kind}:${c.lines.join(',')}:${c.applied}`);

describe('rewriteDockerfile: chaining RUNs', () => {
  test('the seed: two consecutive RUNs become one', () => {
    const r = rewrite('FROM b\nWORKDIR /home\nRUN dd if=/dev/zero of=50M.file bs=1M count=50\nRUN rm -rf 50M.file\n');
    assert.equal(r.text, 'FROM b\nWORKDIR /home\nRUN dd if=/dev/zero of=50M.file bs=1M count=50 \\\n && rm -rf 50M.file\n');
    assert.deepEqual(kinds('FROM b\nRUN a\nRUN b\n'), ['chain-runs:2,3:true']);
  });

  test('never across ENV, ARG, WORKDIR, USER, SHELL, COPY or FROM', () => {
    for (const between of ['ENV A=1', 'ARG X', 'WORKDIR /w', 'USER nobody', 'SHELL ["/bin/sh", "-c"]', 'COPY a /a', 'FROM c']) {
      const text = `FROM b\nRUN one\n${between}\nRUN two\n`;
      assert.equal(rewrite(text).text, text, between);
    }
  });

  test('comments and blank lines between RUNs stay; untouched lines keep their formatting', () => {
    const text = 'FROM b   AS   x\n# first\nRUN one\n\n# second\nRUN two\nLABEL  a="b c"\n';
    assert.equal(rewrite(text).text, 'FROM b   AS   x\n# first\nRUN one \\\n && two\n\n# second\nLABEL  a="b c"\n');
  });

  test('a part that changes shell state runs in a subshell; a later part with ; or || too', () => {
    const r = rewrite('FROM b\nRUN cd /tmp && make\nRUN export A=1\nRUN a; b\nRUN x || y\n');
    assert.equal(r.text, 'FROM b\nRUN ( cd /tmp && make ) \\\n && ( export A=1 ) \\\n && ( a; b ) \\\n && ( x || y )\n');
  });

  test('the first part keeps `;` (its status is its last command), the last part keeps its state changes', () => {
    assert.equal(rewrite('FROM b\nRUN a; b\nRUN cd /x\n').text, 'FROM b\nRUN a; b \\\n && cd /x\n');
  });

  test('exec form is quoted into shell words', () => {
    assert.equal(rewrite('FROM b\nRUN ["echo", "it\'s $HOME"]\nRUN ["true"]\n').text, "FROM b\nRUN echo 'it'\\''s $HOME' \\\n && true\n");
  });

  test('heredocs, RUN flags and a non-POSIX SHELL are left alone', () => {
    for (const text of [
      'FROM b\nRUN <<EOF\necho hi\nEOF\nRUN two\n',
      'FROM b\nRUN --network=none one\nRUN two\n',
      'FROM b\nSHELL ["pwsh", "-c"]\nRUN one\nRUN two\n',
    ]) {
      assert.equal(rewrite(text).text, text);
    }
  });

  test('multi-stage: RUNs chain within each stage, never across', () => {
    const r = rewrite('FROM a AS build\nRUN one\nRUN two\nFROM b\nRUN three\nRUN four\n');
    assert.equal(r.text, 'FROM a AS build\nRUN one \\\n && two\nFROM b\nRUN three \\\n && four\n');
  });

  test('the escape directive sets the continuation character', () => {
    assert.equal(rewrite('# escape=`\nFROM b\nRUN one\nRUN two\n').text, '# escape=`\nFROM b\nRUN one `\n && two\n');
  });
});

describe('rewriteDockerfile: moving a later rm', () => {
  test('a lone rm after inert instructions joins the RUN before them', () => {
    const r = rewrite('FROM b\nRUN make big\nLABEL x=y\nEXPOSE 80\nRUN rm -rf /big\n');
    assert.equal(r.text, 'FROM b\nRUN make big \\\n && rm -rf /big\nLABEL x=y\nEXPOSE 80\n');
    assert.deepEqual(r.changes.map((c) => c.kind), ['move-rm']);
  });

  test('not across WORKDIR or USER, and not an rm that uses variables', () => {
    for (const text of ['FROM b\nRUN make\nWORKDIR /x\nRUN rm -rf big\n', 'FROM b\nRUN make\nUSER u\nRUN rm f\n', 'FROM b\nRUN make\nENV D=/x\nRUN rm -rf $D\n']) {
      assert.equal(rewrite(text).text, text);
    }
  });
});

describe('rewriteDockerfile: package caches', () => {
  test('apt: lists and archives cleaned in the RUN that installs; --no-install-recommends proposed only', () => {
    const r = rewrite('FROM debian\nRUN apt-get update && apt-get install -y curl\n');
    assert.equal(r.text, 'FROM debian\nRUN apt-get update && apt-get install -y curl \\\n && apt-get clean \\\n && rm -rf /var/lib/apt/lists/*\n');
    assert.deepEqual(
      r.changes.map((c) => [c.kind, c.applied]),
      [['package-cleanup', true], ['no-install-recommends', false], ['cache-mount', false], ['slim-base', false]],
    );
  });

  test('--risky applies --no-install-recommends', () => {
    assert.match(rewrite('FROM x\nRUN apt-get install -y curl\n', { risky: true }).text, /apt-get install --no-install-recommends -y curl/);
  });

  test('apt lists are kept when a later RUN of the stage installs without updating', () => {
    const text = 'FROM x\nRUN apt-get update && apt-get install -y a\nCOPY f /f\nRUN apt-get install -y b\n';
    const out = rewrite(text).text;
    assert.doesNotMatch(out.split('COPY')[0]!, /lists/);
    assert.match(out.split('COPY')[1]!, /rm -rf \/var\/lib\/apt\/lists\/\*/);
  });

  test('pip, npm, yarn, apk, yum, dnf, zypper', () => {
    const out = rewrite('FROM x\nRUN pip install flask\nCOPY a /a\nRUN npm ci\nCOPY b /b\nRUN yarn install\nCOPY c /c\nRUN apk add curl\nCOPY d /d\nRUN dnf install -y git\nCOPY e /e\nRUN zypper in -y vim\n').text;
    assert.match(out, /pip install --no-cache-dir flask/);
    assert.match(out, /npm ci \\\n && npm cache clean --force/);
    assert.match(out, /yarn install \\\n && yarn cache clean/);
    assert.match(out, /apk add curl \\\n && rm -rf \/var\/cache\/apk\/\*/);
    assert.match(out, /dnf install -y git \\\n && dnf clean all/);
    assert.match(out, /zypper in -y vim \\\n && zypper clean -a/);
  });

  test('already clean: nothing added, cache mounts still proposed (they keep the cache for the next build)', () => {
    const text = 'FROM x\nRUN apt-get update && apt-get install -y --no-install-recommends a && rm -rf /var/lib/apt/lists/*\nRUN pip install --no-cache-dir b\nRUN apk add --no-cache c\n';
    assert.deepEqual(kinds(text.replace(/\nRUN pip/, '\nCOPY x /x\nRUN pip').replace(/\nRUN apk/, '\nCOPY y /y\nRUN apk')), ['cache-mount:2:false']);
  });
});

describe('rewriteDockerfile: cache mounts (--cache-mounts)', () => {
  const mounts = { cacheMounts: true };
  const APT = '--mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt/lists,sharing=locked';

  test('apt: both caches mounted (locked) instead of cleaned; proposed without the option, applied with it', () => {
    const text = 'FROM debian\nRUN apt-get update && apt-get install -y curl\n';
    const proposal = rewrite(text).changes.find((c) => c.kind === 'cache-mount')!;
    assert.deepEqual([proposal.lines, proposal.applied, proposal.cacheTargets], [[2], false, ['/var/cache/apt', '/var/lib/apt/lists']]);
    const r = rewrite(text, mounts);
    assert.equal(r.text, `FROM debian\nRUN ${APT} apt-get update && apt-get install -y curl\n`);
    assert.deepEqual(kinds(text, mounts), ['no-install-recommends:2:false', 'cache-mount:2:true', 'slim-base:1:false']);
  });

  test("apt: the mounted caches' clean-ups are dropped; other commands and formatting stay", () => {
    const text = 'FROM d\nRUN apt-get update \\\n    && apt-get install -y a \\\n    && apt-get clean \\\n    && rm -rf /var/lib/apt/lists/* \\\n    && rm -rf /opt/x\n';
    assert.equal(rewrite(text, mounts).text, `FROM d\nRUN ${APT} apt-get update \\\n && apt-get install -y a \\\n && rm -rf /opt/x\n`);
  });

  test('chained RUNs get the mounts once; the escape directive sets the continuation', () => {
    const r = rewrite('# escape=`\nFROM d\nRUN apt-get update\nRUN apt-get install -y a && apt-get clean\n', mounts);
    assert.equal(r.text, `# escape=\`\nFROM d\nRUN ${APT} apt-get update \`\n && apt-get install -y a\n`);
  });

  test('apt: not without its own update, nor when a later RUN reads the lists from the layer', () => {
    assert.ok(!kinds('FROM d\nRUN apt-get install -y a\n', mounts).some((k) => k.startsWith('cache-mount')));
    const out = rewrite('FROM d\nRUN apt-get update && apt-get install -y a\nCOPY f /f\nRUN apt-get install -y b\n', mounts).text;
    assert.doesNotMatch(out, /--mount/);
  });

  test('pip, npm, yarn as root; dnf and zypper locked; apk left to its clean-up', () => {
    const out = rewrite('FROM x\nRUN pip install flask\nCOPY a /a\nRUN npm ci && npm cache clean --force\nCOPY b /b\nRUN yarn install\nCOPY c /c\nRUN apk add curl\nCOPY d /d\nRUN dnf install -y git && dnf clean all\nCOPY e /e\nRUN zypper in -y vim\n', mounts).text;
    assert.match(out, /^RUN --mount=type=cache,target=\/root\/\.cache\/pip pip install flask$/m);
    assert.match(out, /^RUN --mount=type=cache,target=\/root\/\.npm npm ci$/m);
    assert.match(out, /^RUN --mount=type=cache,target=\/usr\/local\/share\/\.cache\/yarn yarn install$/m);
    assert.match(out, /^RUN apk add curl \\\n && rm -rf \/var\/cache\/apk\/\*$/m);
    assert.match(out, /^RUN --mount=type=cache,target=\/var\/cache\/dnf,sharing=locked --mount=type=cache,target=\/var\/cache\/libdnf5,sharing=locked --mount=type=cache,target=\/var\/cache\/yum,sharing=locked dnf install -y git$/m);
    assert.match(out, /^RUN --mount=type=cache,target=\/var\/cache\/zypp,sharing=locked zypper in -y vim$/m);
  });

  test("root's caches are not mounted under another USER; a RUN with flags is left alone", () => {
    const out = rewrite('FROM x\nUSER app\nRUN pip install flask\n', mounts).text;
    assert.match(out, /^RUN pip install --no-cache-dir flask$/m);
    const flagged = 'FROM x\nRUN --network=host apt-get update && apt-get install -y a\n';
    assert.equal(rewrite(flagged, mounts).text, flagged);
  });
});

describe('rewriteDockerfile: COPY --chmod/--chown', () => {
  const ctx = mkdtempSync(join(tmpdir(), 'slim-ctx-'));
  writeFileSync(join(ctx, 'app.sh'), '#!/bin/sh\n');
  chmodSync(join(ctx, 'app.sh'), 0o644);
  mkdirSync(join(ctx, 'src'));
  writeFileSync(join(ctx, 'src', 'x'), 'x');
  process.on('exit', () => rmSync(ctx, { recursive: true, force: true }));

  test('chmod +x of a copied file: the mode is the source mode plus x', () => {
    const r = rewrite('FROM b\nCOPY app.sh /usr/local/bin/app.sh\nRUN chmod +x /usr/local/bin/app.sh\n', { contextDir: ctx });
    assert.equal(r.text, 'FROM b\nCOPY --chmod=755 app.sh /usr/local/bin/app.sh\n');
  });

  test('chown -R and an octal chmod -R of a copied directory, relative to WORKDIR', () => {
    const r = rewrite('FROM b\nWORKDIR /srv\nCOPY src app\nRUN chown -R 1000:1000 app && chmod -R 750 /srv/app\n', { contextDir: ctx });
    assert.equal(r.text, 'FROM b\nWORKDIR /srv\nCOPY --chown=1000:1000 --chmod=750 src app\n');
  });

  test('left alone: a different path, a directory without -R, a RUN doing more, no context', () => {
    for (const [text, opts] of [
      ['FROM b\nCOPY app.sh /a.sh\nRUN chmod 755 /b.sh\n', { contextDir: ctx }],
      ['FROM b\nCOPY src /app\nRUN chmod 755 /app\n', { contextDir: ctx }],
      ['FROM b\nCOPY app.sh /a.sh\nRUN chmod 755 /a.sh && make\n', { contextDir: ctx }],
      ['FROM b\nCOPY app.sh /a.sh\nRUN chmod 755 /a.sh\n', {}],
    ] as const) {
      assert.equal(rewrite(text, opts).text, text);
    }
  });
});

test('a slim base variant is proposed, never applied', () => {
  const r = rewrite('FROM python:3.12\nRUN true\n');
  assert.equal(r.text, 'FROM python:3.12\nRUN true\n');
  assert.deepEqual(r.changes.map((c) => [c.kind, c.applied, c.description.split(' ')[1]]), [['slim-base', false, 'python:3.12-slim']]);
});
