import assert from 'node:assert/strict';
import { isShaleError, type ErrorCode } from '../internal/errors.js';

/** Asserts `fn` throws a ShaleError with `code` whose message matches `message` (string: prefix). */
export function throwsShale(fn: () => unknown, code: ErrorCode, message?: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isShaleError(e), `expected a ShaleError, got ${String(e)}`);
    assert.equal(e.code, code, `code of: ${e.message}`);
    if (typeof message === 'string') assert.ok(e.message.startsWith(message), `"${e.message}" should start with "${message}"`);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

/**
 * The Dockerfile of shared/reference/docker-classic-builder.md (its history and config were measured on
 * Docker's classic builder), on the base image `base`; its context holds `a.txt` (`hello\n`) and `d/x`.
 */
export const referenceDockerfile = (base: string): string => `FROM ${base}
ARG V=1
MAINTAINER ailala
LABEL a=b
ENV E=\${V} F="two words"
WORKDIR /home/w
COPY a.txt /x/
COPY d /d
ADD a.txt /y
USER 65534
EXPOSE 80/tcp
VOLUME /data
SHELL ["/bin/sh", "-c"]
RUN echo $E > /tmp/e
RUN ["/bin/sh", "-c", "echo exec"]
HEALTHCHECK --interval=5s CMD true
STOPSIGNAL SIGTERM
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh"]
CMD ["-c", "echo hi"]
`;

/**
 * A build context whose .dockerignore has patterns, `**` and `!` exceptions and ignores the Dockerfile:
 * the context-hash unit test sums it, and the fidelity test builds it with Docker and with shale.
 */
export const dockerignoreContext: Readonly<Record<string, string>> = {
  '.dockerignore': '# comment\nlogs/*.log\n!logs/important.log\n**/*.o\nnode_modules\n.env\n*.md\n!README.md\nDockerfile\n',
  '.env': 'secret\n',
  'README.md': 'r\n',
  'NOTES.md': 'n\n',
  'logs/a.log': 'a\n',
  'logs/b.log': 'b\n',
  'logs/important.log': 'keep\n',
  'logs/keep/k.log': 'k\n',
  'src/main.c': 's\n',
  'src/main.o': 't\n',
  'src/deep/x.o': 'd\n',
  'node_modules/pkg/index.js': 'n\n',
};
