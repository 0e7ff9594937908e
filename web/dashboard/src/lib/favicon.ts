// The favicon with the unread badge, drawn on a canvas. The link element carries the count in
// `data-badge` too (for tests and for people who inspect it).
import { badgeText } from './notify';

function link(): HTMLLinkElement {
  let el = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!el) {
    el = document.createElement('link');
    el.rel = 'icon';
    document.head.appendChild(el);
  }
  return el;
}

export function setFaviconBadge(count: number): void {
  const el = link();
  el.setAttribute('data-badge', String(Math.max(0, count)));
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const c = canvas.getContext('2d');
  if (!c) return;
  c.fillStyle = '#4f46e5';
  c.beginPath();
  c.roundRect?.(4, 4, 56, 56, 14);
  if (!c.roundRect) c.rect(4, 4, 56, 56);
  c.fill();
  c.fillStyle = '#fff';
  c.font = 'bold 40px system-ui, sans-serif';
  c.textAlign = 'center';
  c.textBaseline = 'middle';
  c.fillText('n', 32, 34);
  const text = badgeText(count);
  if (text) {
    c.fillStyle = '#dc2626';
    c.beginPath();
    c.arc(44, 20, 20, 0, Math.PI * 2);
    c.fill();
    c.fillStyle = '#fff';
    c.font = `bold ${text.length > 2 ? 16 : text.length > 1 ? 22 : 26}px system-ui, sans-serif`;
    c.fillText(text, 44, 21);
  }
  try {
    el.type = 'image/png';
    el.href = canvas.toDataURL('image/png');
  } catch {
    /* a tainted canvas cannot happen here; keep the old icon if it does */
  }
}

/** An avatar with initials, for desktop notifications. */
export function initialsAvatar(name: string): string | undefined {
  try {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 96;
    const c = canvas.getContext('2d');
    if (!c) return undefined;
    let hash = 0;
    for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    c.fillStyle = `hsl(${hash % 360} 55% 45%)`;
    c.beginPath();
    c.arc(48, 48, 48, 0, Math.PI * 2);
    c.fill();
    const initials = name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]?.toUpperCase() ?? '')
      .join('');
    c.fillStyle = '#fff';
    c.font = 'bold 40px system-ui, sans-serif';
    c.textAlign = 'center';
    c.textBaseline = 'middle';
    c.fillText(initials || '?', 48, 50);
    return canvas.toDataURL('image/png');
  } catch {
    return undefined;
  }
}
