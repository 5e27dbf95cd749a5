import type { Analysis } from '../analyze/index.js';

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A self-contained HTML page of the analysis (placeholder until the full report lands). */
export function renderAnalysisHtml(a: Analysis): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escape(a.image)}</title></head><body><pre>${escape(JSON.stringify({ ...a, layers: a.layers.map(({ files: _f, ...l }) => l) }, null, 2))}</pre></body></html>`;
}
