// Pull to refresh: dragging the list down from its top (or a touchpad's two-finger pull past
// the top) further than a threshold and letting go calls onPull.

import { $ } from "./dom.js";

const THRESHOLD = 70;

/** Lets the user pull the scroller down to call onPull. */
export function setupPull(onPull) {
  const scroller = $("scroller");
  const pull = $("pull");
  let startY = null;
  let distance = 0;
  let wheel = 0;
  let wheelTimer = null;

  const show = (d) => {
    distance = d;
    pull.style.height = `${Math.min(d, THRESHOLD * 1.4)}px`;
    pull.classList.toggle("ready", d >= THRESHOLD);
    $("pull-label").textContent = d >= THRESHOLD ? "Release to refresh" : "Pull to refresh";
  };
  const finish = () => {
    if (distance >= THRESHOLD) onPull();
    startY = null;
    show(0);
  };
  scroller.addEventListener("pointerdown", (e) => {
    if (scroller.scrollTop > 0 || e.target.closest("input, button, textarea, label")) return;
    startY = e.clientY;
  });
  scroller.addEventListener("pointermove", (e) => {
    if (startY === null) return;
    show(Math.max(0, e.clientY - startY));
  });
  scroller.addEventListener("pointerup", finish);
  scroller.addEventListener("pointercancel", () => { startY = null; show(0); });
  scroller.addEventListener("pointerleave", () => { if (startY !== null) finish(); });
  scroller.addEventListener("wheel", (e) => {
    if (scroller.scrollTop > 0 || e.deltaY >= 0) { wheel = 0; return; }
    wheel += -e.deltaY;
    show(wheel / 3);
    clearTimeout(wheelTimer);
    wheelTimer = setTimeout(() => { wheel = 0; finish(); }, 250);
  }, { passive: true });
}
