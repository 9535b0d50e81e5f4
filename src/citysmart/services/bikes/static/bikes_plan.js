/* The operator's plan page: each truck's route on a tiles-free map of Sejong (the areas'
 * boundaries as the base), a numbered marker per stop, and the button that makes a plan now.
 *
 * Routes come from the plan API (the same view the page's lists are rendered from). Each
 * truck has a colour and a dash pattern, and its name in the legend and the markers'
 * labels, so that colour is never the only cue. No inline script or style (the CSP).
 */
(function () {
  "use strict";

  const root = document.getElementById("bikes-plan");
  if (!root) {
    return;
  }
  const i18n = window.BikesI18n;
  const api = root.dataset.api || "/api/v1/bikes/plans";
  const csrf = root.dataset.csrf || "";
  const SEJONG = [36.55, 127.27];
  // Colours with a contrast of 3:1 or more on the pale base; dash patterns tell them apart too.
  const COLOURS = ["#0b5d7a", "#c2255c", "#2b8a3e", "#d9480f", "#5f3dc4", "#495057"];
  const DASHES = [null, "10 6", "2 6", "14 4 2 4", "6 6", "1 4"];
  const mapEl = document.getElementById("plan-map");
  const note = document.getElementById("map-note");
  const makeButton = document.getElementById("make-plan");
  const makeStatus = document.getElementById("make-status");
  let plan = null;
  let map = null;
  let routeLayer = null;

  function showNote(text) {
    if (note) {
      note.textContent = text;
      note.hidden = false;
    }
  }

  function problemText(response, body) {
    if (body && typeof body.detail === "string") {
      return body.detail;
    }
    return `${response.status} ${response.statusText}`.trim();
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  // ---- map ------------------------------------------------------------------------------------

  function marker(job, index, route, colour) {
    const icon = L.divIcon({
      className: `bikes-stop bikes-stop-${job.action}${job.done ? " is-done" : ""}`,
      html: "",
      iconSize: [30, 30],
      iconAnchor: [15, 15],
    });
    const stop = L.marker([job.lat, job.lon], { icon, keyboard: true, riseOnHover: true });
    stop.on("add", () => {
      const el = stop.getElement();
      if (!el) {
        return;
      }
      el.textContent = "";
      const number = document.createElement("span");
      number.className = "bikes-stop-number";
      number.textContent = String(job.seq + 1);
      const sign = document.createElement("span");
      sign.className = "bikes-stop-sign";
      sign.setAttribute("aria-hidden", "true");
      sign.textContent = job.action === "take" ? "▲" : "▼";
      el.append(number, sign);
      el.style.borderColor = colour;
      el.dataset.truck = route.truck;
      el.dataset.seq = String(job.seq + 1);
      const words = i18n.t(`${job.action}_n`, { n: job.bikes });
      el.setAttribute("aria-label", i18n.t("marker_label", {
        seq: job.seq + 1, truck: route.truck_name, station: job.station_name, job: words,
      }));
    });
    stop.bindTooltip(() => {
      const tip = document.createElement("span");
      const words = i18n.t(`${job.action}_n`, { n: job.bikes });
      tip.textContent = `${route.truck_name} #${job.seq + 1} · ${job.station_name} · ${words}`;
      return tip;
    });
    return stop;
  }

  function drawRoutes() {
    if (!map || !plan) {
      return;
    }
    if (routeLayer) {
      routeLayer.remove();
    }
    routeLayer = L.layerGroup().addTo(map);
    const bounds = L.latLngBounds([]);
    plan.routes.forEach((route, i) => {
      const colour = COLOURS[i % COLOURS.length];
      const located = route.jobs.filter((job) => job.lat !== null && job.lon !== null);
      const points = located.map((job) => [job.lat, job.lon]);
      if (route.depot) {
        points.unshift([route.depot.lat, route.depot.lon]);
        const depot = L.circleMarker([route.depot.lat, route.depot.lon], {
          radius: 7, color: colour, weight: 3, fillColor: "#ffffff", fillOpacity: 1, className: "bikes-depot",
        });
        depot.bindTooltip(() => i18n.t("depot", { name: route.truck_name }));
        depot.addTo(routeLayer);
      }
      if (points.length > 1) {
        L.polyline(points, {
          color: colour, weight: 5, opacity: 0.9, dashArray: DASHES[i % DASHES.length],
          className: `bike-route bike-route-${i}`, interactive: false,
        }).addTo(routeLayer);
      }
      for (const point of points) {
        bounds.extend(point);
      }
      located.forEach((job, j) => marker(job, j, route, colour).addTo(routeLayer));
    });
    if (bounds.isValid()) {
      map.fitBounds(bounds.pad(0.15), { maxZoom: 15, animate: false });
    }
  }

  async function drawBoundaries() {
    try {
      const response = await fetch("/hub/boundaries.geojson", { credentials: "same-origin" });
      if (!response.ok) {
        throw new Error(`${response.status}`);
      }
      const areas = await response.json();
      const base = L.geoJSON(areas, {
        style: { color: "#8a97a3", weight: 1, fillColor: "#ffffff", fillOpacity: 0.85, className: "boundary" },
        interactive: false,
      });
      base.addTo(map);
      base.bringToBack();
    } catch (error) {
      showNote(i18n.t("boundaries_failed", { e: error.message }));
    }
  }

  async function loadPlan() {
    try {
      const response = await fetch(`${api}/active`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const body = await readJson(response);
      if (!response.ok) {
        throw new Error(problemText(response, body));
      }
      plan = body;
      drawRoutes();
      root.dataset.routesDrawn = String(plan.routes.length);
    } catch (error) {
      showNote(i18n.t("map_failed", { e: error.message }));
    }
  }

  function setUpMap() {
    if (!mapEl) {
      return;
    }
    if (!window.L) {
      showNote(i18n.t("no_leaflet"));
      return;
    }
    map = L.map(mapEl, { zoomSnap: 0.25, minZoom: 9, maxZoom: 18 }).setView(SEJONG, 11);
    drawBoundaries();
    loadPlan();
  }

  // ---- make a plan now ------------------------------------------------------------------------

  async function waitForNewPlan() {
    const before = root.dataset.plan || "";
    for (let i = 0; i < 60; i++) {
      await new Promise((resolve) => window.setTimeout(resolve, 3000));
      const response = await fetch(`${api}/active`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const body = await readJson(response);
        if (body && String(body.id) !== before) {
          return;
        }
      }
    }
  }

  async function makePlan() {
    makeButton.disabled = true;
    makeButton.setAttribute("aria-busy", "true");
    makeStatus.className = "bikes-message";
    makeStatus.textContent = i18n.t("making_plan");
    try {
      const response = await fetch(api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
        body: "{}",
      });
      const body = await readJson(response);
      if (response.status === 404 || response.status === 405) {
        // The endpoint is not on this server (yet): say so plainly.
        makeStatus.className = "bikes-message is-error";
        makeStatus.textContent = i18n.t("plan_unavailable", { status: response.status });
        return;
      }
      if (!response.ok) {
        makeStatus.className = "bikes-message is-error";
        makeStatus.textContent = i18n.t("plan_failed", { e: problemText(response, body) });
        return;
      }
      if (response.status === 202) {
        // Accepted, made in the background: wait for the active plan to change.
        makeStatus.textContent = i18n.t("making_plan");
        await waitForNewPlan();
      }
      makeStatus.textContent = i18n.t("plan_made");
      window.location.reload();
    } catch (error) {
      makeStatus.className = "bikes-message is-error";
      makeStatus.textContent = i18n.t("plan_failed", { e: i18n.t("offline") });
    } finally {
      makeButton.disabled = false;
      makeButton.removeAttribute("aria-busy");
    }
  }

  if (makeButton) {
    makeButton.addEventListener("click", makePlan);
  }
  i18n.setUp(root, drawRoutes);
  setUpMap();
})();
