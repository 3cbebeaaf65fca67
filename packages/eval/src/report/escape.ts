// Escaping for text placed in HTML or SVG (XML). Every string from ReportData goes through here.

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Escape text for HTML/XML element content and quoted attribute values. Control characters
 * other than tab, newline and carriage return (invalid in XML) become U+FFFD.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "\uFFFD")
    .replace(/[&<>"']/g, (ch) => ENTITIES[ch] ?? ch);
}
