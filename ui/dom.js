// Small DOM helpers the window's modules share.

/** The element with this id. */
export const $ = (id) => document.getElementById(id);

/** A <button> with its label, class, accessible name and click handler. */
export function button(label, className, ariaLabel, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = label;
  b.setAttribute("aria-label", ariaLabel);
  b.addEventListener("click", onClick);
  return b;
}
