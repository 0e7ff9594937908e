// The install snippet, for the admin UI and the docs (widget/README.md shows its output).

export interface SnippetOptions {
  /** The natter origin (and path prefix, if any) serving /widget.js, e.g. `https://chat.example.com`. */
  host: string;
  /** The website's public key (`wk_…`). */
  websiteKey: string;
}

/** JSON string literal that is also safe inside an HTML <script> element. */
function jsString(s: string): string {
  return JSON.stringify(s).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The snippet a site owner pastes before `</body>` (or in `<head>`): it defines a queueing
 * `window.Natter` at once and loads /widget.js asynchronously, so it never blocks the page.
 */
export function renderInstallSnippet({ host, websiteKey }: SnippetOptions): string {
  const src = host.replace(/\/+$/, '') + '/widget.js';
  return (
    '<script>(function(w,d,k){w.Natter=w.Natter||function(){(w.Natter.q=w.Natter.q||[]).push(arguments)};' +
    "var s=d.createElement('script');s.async=true;s.src=" +
    jsString(src) +
    ";s.setAttribute('data-key',k);d.head.appendChild(s)})(window,document," +
    jsString(websiteKey) +
    ');</script>'
  );
}
