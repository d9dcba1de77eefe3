// A workflow button posts its own small form, not the edits below it: warn
// before unsaved edits in the story form are left behind.
(function () {
  var dirty = false;
  var form = document.getElementById("story_form");
  if (form) {
    form.addEventListener("input", function () { dirty = true; });
  }
  document.querySelectorAll("#workflow form").forEach(function (f) {
    f.addEventListener("submit", function (event) {
      if (dirty && !window.confirm("You have unsaved edits in the form below. Save them first, or continue and lose them?")) {
        event.preventDefault();
      }
    });
  });
})();
