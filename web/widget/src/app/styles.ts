// The widget's stylesheet, injected into its own iframe (so the host page's CSS cannot reach
// it, and ours cannot leak out). Themed through CSS variables set from the configuration.
export const css = `
*,*::before,*::after{box-sizing:border-box}
html,body{margin:0;padding:0;background:transparent;color-scheme:normal;height:100%;overflow:hidden}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2330}
button,input,textarea{font:inherit;color:inherit}
button{cursor:pointer}
:focus-visible{outline:2px solid var(--nt-primary);outline-offset:2px}
.sr{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
.closed{position:absolute;bottom:16px;display:flex;flex-direction:column;gap:10px;width:max-content;max-width:300px}
.closed.right{right:16px;align-items:flex-end}.closed.left{left:16px;align-items:flex-start}
.launcher{position:relative;display:inline-flex;align-items:center;gap:8px;height:56px;min-width:56px;padding:0 16px;border:0;border-radius:28px;background:var(--nt-primary);color:var(--nt-on-primary);box-shadow:0 4px 14px rgba(0,0,0,.2);white-space:nowrap;font-weight:600}
.launcher svg{width:24px;height:24px;flex:none}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#d92d20;color:#fff;font-size:12px;line-height:20px;text-align:center;font-weight:700}
.bubble{position:relative;max-width:260px;padding:12px 30px 12px 14px;border-radius:12px;background:#fff;box-shadow:0 4px 14px rgba(0,0,0,.18);cursor:pointer;text-align:left;border:0}
.bubble .x{position:absolute;top:4px;right:4px;width:22px;height:22px;border:0;background:transparent;border-radius:11px;color:#667}
.panel{position:absolute;top:0;right:0;bottom:0;left:0;display:flex;flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.25);min-width:0}
@media (max-width:479px){.panel{border-radius:0}}
.head{display:flex;align-items:center;gap:10px;padding:12px 12px 12px 16px;background:var(--nt-primary);color:var(--nt-on-primary);flex:none}
.head img{width:32px;height:32px;border-radius:8px;object-fit:cover;background:#fff}
.head .t{flex:1;min-width:0}
.head h1{margin:0;font-size:16px;line-height:1.2;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.head .st{font-size:12px;opacity:.9;display:flex;align-items:center;gap:6px}
.dot{width:8px;height:8px;border-radius:4px;background:#9aa0aa}.dot.on{background:#2ecc71}
.icon{width:36px;height:36px;border:0;border-radius:18px;background:transparent;color:inherit;display:inline-flex;align-items:center;justify-content:center;flex:none}
.icon:hover{background:rgba(127,127,127,.18)}
.icon svg{width:20px;height:20px}
.banner{padding:6px 12px;font-size:12px;background:#fff4d6;color:#6b4e00;flex:none}
.banner.err{background:#fdecea;color:#8a1c12}
.body{flex:1;min-height:0;overflow-y:auto;padding:12px 12px 4px;display:flex;flex-direction:column;gap:6px;overscroll-behavior:contain}
.welcome{align-self:stretch;padding:10px 12px;border-radius:10px;background:#f3f4f7;color:#333a48;white-space:pre-wrap}
.more{align-self:center;border:0;background:transparent;color:var(--nt-primary-text);padding:4px 8px;font-size:12px;text-decoration:underline}
.log{display:flex;flex-direction:column;gap:6px;margin:0;padding:0;list-style:none}
.msg{display:flex;flex-direction:column;max-width:82%}
.msg.visitor{align-self:flex-end;align-items:flex-end}
.msg.agent{align-self:flex-start;align-items:flex-start}
.msg.system{align-self:center;max-width:90%;color:#667;font-size:12px;text-align:center}
.who{display:flex;align-items:center;gap:6px;font-size:12px;color:#667;margin:4px 0 2px}
.who img{width:20px;height:20px;border-radius:10px;object-fit:cover}
.txt{padding:8px 12px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word;overflow-wrap:anywhere}
.visitor .txt{background:var(--nt-primary);color:var(--nt-on-primary);border-bottom-right-radius:4px}
.agent .txt{background:#f0f1f4;border-bottom-left-radius:4px}
.deleted .txt{font-style:italic;opacity:.7}
.meta{font-size:11px;color:#7a8090;margin-top:2px;display:flex;gap:4px;align-items:center}
.meta.read{color:var(--nt-primary-text)}
.meta button{border:0;background:transparent;color:#b42318;text-decoration:underline;padding:0;font-size:11px}
.typing{font-size:12px;color:#667;padding:2px 4px;min-height:18px}
.queue{font-size:12px;color:#445;background:#f3f4f8;border-radius:8px;padding:6px 10px;margin:4px 0}
.foot{flex:none;border-top:1px solid #e6e8ee;padding:8px;display:flex;align-items:flex-end;gap:4px;position:relative}
.foot textarea{flex:1;min-width:0;resize:none;border:0;outline:0;max-height:120px;min-height:36px;padding:8px;background:transparent}
.foot textarea:focus-visible{outline:0}
.foot:focus-within{box-shadow:inset 0 2px 0 var(--nt-primary)}
.send{background:var(--nt-primary);color:var(--nt-on-primary)}
.send:disabled{opacity:.5;cursor:default}
.emojis{position:absolute;bottom:52px;left:8px;right:8px;display:grid;grid-template-columns:repeat(auto-fill,minmax(36px,1fr));gap:2px;padding:8px;background:#fff;border:1px solid #e6e8ee;border-radius:10px;box-shadow:0 4px 14px rgba(0,0,0,.12);max-width:320px}
.emojis button{border:0;background:transparent;font-size:20px;height:36px;border-radius:6px}
.emojis button:hover,.emojis button:focus-visible{background:#f0f1f4}
form.form{display:flex;flex-direction:column;gap:10px;padding:4px 2px}
.form p{margin:0;color:#333a48}
.field{display:flex;flex-direction:column;gap:4px}
.field label{font-size:13px;font-weight:600}
.field label small{font-weight:400;color:#7a8090}
.field input,.field textarea{width:100%;padding:8px 10px;border:1px solid #cfd3dc;border-radius:8px;background:#fff}
.field textarea{min-height:90px;resize:vertical}
.field [aria-invalid=true]{border-color:#d92d20}
.field .e{font-size:12px;color:#b42318}
.primary{align-self:stretch;border:0;border-radius:8px;padding:10px 12px;background:var(--nt-primary);color:var(--nt-on-primary);font-weight:600}
.primary:disabled{opacity:.6;cursor:default}
.done{padding:16px;border-radius:10px;background:#ecfdf3;color:#05603a}
`;

/** `#rgb` / `#rrggbb` → a readable text colour on it (black or white). */
export function contrastOn(color: string): string {
  const hex = parseHex(color);
  if (!hex) return '#fff';
  const [r, g, b] = hex.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  }) as [number, number, number];
  const l = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // Contrast against white vs. against black.
  return (1.05 / (l + 0.05) >= (l + 0.05) / 0.05) ? '#fff' : '#111';
}

/** The primary colour when it is readable as text on white, else a dark fallback. */
export function primaryText(color: string): string {
  const hex = parseHex(color);
  if (!hex) return '#1f4fd1';
  return contrastOn(color) === '#fff' ? color : '#334';
}

function parseHex(color: string): [number, number, number] | null {
  const m = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!m || !m[1]) return null;
  let h = m[1];
  if (h.length === 3) h = h.replace(/(.)/g, '$1$1');
  const n = parseInt(h, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A safe colour value for CSS (only hex colours are accepted from the configuration). */
export function safeColor(color: string | null | undefined, fallback = '#2b59c3'): string {
  return color && parseHex(color) ? (color.startsWith('#') ? color : '#' + color) : fallback;
}
