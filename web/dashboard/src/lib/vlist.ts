// The arithmetic of the windowed list (fixed row height): which rows to render for a scroll
// position, and when to fetch the next page. Pure, so it is tested without a DOM.

export interface Range {
  /** First row rendered. */
  start: number;
  /** One past the last row rendered. */
  end: number;
}

/** Rows intersecting the viewport, plus `overscan` rows either side, clamped to `count`. */
export function visibleRange(scrollTop: number, viewport: number, rowHeight: number, count: number, overscan = 6): Range {
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0 };
  const first = Math.floor(Math.max(0, scrollTop) / rowHeight);
  const last = Math.ceil((Math.max(0, scrollTop) + Math.max(0, viewport)) / rowHeight);
  const start = Math.max(0, Math.min(count, first - overscan));
  const end = Math.max(start, Math.min(count, last + overscan));
  return { start, end };
}

/** Ask for the next page when the rendered window gets within `threshold` rows of the end. */
export function shouldLoadMore(range: Range, loaded: number, hasMore: boolean, loading: boolean, threshold = 15): boolean {
  return hasMore && !loading && range.end + threshold >= loaded;
}

/**
 * The scrollTop that brings row `index` into view (unchanged when it already is), for
 * keyboard navigation.
 */
export function scrollToReveal(index: number, scrollTop: number, viewport: number, rowHeight: number): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return Math.max(0, bottom - viewport);
  return scrollTop;
}
