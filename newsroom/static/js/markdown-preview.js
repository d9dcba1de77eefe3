// A live preview beside a Markdown field (the story's body): the text as
// readers will get it, rendered by the server's own renderer (so a line
// break pasted between paragraphs shows as the paragraph it will be) and
// sanitised there. A file of its own so that the admin's
// Content-Security-Policy needs no inline script.
"use strict";

(function () {
  const WAIT_MS = 300;

  function csrfToken(field) {
    const input = field.form && field.form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function equip(field) {
    const url = field.dataset.markdownPreview;
    const wrapper = document.createElement("div");
    wrapper.className = "markdown-editor";
    field.before(wrapper);
    wrapper.append(field);
    const preview = document.createElement("div");
    preview.className = "markdown-preview prose";
    preview.id = field.id + "-preview";
    preview.setAttribute("role", "region");
    preview.setAttribute("aria-label", "Preview: how readers will see it");
    preview.setAttribute("aria-live", "polite");
    wrapper.append(preview);

    let timer = null;
    let asked = 0;
    async function refresh() {
      const ask = ++asked;
      const body = new URLSearchParams({ text: field.value });
      try {
        const response = await fetch(url, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { "X-CSRFToken": csrfToken(field) },
        });
        const data = await response.json();
        if (ask !== asked) return; // a later keystroke's preview is on its way
        if (data.html !== undefined) {
          // Sanitised by the server (nh3, an allow-list of tags); never the raw text.
          preview.innerHTML = data.html || '<p class="preview-empty">Nothing to preview yet.</p>';
        } else {
          preview.textContent = data.error || "The preview is not available.";
        }
      } catch (error) {
        if (ask === asked) preview.textContent = "The preview is not available right now.";
      }
    }
    field.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, WAIT_MS);
    });
    refresh();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const field of document.querySelectorAll("textarea[data-markdown-preview]")) equip(field);
  });
})();
