// Votes on comments in place: the vote forms post to the API instead of reloading the page.
// Without this script the same forms post to /participation/comments/{id}/vote and redirect.
(function () {
  "use strict";
  var thread = document.getElementById("comments");
  if (!thread || !window.fetch) { return; }
  var csrf = thread.getAttribute("data-csrf");
  thread.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("talk-vote")) { return; }
    event.preventDefault();
    var match = form.getAttribute("action").match(/\/comments\/(\d+)\/vote$/);
    var input = form.querySelector("input[name=value]");
    if (!match || !input) { form.submit(); return; }
    var value = parseInt(input.value, 10);
    fetch("/api/v1/participation/comments/" + match[1] + "/vote", {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ value: value })
    }).then(function (response) {
      if (!response.ok) { throw new Error("vote refused"); }
      return response.json();
    }).then(function (result) {
      var item = document.getElementById("comment-" + result.id);
      if (!item) { return; }
      var article = item.querySelector("article");
      article.querySelector(".talk-up").textContent = result.up;
      article.querySelector(".talk-down").textContent = result.down;
      article.querySelectorAll("form.talk-vote").forEach(function (other, i) {
        var own = i === 0 ? 1 : -1;  // the up form comes first
        var pressed = result.mine === own;
        other.querySelector("input[name=value]").value = pressed ? 0 : own;
        var button = other.querySelector("button");
        button.setAttribute("aria-pressed", pressed ? "true" : "false");
        button.classList.toggle("talk-voted", pressed);
      });
    }).catch(function () { form.submit(); });
  });
})();
