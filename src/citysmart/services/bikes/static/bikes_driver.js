/* The driver's page: a job's form reports it done through the plan API (the session's CSRF
 * token in a header), then the route's lists are replaced by the server's fresh copy of them
 * (the page fetched again, not reloaded), so the page and the API never disagree.
 * Errors are said in words next to the form; focus moves to the next job.
 */
(function () {
  "use strict";

  const root = document.getElementById("bikes-driver");
  if (!root) {
    return;
  }
  const i18n = window.BikesI18n;
  const api = root.dataset.api || "/api/v1/bikes/plans";
  const csrf = root.dataset.csrf || "";
  const status = document.getElementById("driver-status");
  const TRUCK_KEY = "citysmart.bikes.truck";

  function say(node, text, isError) {
    node.textContent = text;
    node.hidden = !text;
    node.classList.toggle("is-error", Boolean(isError));
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  async function refreshJobs() {
    // The server renders the lists; take its copy of #driver-jobs for this truck.
    const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("driver-jobs");
    const current = document.getElementById("driver-jobs");
    if (fresh && current) {
      current.replaceWith(document.importNode(fresh, true));
      i18n.apply(root);
    }
  }

  async function submit(form) {
    const input = form.querySelector('input[name="bikes"]');
    const error = form.querySelector(".form-error");
    const button = form.querySelector('button[type="submit"]');
    const max = Number(form.dataset.max);
    const text = input.value.trim();
    const count = Number(text);
    if (text === "" || !Number.isInteger(count) || count < 0 || count > max) {
      say(error, i18n.t("bad_count", { n: max }), true);
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    say(error, "", false);
    button.disabled = true;
    say(status, i18n.t("sending"), false);
    let response;
    try {
      response = await fetch(`${api}/jobs/${form.dataset.job}/done`, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ bikes: count }),
      });
    } catch (failure) {
      button.disabled = false;
      say(status, "", false);
      say(error, i18n.t("send_failed", { e: i18n.t("offline") }), true);
      return;
    }
    const body = await readJson(response);
    if (!response.ok) {
      button.disabled = false;
      say(status, "", false);
      const detail = body && typeof body.detail === "string" ? body.detail : `${response.status}`;
      say(error, i18n.t("send_failed", { e: detail }), true);
      if (response.status === 409) {
        // Done already (by someone else, or from another phone): show the route as it is,
        // and say why outside the lists, which are replaced.
        await refreshJobs().catch(() => null);
        say(status, i18n.t("send_failed", { e: detail }), true);
      }
      return;
    }
    try {
      await refreshJobs();
    } catch (failure) {
      // Saved all the same: the lists catch up on the next load.
    }
    say(status, i18n.t("job_marked", { seq: body.seq + 1, n: body.done_bikes }), false);
    const next = document.getElementById("next-heading");
    if (next) {
      next.focus();
    }
  }

  root.addEventListener("submit", (event) => {
    const form = event.target.closest(".done-form");
    if (!form) {
      return; // the truck picker is a plain GET form
    }
    event.preventDefault();
    submit(form);
  });

  // A driver drives the same truck all day: remember the choice on this phone.
  const picker = root.querySelector(".truck-picker select");
  const asked = new URLSearchParams(window.location.search).get("truck");
  if (picker) {
    let remembered = null;
    try {
      remembered = window.localStorage.getItem(TRUCK_KEY);
    } catch (error) {
      remembered = null;
    }
    const offered = [...picker.options].some((option) => option.value && option.value === remembered);
    if (!asked && remembered && offered && picker.value !== remembered) {
      const url = new URL(window.location.href);
      url.searchParams.set("truck", remembered);
      window.location.replace(url.toString());
      return;
    }
    if (picker.value) {
      try {
        window.localStorage.setItem(TRUCK_KEY, picker.value);
      } catch (error) {
        // storage switched off: the driver picks again next time
      }
    }
  }

  i18n.setUp(root);
})();
