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
  function pad(n) {
    return n < 10 ? "0" + n : "" + n;
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
    if (data.eta) {
      var eta = new Date(data.eta);
      set("eta", pad(eta.getHours()) + ":" + pad(eta.getMinutes()) + ":" + pad(eta.getSeconds()));
    } else {
      set("eta", "—");
    }
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
