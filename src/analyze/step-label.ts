/**
 * A history `created_by` as the Dockerfile line it came from: `RUN dd ...`, `COPY file:… in /x`,
 * `ENV A=1`, from the classic builder's `#(nop)` and `|N ARGS /bin/sh -c` forms and BuildKit's
 * `RUN |N ARGS /bin/sh -c ... # buildkit` and `COPY a /b # buildkit`. Other strings pass through.
 */
export function stepLabel(createdBy: string): string {
  const nop = /#\(nop\)\s+(.*)$/s.exec(createdBy);
  if (nop) return nop[1]!.trim();
  const text = createdBy.replace(/ # buildkit$/, '');
  const run = /^(?:RUN )?(?:\|\d+ .*?)?\/bin\/(?:ba)?sh -c (.*)$/s.exec(text);
  if (run) return `RUN ${run[1]}`;
  return text;
}
