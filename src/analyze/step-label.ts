/**
 * A history `created_by` as the Dockerfile line it came from: `RUN dd ...`, `COPY file:… in /x`,
 * `ENV A=1` (the classic builder's `#(nop)` and `|N ARGS /bin/sh -c` forms). Strings of other builders
 * (BuildKit writes the instruction itself) pass through.
 */
export function stepLabel(createdBy: string): string {
  const nop = /#\(nop\)\s+(.*)$/s.exec(createdBy);
  if (nop) return nop[1]!.trim();
  const run = /^(?:\|\d+ .*?)?\/bin\/(?:ba)?sh -c (.*)$/s.exec(createdBy);
  if (run) return `RUN ${run[1]}`;
  return createdBy;
}
