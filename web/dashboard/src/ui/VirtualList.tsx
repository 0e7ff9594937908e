// A windowed list with a fixed row height: only the rows in view (plus a few either side) are
// in the DOM, so 10,000 conversations scroll as smoothly as 10. When the window nears the
// end of what is loaded it asks for the next page.
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { scrollToReveal, shouldLoadMore, visibleRange } from '../lib/vlist';

export interface VirtualListProps<T> {
  items: readonly T[];
  rowHeight: number;
  renderRow: (item: T, index: number) => ComponentChildren;
  /** A stable key per item (rows keep their DOM when the list shifts). */
  keyOf?: (item: T) => string | number;
  /** Index to keep in view (keyboard navigation), or -1. */
  activeIndex?: number;
  hasMore: boolean;
  loading: boolean;
  onLoadMore: () => void;
  testid?: string;
  label: string;
  empty?: ComponentChildren;
}

export function VirtualList<T>(p: VirtualListProps<T>) {
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setViewport(el.clientHeight || 600);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setViewport(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const range = visibleRange(scrollTop, viewport, p.rowHeight, p.items.length);

  useEffect(() => {
    if (shouldLoadMore(range, p.items.length, p.hasMore, p.loading)) p.onLoadMore();
  }, [range.end, p.items.length, p.hasMore, p.loading]);

  useEffect(() => {
    const el = ref.current;
    if (!el || p.activeIndex === undefined || p.activeIndex < 0) return;
    const next = scrollToReveal(p.activeIndex, el.scrollTop, el.clientHeight, p.rowHeight);
    if (next !== el.scrollTop) el.scrollTop = next;
  }, [p.activeIndex]);

  const rows: ComponentChildren[] = [];
  for (let i = range.start; i < range.end; i++) {
    const item = p.items[i] as T;
    rows.push(
      <div key={p.keyOf ? p.keyOf(item) : i} class="vrow" role="listitem" style={{ top: `${i * p.rowHeight}px`, height: `${p.rowHeight}px` }}>
        {p.renderRow(item, i)}
      </div>,
    );
  }
  return (
    <div
      ref={ref}
      class="vlist"
      data-testid={p.testid}
      data-count={p.items.length}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
    >
      {p.items.length === 0 && !p.loading ? p.empty : null}
      <div class="vlist-inner" role="list" aria-label={p.label} style={{ height: `${p.items.length * p.rowHeight}px` }}>
        {rows}
      </div>
      {p.loading ? <div class="vlist-loading" role="status">Loading…</div> : null}
    </div>
  );
}
