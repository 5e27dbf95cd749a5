import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stepKind } from './fixes.js';
import { stepLabel } from './step-label.js';

test('stepLabel reads the classic builder\'s and BuildKit\'s created_by alike', () => {
  const cases: [string, string][] = [
    ['/bin/sh -c #(nop)  ENV A=1', 'ENV A=1'],
    ['/bin/sh -c #(nop) COPY file:abc in /x ', 'COPY file:abc in /x'],
    ['|1 V=2 /bin/sh -c dd if=/dev/zero of=f', 'RUN dd if=/dev/zero of=f'],
    ['RUN /bin/sh -c dd if=/dev/zero of=f # buildkit', 'RUN dd if=/dev/zero of=f'],
    ['RUN |2 A=1 B= /bin/sh -c echo hi # buildkit', 'RUN echo hi'],
    ['RUN echo exec form # buildkit', 'RUN echo exec form'],
    ['COPY a.txt /x/ # buildkit', 'COPY a.txt /x/'],
    ['WORKDIR /w', 'WORKDIR /w'],
  ];
  for (const [createdBy, label] of cases) assert.equal(stepLabel(createdBy), label, createdBy);
  assert.deepEqual(
    ['RUN /bin/sh -c true # buildkit', 'COPY a /b # buildkit', 'ADD a.tar /x/ # buildkit', 'WORKDIR /w', 'ENV A=1'].map(stepKind),
    ['RUN', 'COPY', 'ADD', 'WORKDIR', 'OTHER'],
  );
});
