// The send's progress on the page refreshes itself while it sends:
// it polls the JSON the admin serves (newsletters/admin/issue_mail.py) and
// reloads the page once the send changes state, so the buttons match it.
(function () {
  var panel = document.getElementById("mail-progress");
  if (!panel || panel.dataset.state !== "sending") {
    return;
  }
  var url = panel.dataset.progressUrl;
  var bar = panel.querySelector('[data-field="bar"]');
  var label = panel.querySelector(".mail-progress-label");
  function set(name, value) {
    var el = panel.querySelector('[data-field="' + name + '"]');
    if (el) {
      el.textContent = value;
    }
  }
  function update(data) {
    if (data.state !== panel.dataset.state) {
      window.location.reload();
      return;
    }
    ["queued", "sending", "sent", "failed", "skipped", "percent"].forEach(function (name) {
      set(name, data[name]);
    });
    bar.max = Math.max(data.total, 1);
    bar.value = data.done;
    bar.textContent = data.percent + "%";
    label.textContent = data.done + " of " + data.total + " done";
    set("rate", data.rate === null ? "—" : data.rate.toFixed(1));
    set("eta", data.eta_label);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (data) {
          update(data);
        }
      })
      .catch(function () {})
      .then(function () {
        if (panel.dataset.state === "sending") {
          window.setTimeout(poll, 3000);
        }
      });
  }
  window.setTimeout(poll, 3000);
})();
