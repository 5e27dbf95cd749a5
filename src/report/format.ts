/** Sizes as Docker prints them: powers of 1000, three significant digits ("52.4MB", "1.2kB", "512B"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(3))}${units[i]}`;
}

/** "3 minutes ago", as Docker words a time. */
export function timeAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 1) return 'Less than a second ago';
  const unit = (n: number, u: string) => `${n} ${u}${n === 1 ? '' : 's'} ago`;
  if (s < 60) return unit(s, 'second');
  const m = Math.round(s / 60);
  if (m === 1) return 'About a minute ago';
  if (m < 60) return unit(m, 'minute');
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour ago';
  if (h < 48) return unit(h, 'hour');
  const d = Math.round(s / 86400);
  if (d < 14) return unit(d, 'day');
  if (d < 60) return unit(Math.round(d / 7), 'week');
  if (d < 730) return unit(Math.round(d / 30), 'month');
  return unit(Math.round(d / 365), 'year');
}

/** An aligned text table: a header row and rows of cells, columns padded with three spaces as Docker's. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)))
      .join('')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** The 12-hex short form of an image ID. */
export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
