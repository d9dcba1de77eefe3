// The issue form: stories ordered by dragging (or by the Move up / Move down
// buttons, for keyboards), with their positions filled in from that order;
// and the issue number kept at the chosen newsletter's next one until
// someone types another. A file of its own so that the admin's
// Content-Security-Policy needs no inline script.
"use strict";

(function () {
  const group = () => document.querySelector(".issue-items");

  function rows() {
    const box = group();
    if (!box) return [];
    return Array.from(box.querySelectorAll("tbody tr.form-row")).filter(
      (row) => !row.classList.contains("empty-form") && row.querySelector('input[name$="-position"]')
    );
  }

  const positionOf = (row) => row.querySelector('input[name$="-position"]');
  const isDeleted = (row) => {
    const box = row.querySelector('input[name$="-DELETE"]');
    return Boolean(box && box.checked);
  };

  // Every kept row numbered 1, 2, 3... in the order shown.
  function renumber() {
    let n = 0;
    for (const row of rows()) {
      if (isDeleted(row)) continue;
      n += 1;
      positionOf(row).value = String(n);
    }
  }

  // A row without a number goes after the highest one.
  function fillEmpty() {
    let highest = 0;
    for (const row of rows()) highest = Math.max(highest, Number(positionOf(row).value) || 0);
    for (const row of rows()) {
      const input = positionOf(row);
      if (!input.value || input.value === "0") {
        highest += 1;
        input.value = String(highest);
      }
    }
  }

  function move(row, step) {
    const list = rows();
    const index = list.indexOf(row);
    const other = list[index + step];
    if (!other) return;
    if (step < 0) other.before(row);
    else other.after(row);
    renumber();
  }

  let dragged = null;

  function equip(row) {
    if (row.dataset.ordering) return;
    row.dataset.ordering = "on";
    const cell = positionOf(row).closest("td");
    const tools = document.createElement("span");
    tools.className = "issue-item-order";
    const handle = document.createElement("span");
    handle.className = "drag-handle";
    handle.textContent = "⠿";
    handle.title = "Drag to reorder";
    handle.setAttribute("aria-hidden", "true");
    tools.append(handle);
    for (const [label, text, step] of [
      ["Move up", "↑", -1],
      ["Move down", "↓", 1],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "move-" + (step < 0 ? "up" : "down");
      button.textContent = text;
      button.title = label;
      button.setAttribute("aria-label", label);
      button.addEventListener("click", () => move(row, step));
      tools.append(button);
    }
    cell.prepend(tools);
    // Only the handle starts a drag, so text in the row stays selectable.
    handle.addEventListener("mousedown", () => {
      row.draggable = true;
    });
    row.addEventListener("dragstart", (event) => {
      dragged = row;
      row.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", row.id || "row");
    });
    row.addEventListener("dragend", () => {
      row.draggable = false;
      row.classList.remove("dragging");
      dragged = null;
      renumber();
    });
    row.addEventListener("dragover", (event) => {
      if (!dragged || dragged === row) return;
      event.preventDefault();
      const box = row.getBoundingClientRect();
      if (event.clientY < box.top + box.height / 2) row.before(dragged);
      else row.after(dragged);
    });
    row.addEventListener("drop", (event) => {
      event.preventDefault();
      renumber();
    });
  }

  function equipAll() {
    for (const row of rows()) equip(row);
  }

  function suggestNumbers() {
    const number = document.querySelector("input[data-next-numbers]");
    const newsletter = document.getElementById("id_newsletter");
    if (!number || !newsletter) return;
    const next = JSON.parse(number.dataset.nextNumbers);
    let suggested = number.value;
    newsletter.addEventListener("change", () => {
      if (number.value !== suggested && number.value !== "") return; // typed by hand
      suggested = String(next[newsletter.value] || 1);
      number.value = suggested;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    fillEmpty();
    equipAll();
    suggestNumbers();
  });
  document.addEventListener("formset:added", () => {
    fillEmpty();
    equipAll();
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches('.issue-items input[name$="-DELETE"]')) {
      renumber();
    }
  });
})();
