/** Text for HTML: the five markup characters as character references, safe in element content and quoted attributes. */
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A path or command from an image, readable and escaped: control characters shown as `\xHH`. */
export const escapeText = (s: string): string =>
  escapeHtml(s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));

/** At most `n` characters, an ellipsis marking the cut. */
export const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Escaped text with `code spans` (as the fixes write them) set as <code>. */
export const withCode = (s: string): string => escapeText(s).replace(/`([^`]+)`/g, '<code>$1</code>');
