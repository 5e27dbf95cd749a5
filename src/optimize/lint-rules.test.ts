import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { lintDockerfile, failsThreshold } from './lint.js';
import { LINT_RULES, slimVariant, type Finding } from './lint-rules.js';
import { parseShellCommands } from './shell-commands.js';

/** The findings of one rule as [line, lines?] pairs. */
const hits = (rule: string, text: string): [number, number[] | undefined][] =>
  lintDockerfile(text)
    .filter((f) => f.rule === rule)
    .map((f) => [f.line, f.lines]);
const lines = (rule: string, text: string): number[] => hits(rule, text).map(([l]) => l);
const only = (rule: string, text: string): Finding => {
  const found = lintDockerfile(text).filter((f) => f.rule === rule);
  assert.equal(found.length, 1, JSON.stringify(found));
  return found[0]!;
};
const df = (...ls: string[]) => `${ls.join('\n')}\n`;

describe('shell commands of a RUN', () => {
  test('split at operators, quotes removed, redirections and keywords apart', () => {
    const cmds = parseShellCommands(`set -eux; if [ -f "a b" ]; then DEBIAN_FRONTEND=noninteractive sudo apt-get install -y x > /tmp/log 2>&1; fi && echo 'q;q' | tee o \\\n && cd /x`);
    assert.deepEqual(
      cmds.map((c) => [c.argv, c.redirects.map((r) => `${r.fd ?? ''}${r.op}${r.target}`), c.assignments]),
      [
        [['set', '-eux'], [], []],
        [['[', '-f', 'a b', ']'], [], []],
        [['apt-get', 'install', '-y', 'x'], ['>/tmp/log', '2>&1'], ['DEBIAN_FRONTEND=noninteractive']],
        [['echo', 'q;q'], [], []],
        [['tee', 'o'], [], []],
        [['cd', '/x'], [], []],
      ],
    );
  });
});

describe('SL1001 consecutive RUN (DL3059)', () => {
  test('adjacent RUNs are one finding naming every line', () => {
    const f = only('SL1001', df('FROM a', 'RUN echo 1', 'RUN echo 2', '# note', 'RUN echo 3'));
    assert.deepEqual([f.line, f.lines, f.hadolint, f.severity], [3, [2, 3, 5], 'DL3059', 'info']);
  });
  test('not across ENV/ARG/WORKDIR/USER/SHELL, nor across stages or different flags', () => {
    for (const sep of ['ENV A=1', 'ARG B', 'WORKDIR /x', 'USER nobody', 'SHELL ["/bin/bash", "-c"]']) {
      assert.deepEqual(lines('SL1001', df('FROM a', 'RUN echo 1', sep, 'RUN echo 2')), [], sep);
    }
    assert.deepEqual(lines('SL1001', df('FROM a', 'RUN echo 1', 'RUN --network=none echo 2')), []);
    assert.deepEqual(lines('SL1001', df('FROM a AS one', 'RUN echo 1', 'FROM one', 'RUN echo 2')), []);
  });
});

describe('SL1002/SL1003 apt-get update and lists (DL3009)', () => {
  test('update alone; lists left', () => {
    assert.deepEqual(lines('SL1002', df('FROM debian:12-slim', 'RUN apt-get update', 'RUN apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*')), [2]);
    const f = only('SL1003', df('FROM debian:12-slim', 'RUN apt-get update && apt-get install -y --no-install-recommends curl'));
    assert.deepEqual([f.line, f.hadolint], [2, 'DL3009']);
  });
  test('update, install and rm of the lists in one RUN; a cache mount; a build stage', () => {
    const good = df('FROM debian:12-slim', 'RUN apt-get update \\', ' && apt-get install -y --no-install-recommends curl \\', ' && rm -rf /var/lib/apt/lists/*');
    assert.deepEqual([...lines('SL1002', good), ...lines('SL1003', good)], []);
    assert.deepEqual(lines('SL1003', df('FROM debian:12-slim', 'RUN --mount=type=cache,target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends curl')), []);
    assert.deepEqual(lines('SL1003', df('FROM debian:12 AS build', 'RUN apt-get update && apt-get install -y gcc', 'FROM scratch', 'COPY --from=build /x /x')), []);
  });
});

describe('SL1004 --no-install-recommends (DL3015)', () => {
  test('flagged without it, once per RUN', () => {
    const f = only('SL1004', df('FROM debian:12-slim', 'RUN apt-get update && apt-get -y install curl && apt-get install -y git && rm -rf /var/lib/apt/lists/*'));
    assert.deepEqual([f.line, f.hadolint], [2, 'DL3015']);
  });
  test('the flag or the APT option', () => {
    assert.deepEqual(lines('SL1004', df('FROM debian:12-slim', 'RUN apt-get install -y --no-install-recommends curl')), []);
    assert.deepEqual(lines('SL1004', df('FROM debian:12-slim', 'RUN apt-get install -o APT::Install-Recommends=false -y curl')), []);
  });
});

describe('SL1005 apk --no-cache (DL3019)', () => {
  test('apk add without it', () => {
    const f = only('SL1005', df('FROM alpine:3.20', 'RUN apk update && apk add curl'));
    assert.deepEqual([f.line, f.hadolint], [2, 'DL3019']);
  });
  test('--no-cache, or the cache removed in the same RUN', () => {
    assert.deepEqual(lines('SL1005', df('FROM alpine:3.20', 'RUN apk add --no-cache curl')), []);
    assert.deepEqual(lines('SL1005', df('FROM alpine:3.20', 'RUN apk add --update curl && rm -rf /var/cache/apk/*')), []);
  });
});

describe('SL1006 pip --no-cache-dir (DL3042)', () => {
  test('pip, pip3 and python -m pip without it', () => {
    assert.deepEqual(lines('SL1006', df('FROM python:3.12-slim', 'RUN pip install flask', 'ENV X=1', 'RUN python3 -m pip install -r requirements.txt')), [2, 4]);
    assert.equal(only('SL1006', df('FROM python:3.12-slim', 'RUN pip3 install flask')).hadolint, 'DL3042');
  });
  test('the flag, ENV PIP_NO_CACHE_DIR, or an assignment before the command', () => {
    assert.deepEqual(lines('SL1006', df('FROM python:3.12-slim', 'RUN pip install --no-cache-dir flask')), []);
    assert.deepEqual(lines('SL1006', df('FROM python:3.12-slim', 'ENV PIP_NO_CACHE_DIR=1', 'RUN pip install flask')), []);
    assert.deepEqual(lines('SL1006', df('FROM python:3.12-slim', 'RUN PIP_NO_CACHE_DIR=1 pip install flask')), []);
  });
});

describe('SL1007 npm cache / SL1008 yarn cache (DL3060)', () => {
  test('npm ci and yarn install without their clean', () => {
    assert.deepEqual(lines('SL1007', df('FROM node:20-slim', 'COPY package.json ./', 'RUN npm ci')), [3]);
    const f = only('SL1008', df('FROM node:20-slim', 'COPY package.json yarn.lock ./', 'RUN yarn install --frozen-lockfile'));
    assert.deepEqual([f.line, f.hadolint], [3, 'DL3060']);
  });
  test('the clean in the same RUN', () => {
    assert.deepEqual(lines('SL1007', df('FROM node:20-slim', 'RUN npm ci && npm cache clean --force')), []);
    assert.deepEqual(lines('SL1008', df('FROM node:20-slim', 'RUN yarn install && yarn cache clean')), []);
    assert.deepEqual(lines('SL1008', df('FROM node:20-slim', 'RUN yarn build')), []);
  });
});

describe('SL1009 yum/dnf/zypper clean (DL3032, DL3040, DL3036)', () => {
  test('each manager with its hadolint ID', () => {
    const ids = (cmd: string) => lintDockerfile(df('FROM fedora:40', `RUN ${cmd}`)).filter((f) => f.rule === 'SL1009').map((f) => [f.line, f.hadolint]);
    assert.deepEqual(ids('yum install -y httpd'), [[2, 'DL3032']]);
    assert.deepEqual(ids('dnf -y install httpd'), [[2, 'DL3040']]);
    assert.deepEqual(ids('zypper install -y apache2'), [[2, 'DL3036']]);
  });
  test('the matching clean', () => {
    assert.deepEqual(lines('SL1009', df('FROM fedora:40', 'RUN yum install -y httpd && yum clean all')), []);
    assert.deepEqual(lines('SL1009', df('FROM fedora:40', 'RUN dnf install -y httpd && dnf clean all')), []);
    assert.deepEqual(lines('SL1009', df('FROM opensuse/leap', 'RUN zypper -n in apache2 && zypper clean -a')), []);
  });
});

describe('SL1010 created in one RUN, removed in a later one', () => {
  test('the seed case: dd of= then rm, relative to WORKDIR', () => {
    const f = only('SL1010', df('FROM busybox', 'WORKDIR /home', 'RUN dd if=/dev/zero of=50M.file bs=1M count=50', 'RUN rm -rf 50M.file'));
    assert.deepEqual([f.line, f.lines, f.severity], [4, [3, 4], 'error']);
    assert.match(f.message, /\/home\/50M\.file .* line 3 .* line 4/);
  });
  test('redirections, curl -o, wget, git clone, tar -C, touch, mkdir; cd and globs', () => {
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN echo hi > /tmp/x.log', 'RUN rm /tmp/x.log')), [3]);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN curl -fsSLo /opt/app.tgz https://e.x/app.tgz', 'RUN tar -xzf /opt/app.tgz -C /opt && rm /opt/app.tgz')), [3]);
    assert.deepEqual(lines('SL1010', df('FROM a', 'WORKDIR /src', 'RUN wget https://e.x/pkg.tar.gz', 'RUN rm -f /src/pkg.tar.gz')), [4]);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN cd /opt && git clone https://e.x/repo.git', 'RUN rm -rf /opt/repo/.git')), [3]);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN mkdir -p /build && tar -xf /a.tar -C /build', 'ENV X=1', 'RUN rm -rf /build')), [4]);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN touch /var/tmp/stamp', 'RUN rm -rf /var/tmp/*')), [3]);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN <<EOF', 'cd /opt', 'git clone --depth 1 https://e.x/b.git', 'EOF', 'RUN rm -rf /opt/b/.git')), [6]);
  });
  test('removed in the same RUN, or a different path, is no finding', () => {
    assert.deepEqual(lines('SL1010', df('FROM busybox', 'WORKDIR /home', 'RUN dd if=/dev/zero of=50M.file bs=1M count=50 && rm -rf 50M.file')), []);
    assert.deepEqual(lines('SL1010', df('FROM a', 'WORKDIR /a', 'RUN touch f', 'WORKDIR /b', 'RUN rm f')), []);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN echo x > /dev/null 2>&1', 'RUN rm -rf /dev/null')), []);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN mkdir /app', 'RUN rm -rf /app/cache')), []);
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN tar -xzf /x.tgz -C /opt', 'RUN rm -rf /opt/other')), []);
  });
});

describe('SL1011 chmod/chown after COPY', () => {
  test('a copied file or a file inside a copied directory', () => {
    const f = only('SL1011', df('FROM a', 'COPY start.sh /usr/local/bin/', 'RUN chmod +x /usr/local/bin/start.sh'));
    assert.deepEqual([f.line, f.lines], [3, [2, 3]]);
    assert.match(f.fix, /COPY --chmod=\+x/);
    assert.deepEqual(lines('SL1011', df('FROM a', 'WORKDIR /app', 'COPY . .', 'USER root', 'RUN chown -R app:app /app')), [5]);
  });
  test('a path no COPY put there', () => {
    assert.deepEqual(lines('SL1011', df('FROM a', 'COPY start.sh /usr/local/bin/', 'RUN mkdir /data && chown app /data')), []);
    assert.deepEqual(lines('SL1011', df('FROM a', 'COPY --chmod=755 start.sh /usr/local/bin/', 'RUN echo ok')), []);
    assert.deepEqual(lines('SL1011', df('FROM a', 'WORKDIR /app', 'COPY requirements.txt .', 'RUN chown app /app/log.txt')), []);
    assert.deepEqual(lines('SL1011', df('FROM a', 'WORKDIR /app', 'COPY . .', 'RUN mkdir -p /app/data && chown app /app/data')), []);
  });
});

describe('SL1012 ADD', () => {
  test('a URL (warning), a local archive (info), a plain file (DL3020)', () => {
    const url = only('SL1012', df('FROM a', 'ADD https://e.x/app.tar.gz /opt/'));
    assert.deepEqual([url.line, url.severity, url.hadolint], [2, 'warning', undefined]);
    const archive = only('SL1012', df('FROM a', 'ADD rootfs.tar.xz /'));
    assert.deepEqual([archive.line, archive.severity, archive.hadolint], [2, 'info', undefined]);
    const plain = only('SL1012', df('FROM a', 'ADD app.py /app/'));
    assert.deepEqual([plain.line, plain.hadolint], [2, 'DL3020']);
  });
  test('COPY is no finding', () => {
    assert.deepEqual(lines('SL1012', df('FROM a', 'COPY app.py /app/', 'COPY rootfs.tar.xz /')), []);
  });
});

describe('SL1013 COPY of the whole context before a dependency install', () => {
  test('COPY . . then npm ci / pip install -r', () => {
    const f = only('SL1013', df('FROM node:20-slim', 'WORKDIR /app', 'COPY . .', 'RUN npm ci && npm cache clean --force'));
    assert.deepEqual([f.line, f.lines], [3, [3, 4]]);
    assert.match(f.fix, /package\.json/);
    assert.deepEqual(lines('SL1013', df('FROM python:3.12-slim AS build', 'COPY . /src', 'RUN pip install --no-cache-dir -r /src/requirements.txt', 'FROM scratch')), [2]);
  });
  test('manifests first, the rest after the install', () => {
    assert.deepEqual(lines('SL1013', df('FROM node:20-slim', 'WORKDIR /app', 'COPY package.json package-lock.json ./', 'RUN npm ci && npm cache clean --force', 'COPY . .', 'RUN npm run build')), []);
  });
});

describe('SL1014 slim base image', () => {
  test('debian, python, node, temurin', () => {
    const f = only('SL1014', df('ARG V=3.12', 'FROM python:${V}', 'RUN echo'));
    assert.deepEqual([f.line, f.severity], [2, 'info']);
    assert.match(f.fix, /python:3\.12-slim/);
    assert.equal(slimVariant('debian:bookworm'), 'debian:bookworm-slim');
    assert.equal(slimVariant('docker.io/library/node:20-bookworm'), 'node:20-bookworm-slim');
    assert.equal(slimVariant('python:3.12-bookworm'), 'python:3.12-slim-bookworm');
    assert.equal(slimVariant('eclipse-temurin:21-jdk'), 'eclipse-temurin:21-jre');
  });
  test('already slim, no slim variant, or only a build stage', () => {
    assert.deepEqual(lines('SL1014', df('FROM python:3.12-slim')), []);
    assert.deepEqual(lines('SL1014', df('FROM ubuntu:24.04')), []);
    assert.deepEqual(lines('SL1014', df('FROM node:20 AS build', 'RUN echo', 'FROM node:20-slim', 'COPY --from=build /a /a')), []);
    assert.equal(slimVariant('node:20-alpine'), undefined);
  });
});

describe('SL1015 build toolchain in the final stage', () => {
  test('build-essential and -dev packages, a toolchain base image', () => {
    const f = only('SL1015', df('FROM debian:12-slim', 'RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev curl && rm -rf /var/lib/apt/lists/*'));
    assert.equal(f.line, 2);
    assert.match(f.message, /build-essential, libpq-dev/);
    assert.deepEqual(lines('SL1015', df('FROM golang:1.22', 'COPY . .', 'RUN go build -o /app .')), [1]);
  });
  test('a build stage, or tools removed in the same RUN', () => {
    assert.deepEqual(lines('SL1015', df('FROM debian:12 AS build', 'RUN apt-get install -y gcc make', 'FROM debian:12-slim', 'COPY --from=build /out /out')), []);
    assert.deepEqual(lines('SL1015', df('FROM alpine:3.20', 'RUN apk add --no-cache --virtual .deps gcc musl-dev && make && apk del .deps')), []);
  });
});

test('every rule has a unique SL ID; hadolint IDs are DL numbers', () => {
  const ids = LINT_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length);
  for (const r of LINT_RULES) {
    assert.match(r.id, /^SL1\d{3}$/);
    for (const h of r.hadolint ?? []) assert.match(h, /^DL\d{4}$/);
  }
});

test('failure threshold: at or above, none never', () => {
  const f = (severity: Finding['severity']): Finding => ({ rule: 'SL1001', line: 1, severity, message: '', fix: '' });
  assert.equal(failsThreshold([f('info')], 'info'), true);
  assert.equal(failsThreshold([f('info')], 'warning'), false);
  assert.equal(failsThreshold([f('warning')], 'warning'), true);
  assert.equal(failsThreshold([f('warning')], 'error'), false);
  assert.equal(failsThreshold([f('error')], 'none'), false);
  assert.equal(failsThreshold([], 'info'), false);
});

test('hits() keeps lines for multi-line findings', () => {
  assert.deepEqual(hits('SL1010', df('FROM a', 'RUN touch /x', 'RUN rm /x')), [[3, [2, 3]]]);
});

describe('ONBUILD triggers', () => {
  test('an ONBUILD RUN is linted as the RUN it is, at the ONBUILD line', () => {
    const text = df('FROM debian:12-slim', 'ONBUILD RUN apt-get update && apt-get install -y --no-install-recommends curl', 'ONBUILD RUN pip install x');
    assert.deepEqual(lines('SL1003', text), [2]);
    assert.deepEqual(lines('SL1006', text), [3]);
    // two triggers are two layers of the child image; a trigger is not next to the stage's own RUNs
    assert.deepEqual(hits('SL1001', text), [[3, [2, 3]]]);
    assert.deepEqual(lines('SL1001', df('FROM a', 'RUN echo 1', 'ONBUILD RUN echo 2', 'RUN echo 3')), [4]);
  });
  test('the triggers of a stage that never ships never run', () => {
    assert.deepEqual(lines('SL1003', df('FROM debian AS unused', 'ONBUILD RUN apt-get update', 'FROM debian:12-slim', 'RUN true')), []);
    assert.deepEqual(lines('SL1003', df('FROM debian AS base', 'ONBUILD RUN apt-get update', 'FROM base', 'RUN true')), [2]);
  });
  test('created in one RUN and removed by a trigger is no finding (the trigger runs in another build)', () => {
    assert.deepEqual(lines('SL1010', df('FROM a', 'RUN touch /big', 'ONBUILD RUN rm /big')), []);
  });
});

describe('cache and tmpfs mounts', () => {
  test('a tmpfs mount over the cache keeps it out of the layer, like a cache mount', () => {
    for (const type of ['cache', 'tmpfs']) {
      assert.deepEqual(lines('SL1005', df('FROM alpine', `RUN --mount=type=${type},target=/var/cache/apk apk add curl`)), [], type);
      assert.deepEqual(lines('SL1003', df('FROM debian', `RUN --mount=type=${type},target=/var/lib/apt/lists apt-get update && apt-get install -y --no-install-recommends x`)), [], type);
      assert.deepEqual(lines('SL1009', df('FROM fedora', `RUN --mount=type=${type},target=/var/cache/libdnf5 dnf install -y x`)), [], type);
      assert.deepEqual(lines('SL1006', df('FROM python', `RUN --mount=type=${type},target=/root/.cache/pip pip install x`)), [], type);
    }
    assert.deepEqual(lines('SL1005', df('FROM alpine', 'RUN --mount=type=tmpfs,target=/var/cache/foo apk add curl')), [2]);
    assert.deepEqual(lines('SL1005', df('FROM alpine', 'RUN --mount=type=bind,target=/var/cache/apk apk add curl')), [2]);
  });
});

describe('a clean counts only after the install', () => {
  test('yum, zypper, apt lists, apk, yarn: a clean before the install cleans nothing that stays', () => {
    assert.deepEqual(lines('SL1009', df('FROM centos', 'RUN yum clean all && yum install -y x')), [2]);
    assert.deepEqual(lines('SL1009', df('FROM suse', 'RUN zypper clean && zypper install -y x')), [2]);
    assert.deepEqual(lines('SL1003', df('FROM debian', 'RUN rm -rf /var/lib/apt/lists/* && apt-get update && apt-get install -y --no-install-recommends x')), [2]);
    assert.deepEqual(lines('SL1005', df('FROM alpine', 'RUN rm -rf /var/cache/apk/* && apk add x')), [2]);
    assert.deepEqual(lines('SL1008', df('FROM node', 'RUN yarn cache clean && yarn install')), [2]);
  });
  test('an install after the clean is not cleaned (hadolint passes it: its first clean comes after its first install)', () => {
    assert.deepEqual(lines('SL1009', df('FROM centos', 'RUN yum install -y a && yum clean all && yum install -y b')), [2]);
    assert.deepEqual(lines('SL1009', df('FROM centos', 'RUN yum install -y a && yum install -y b && yum clean all')), []);
  });
});

describe('dnf, dnf5 and microdnf (DL3040)', () => {
  test('upgrade, up, upgrade-minimal, up-min, reinstall, rei fill the cache too', () => {
    for (const sub of ['upgrade', 'up', 'upgrade-minimal', 'up-min', 'reinstall', 'rei', 'install', 'in']) {
      const f = only('SL1009', df('FROM fedora', `RUN dnf -y ${sub} x`));
      assert.equal(f.hadolint, 'DL3040', sub);
      assert.deepEqual(lines('SL1009', df('FROM fedora', `RUN dnf -y ${sub} x && dnf clean all`)), [], sub);
    }
  });
  test("dnf5's /var/cache/libdnf5 and /var/cache/yum are dnf's caches", () => {
    assert.deepEqual(lines('SL1009', df('FROM fedora', 'RUN dnf install -y x && rm -rf /var/cache/libdnf5')), []);
    assert.deepEqual(lines('SL1009', df('FROM fedora', 'RUN dnf install -y x && rm -rf /var/cache/yum/*')), []);
    assert.deepEqual(lines('SL1009', df('FROM fedora', 'RUN rm -rf /var/cache/libdnf5 && dnf install -y x')), [2]);
  });
  test('microdnf findings carry DL3040; microdnf clean all does not clean for dnf', () => {
    assert.equal(only('SL1009', df('FROM ubi-minimal', 'RUN microdnf install -y x')).hadolint, 'DL3040');
    assert.deepEqual(lines('SL1009', df('FROM ubi-minimal', 'RUN microdnf install -y x && microdnf clean all')), []);
    assert.equal(only('SL1009', df('FROM fedora', 'RUN dnf install -y x && microdnf clean all')).message.startsWith('dnf install'), true);
  });
});

describe("PIP_NO_CACHE_DIR as pip reads it", () => {
  test('export before pip install disables the cache; an export in a subshell ends with it', () => {
    assert.deepEqual(lines('SL1006', df('FROM python', 'RUN export PIP_NO_CACHE_DIR=1 && pip install x')), []);
    assert.deepEqual(lines('SL1006', df('FROM python', 'RUN (export PIP_NO_CACHE_DIR=1) && pip install x')), [2]);
    assert.deepEqual(lines('SL1006', df('FROM python', 'RUN pip install x && export PIP_NO_CACHE_DIR=1')), [2]);
    // an empty value leaves the cache on
    assert.deepEqual(lines('SL1006', df('FROM python', 'ENV PIP_NO_CACHE_DIR=', 'RUN pip install x')), [3]);
  });
  test('false, 0, off and no disable the cache too (hadolint says they do not; pip says they do)', (t) => {
    // pip's option callback sets cache_dir to False for any valid truth value: the real pip shows it
    const havePip = spawnSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' }).status === 0;
    if (!havePip) t.diagnostic('python3 -m pip is not installed: checked against the linter only');
    for (const value of ['false', '0', 'off', 'no', '1', 'true', '']) {
      const linted = lines('SL1006', df('FROM python', `ENV PIP_NO_CACHE_DIR=${value}`, 'RUN pip install x')).length > 0;
      assert.equal(linted, value === '', `PIP_NO_CACHE_DIR=${value}`);
      assert.equal(lines('SL1006', df('FROM python', `RUN PIP_NO_CACHE_DIR=${value} pip install x`)).length > 0, value === '', value);
      if (havePip) {
        const r = spawnSync('python3', ['-m', 'pip', 'cache', 'dir'], { encoding: 'utf8', env: { ...process.env, PIP_NO_CACHE_DIR: value } });
        assert.equal(/cache is disabled/.test(r.stdout + r.stderr), !linted, `pip with PIP_NO_CACHE_DIR=${value}: ${r.stdout}${r.stderr}`);
      }
    }
  });
});

describe('ADD sources read as Docker reads them', () => {
  test('quotes are removed before the rule looks at the source', () => {
    const archive = only('SL1012', df('FROM a', 'ADD "x.tgz" /opt/'));
    assert.deepEqual([archive.hadolint, archive.severity], [undefined, 'info']);
    assert.match(archive.message, /archive x\.tgz/);
    const url = only('SL1012', df('FROM a', "ADD 'http://example.com/a' /opt/"));
    assert.match(url.message, /^ADD http:\/\/example\.com\/a /);
    assert.equal(only('SL1012', df('FROM a', 'ADD "file.zip" /opt/')).hadolint, 'DL3020');
    assert.equal(only('SL1012', df('FROM a', 'ARG V=2', 'ADD "app-${V}.tar.gz" /opt/')).message.includes('app-2.tar.gz'), true);
  });
});
