import { createHash } from 'node:crypto';
import { REPORT_CSS } from './html-assets.js';
import { escapeText } from './html-escape.js';

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

/**
 * A self-contained report page: the report stylesheet and an optional script inline, and a
 * Content-Security-Policy that allows only those two (by hash) and data: images. `body` is HTML the
 * caller escaped; `title` is plain text.
 */
export function htmlPage(options: { title: string; body: string; script?: string }): string {
  const script = options.script;
  const scriptSrc = script === undefined ? "'none'" : `'sha256-${sha256(script)}'`;
  const csp = `default-src 'none'; style-src 'sha256-${sha256(REPORT_CSS)}'; script-src ${scriptSrc}; img-src data:; base-uri 'none'; form-action 'none'`;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeText(options.title)}</title>`,
    `<style>${REPORT_CSS}</style>`,
    '</head><body><main>',
    options.body,
    `</main>${script === undefined ? '' : `<script>${script}</script>`}</body></html>`,
    '',
  ].join('\n');
}
