/** What a build reports while it runs; the CLI renders these as plain lines or JSON. */
export type BuildEvent =
  | { type: 'step'; step: number; stage: string; line: number; text: string }
  | { type: 'cached'; step: number }
  | { type: 'output'; step: number; data: string }
  | { type: 'done'; step: number; seconds: number; layerBytes?: number }
  | { type: 'failed'; step: number; message: string; output: string }
  | { type: 'image'; id: string; tags: string[] };

export type BuildListener = (e: BuildEvent) => void;

/**
 * The running step's live line for a terminal `columns` wide: `=> #STEP TEXT  1.2s`, the text clipped so
 * the line never wraps (a wrapped line would not be redrawn in place). A terminal that reports no width
 * (undefined or 0, as some do) counts as 80 columns; line breaks in the text show as spaces.
 */
export function progressStatusLine(step: number, text: string, seconds: number, columns: number | undefined): string {
  const width = columns !== undefined && columns > 0 ? columns : 80;
  const head = `=> #${step} `;
  const tail = `  ${seconds.toFixed(1)}s`;
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, ' ');
  const room = width - 1 - head.length - tail.length;
  if (flat.length <= room) return `${head}${flat}${tail}`;
  if (room < 2) return `${head}${tail}`.slice(0, Math.max(width - 1, 0));
  return `${head}${flat.slice(0, room - 1)}…${tail}`;
}
