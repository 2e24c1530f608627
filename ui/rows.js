// A windowed list: of thousands of items, only the rows in view (plus a margin) are in the
// DOM; padding above and below the rendered rows stands in for the others, so the scroll bar
// and scrolling behave as if every row were there. Rows are kept by id and rebuilt only when
// their key changes, so focus, a half-typed edit or an inline error survive a re-render.

/** Rows rendered beyond each edge of the view, so keyboard focus and fast scrolls find them. */
const OVERSCAN = 12;
/** The row pitch (height plus gap) assumed until a row has been measured. */
const DEFAULT_PITCH = 46;

export class WindowedList {
  /**
   * @param {HTMLElement} list the <ul> holding the rows
   * @param {HTMLElement} scroller the element that scrolls (an ancestor of the list)
   * @param {(item: any) => string} key what a row shows; a changed key rebuilds the row
   * @param {(item: any) => HTMLElement} build makes the row (an <li>) for an item
   */
  constructor(list, scroller, key, build) {
    this.list = list;
    this.scroller = scroller;
    this.key = key;
    this.build = build;
    this.items = [];
    this.rows = new Map(); // id -> <li> currently in the DOM
    this.pitch = null;
    this.frame = 0;
    const later = () => this.schedule();
    scroller.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", () => { this.pitch = null; later(); });
    // Keyboard users move through rows with Tab: keep the focused row's neighbours rendered.
    list.addEventListener("focusin", (e) => {
      const li = e.target.closest("li");
      if (li) this.ensureVisible(Number(li.dataset.index));
    });
  }

  /** Replaces the items (each with an `id`) and renders the rows in view. */
  set(items) {
    this.items = items;
    this.render();
  }

  /** The index of the item with this id, or -1. */
  indexOf(id) {
    return this.items.findIndex((item) => item.id === id);
  }

  /** The rendered row of the item with this id, if it is in the DOM. */
  row(id) {
    return this.rows.get(id) ?? null;
  }

  /** Renders on the next animation frame (scrolling, resizing). */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  /** Where the list starts inside the scroller's content, in pixels. */
  listTop() {
    return this.list.getBoundingClientRect().top - this.scroller.getBoundingClientRect().top
      + this.scroller.scrollTop;
  }

  /** Renders the rows in view now. */
  render() {
    const n = this.items.length;
    const pitch = this.pitch ?? DEFAULT_PITCH;
    const top = this.scroller.scrollTop - this.listTop();
    const first = Math.max(0, Math.min(n, Math.floor(top / pitch) - OVERSCAN));
    const last = Math.max(first, Math.min(n, Math.ceil((top + this.scroller.clientHeight) / pitch) + OVERSCAN));

    const wanted = new Map();
    for (let i = first; i < last; i++) {
      const item = this.items[i];
      const key = this.key(item);
      let li = this.rows.get(item.id);
      if (!li || li.dataset.key !== key) li = this.build(item);
      li.dataset.key = key;
      li.dataset.index = String(i);
      li.setAttribute("aria-posinset", String(i + 1));
      li.setAttribute("aria-setsize", String(n));
      wanted.set(item.id, li);
    }
    // A rebuilt row gets the focus back on its control of the same class (the checkbox the
    // user just ticked with Space, say).
    const focused = document.activeElement;
    const focusedRow = focused && this.list.contains(focused) ? focused.closest("li") : null;
    const refocus = focusedRow && wanted.get(focusedRow.dataset.id) !== focusedRow
      ? { id: focusedRow.dataset.id, cls: focused.classList[0] } : null;
    // Remove what goes first, so that the rows kept are never moved (moving a node would
    // take the focus away from it); then insert the new ones around them.
    for (const [id, li] of this.rows) {
      if (wanted.get(id) !== li) li.remove();
    }
    let cursor = this.list.firstElementChild;
    for (const li of wanted.values()) {
      if (li === cursor) { cursor = cursor.nextElementSibling; continue; }
      this.list.insertBefore(li, cursor);
    }
    this.rows = wanted;
    if (refocus?.cls) wanted.get(refocus.id)?.querySelector(`.${CSS.escape(refocus.cls)}`)?.focus();
    this.list.style.paddingTop = `${first * pitch}px`;
    this.list.style.paddingBottom = `${(n - last) * pitch}px`;
    if (this.pitch === null) this.measure();
  }

  /** Learns the row pitch from the rows rendered (their average, gaps included). */
  measure() {
    const rows = [...this.rows.values()];
    if (rows.length < 2) return;
    const span = rows[rows.length - 1].offsetTop - rows[0].offsetTop;
    if (span <= 0) return;
    this.pitch = span / (rows.length - 1);
    this.render();
  }

  /** Scrolls as little as needed for the row at `index` to be in view, and renders it. */
  ensureVisible(index) {
    if (!(index >= 0 && index < this.items.length)) return;
    const pitch = this.pitch ?? DEFAULT_PITCH;
    const rowTop = this.listTop() + index * pitch;
    const view = this.scroller;
    // What sticks to the top of the scroller (the add bar) hides the rows under it.
    const covered = this.scroller.querySelector(".sticky")?.offsetHeight ?? 0;
    if (rowTop < view.scrollTop + covered) {
      view.scrollTop = Math.max(0, rowTop - covered - pitch / 2);
    } else if (rowTop + pitch > view.scrollTop + view.clientHeight) {
      view.scrollTop = rowTop + pitch * 1.5 - view.clientHeight;
    }
    this.render();
    // Rows taller than the average (long texts wrap) shift the estimate: correct it with the
    // row's real position now that it is rendered.
    const li = this.rows.get(this.items[index].id);
    if (!li) return;
    const box = li.getBoundingClientRect();
    const frame = view.getBoundingClientRect();
    const below = box.bottom - frame.bottom;
    const above = frame.top + covered - box.top;
    if (below > 0) view.scrollTop += below + 8;
    else if (above > 0) view.scrollTop -= above + 8;
    else return;
    this.render();
  }
}
