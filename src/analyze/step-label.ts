/**
 * A history `created_by` as the Dockerfile line it came from: `RUN dd ...`, `COPY file:… in /x`,
 * `ENV A=1`. Strings of other builders pass through.
 */
export function stepLabel(createdBy: string): string {
  const nop = /^\/bin\/sh -c #\(nop\)\s+(.*)$/s.exec(createdBy);
  if (nop) return nop[1]!.trim();
  const run = /^(?:\|\d+ (?:\S+=\S* )*)?\/bin\/(?:ba)?sh -c (.*)$/s.exec(createdBy);
  if (run) return `RUN ${run[1]}`;
  return createdBy;
}
