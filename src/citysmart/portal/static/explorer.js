/* Hub explorer: Sejong's boundaries, the hub's entities and their devices, polled every few seconds.
 *
 * No inline script (the CSP forbids it): the page passes its settings in data-* attributes of
 * #explorer. Everything from the API goes into the page through textContent, never innerHTML,
 * because names and device errors are data that devices and operators control.
 */
(function () {
  "use strict";

  const root = document.getElementById("explorer");
  if (!root) {
    return;
  }
  const config = {
    entitiesUrl: root.dataset.entitiesUrl || "/api/v1/entities?limit=1000",
    boundariesUrl: root.dataset.boundariesUrl || "/hub/boundaries.geojson",
    pollMs: Number(root.dataset.pollMs) || 5000,
    timeZone: root.dataset.timezone || "Asia/Seoul",
  };
  const DONG_LABEL_MIN_ZOOM = 11.5;
  const SEJONG = [36.56, 127.26];

  const state = {
    entities: [],
    areas: [], // {name, nameEng, polygons: [[ring, ...holes], ...]}
    previous: new Map(), // "entity\0attr" -> value, to spot changes
    previousErrors: new Map(), // device id -> error count
    changedFrom: new Map(), // "entity\0attr" -> the value before this update
    lastBody: null,
    lastText: null,
    lastUpdated: null,
    loaded: false,
    stopped: false,
    inFlight: false,
    timer: null,
    markers: new Map(), // entity id -> Leaflet circle marker
  };

  // ---- formatting -----------------------------------------------------------------------

  const clockFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const dateTimeFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  const numberFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 3 });
  const UNIT_LABELS = {
    "ug/m3": "µg/m³", "mg/m3": "mg/m³", "Cel": "°C", "%RH": "% RH", "m3": "m³", "W/m2": "W/m²",
    "m3/s": "m³/s", "beat/min": "beats/min", "/": "(ratio)", "count": "",
  };

  function formatDateTime(date) {
    // YYYY-MM-DD HH:MM:SS in Seoul time, whatever the browser's locale and zone.
    const p = {};
    for (const part of dateTimeFormat.formatToParts(date)) {
      p[part.type] = part.value;
    }
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }

  function formatRelative(date, now) {
    const s = Math.round((now - date.getTime()) / 1000);
    if (s < -5) {
      return "in the future";
    }
    if (s < 60) {
      return `${Math.max(s, 0)} s ago`;
    }
    if (s < 3600) {
      return `${Math.floor(s / 60)} min ago`;
    }
    if (s < 86400) {
      return `${Math.floor(s / 3600)} h ago`;
    }
    return `${Math.floor(s / 86400)} d ago`;
  }

  function formatValue(value) {
    if (typeof value === "number") {
      return numberFormat.format(value);
    }
    if (value === null || value === undefined) {
      return "—";
    }
    return String(value);
  }

  function unitLabel(unit) {
    if (!unit) {
      return "";
    }
    return Object.prototype.hasOwnProperty.call(UNIT_LABELS, unit) ? UNIT_LABELS[unit] : unit;
  }

  // ---- DOM helpers ----------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) {
        continue;
      }
      if (name === "className") {
        node.className = value;
      } else if (name === "text") {
        node.textContent = value;
      } else {
        node.setAttribute(name, value === true ? "" : String(value));
      }
    }
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child);
      }
    }
    return node;
  }

  function cell(label, className, ...children) {
    // One wrapper per cell, so the phone layout (label | content) stays a two-column grid.
    return el("td", { "data-label": label, className }, el("div", { className: "cell" }, ...children));
  }

  function timeElement(iso, relative) {
    if (!iso) {
      return el("span", { className: "none", text: "never" });
    }
    const date = new Date(iso);
    const absolute = formatDateTime(date);
    if (relative) {
      return el("time", {
        datetime: iso, "data-relative": "", title: `${absolute} KST`,
        text: formatRelative(date, Date.now()),
      });
    }
    return el("time", { datetime: iso, text: absolute });
  }

  const statusEl = document.getElementById("status");
  const statusText = document.getElementById("status-text");

  function setStatus(kind, ...content) {
    statusEl.classList.toggle("live", kind === "live");
    statusEl.classList.toggle("error", kind === "error");
    statusText.replaceChildren(...content);
  }

  // ---- geometry -------------------------------------------------------------------------

  function inRing(lon, lat, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) {
        inside = !inside;
      }
    }
    return inside;
  }

  function areaOf(entity) {
    const point = pointOf(entity);
    if (!point) {
      return null;
    }
    const [lat, lon] = point;
    for (const area of state.areas) {
      for (const polygon of area.polygons) {
        if (inRing(lon, lat, polygon[0]) && !polygon.slice(1).some((hole) => inRing(lon, lat, hole))) {
          return area;
        }
      }
    }
    return null;
  }

  function pointOf(entity) {
    const loc = entity.location;
    if (!loc || loc.type !== "Point" || !Array.isArray(loc.coordinates)) {
      return null;
    }
    const [lon, lat] = loc.coordinates;
    return Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
  }

  // ---- the map --------------------------------------------------------------------------

  const mapEl = document.getElementById("map");
  const mapNote = document.getElementById("map-note");
  let map = null;

  function showMapNote(text) {
    mapNote.textContent = text;
    mapNote.hidden = false;
  }

  if (window.L && mapEl) {
    map = window.L.map(mapEl, { zoomSnap: 0.25, minZoom: 8, maxZoom: 18 }).setView(SEJONG, 10.5);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.createPane("entities");
    const syncZoomClass = () => mapEl.classList.toggle("zoomed-out", map.getZoom() < DONG_LABEL_MIN_ZOOM);
    map.on("zoomend", syncZoomClass);
    syncZoomClass();
  } else if (mapEl) {
    mapEl.hidden = true;
    showMapNote(
      "The map library is missing on this server " +
        "(run 'npm ci --prefix web && python scripts/build_assets.py'). The tables below still work."
    );
  }

  function areaKind(name) {
    if (name.endsWith("동")) {
      return "dong";
    }
    return name.endsWith("읍") ? "eup" : "myeon";
  }

  const AREA_STYLE = {
    dong: { fillColor: "#9fd3e3" },
    eup: { fillColor: "#c3e2b8" },
    myeon: { fillColor: "#e4efd6" },
  };

  function loadBoundaries() {
    return fetch(config.boundariesUrl, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
      .then((response) => {
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        return response.json();
      })
      .then((collection) => {
        state.areas = collection.features.map((feature) => ({
          name: feature.properties.name,
          nameEng: feature.properties.name_eng,
          code: feature.properties.code,
          polygons: feature.geometry.type === "Polygon"
            ? [feature.geometry.coordinates]
            : feature.geometry.coordinates,
        }));
        if (map) {
          drawBoundaries(collection);
        }
        if (state.lastBody) {
          renderTables(state.lastBody.data, new Set(), new Set());
        }
      })
      .catch((error) => showMapNote(`The area boundaries could not be loaded (${error.message}).`));
  }

  function drawBoundaries(collection) {
    const L = window.L;
    const layer = L.geoJSON(collection, {
      style: (feature) => {
        const kind = areaKind(feature.properties.name);
        return {
          className: `boundary boundary-${kind}`,
          color: "#0b5d7a",
          weight: 1.2,
          opacity: 0.9,
          fillOpacity: 0.55,
          ...AREA_STYLE[kind],
        };
      },
      onEachFeature: (feature, area) => {
        const p = feature.properties;
        const kind = areaKind(p.name);
        area.bindTooltip(el("span", { lang: "ko", text: p.name }), {
          permanent: true, direction: "center", className: `area-label area-${kind}`, interactive: false,
        });
        area.bindPopup(() => el("div", { className: "popup" },
          el("h3", {}, el("span", { lang: "ko", text: p.name }), ` · ${p.name_eng}`),
          el("p", { className: "meta", text: `KOSTAT code ${p.code} (2018 boundary)` }),
        ));
        area.on("mouseover", () => area.setStyle({ weight: 2.5 }));
        area.on("mouseout", () => area.setStyle({ weight: 1.2 }));
      },
    }).addTo(map);
    map.fitBounds(layer.getBounds(), { padding: [8, 8] });
  }

  function popupFor(entity) {
    const attrs = Object.keys(entity.latest || {}).sort();
    const area = areaOf(entity);
    return el("div", { className: "popup" },
      el("h3", { text: entity.name || entity.id }),
      el("p", { className: "meta" },
        entity.type,
        area ? " · " : "",
        area ? el("span", { lang: "ko", text: area.name }) : "",
      ),
      attrs.length
        ? valuesList(entity, attrs, new Set(), true)
        : el("p", { className: "none", text: "No reading yet" }),
    );
  }

  function updateMarkers(entities, changedEntities) {
    if (!map) {
      return;
    }
    const L = window.L;
    const seen = new Set();
    for (const entity of entities) {
      const point = pointOf(entity);
      if (!point) {
        continue;
      }
      seen.add(entity.id);
      let marker = state.markers.get(entity.id);
      if (!marker) {
        marker = L.circleMarker(point, {
          pane: "entities", radius: 8, color: "#ffffff", weight: 2, fillColor: "#d9480f",
          fillOpacity: 0.95, className: "entity-marker",
        }).addTo(map);
        marker.bindTooltip(() => el("span", { className: "entity-tooltip" },
          el("strong", { text: marker.entity.name || marker.entity.id }),
          summaryOf(marker.entity)));
        marker.bindPopup(() => popupFor(marker.entity));
        state.markers.set(entity.id, marker);
      } else {
        marker.setLatLng(point);
      }
      marker.entity = entity;
      if (marker.isPopupOpen()) {
        marker.setPopupContent(popupFor(entity));
      }
      if (changedEntities.has(entity.id)) {
        marker.setRadius(12);
        window.setTimeout(() => marker.setRadius(8), 1500);
      }
    }
    for (const [id, marker] of state.markers) {
      if (!seen.has(id)) {
        marker.remove();
        state.markers.delete(id);
      }
    }
  }

  function summaryOf(entity) {
    const parts = Object.keys(entity.latest || {}).sort().slice(0, 4).map((attr) => {
      const v = entity.latest[attr];
      return `${attr} ${formatValue(v.value)} ${unitLabel(v.unit)}`.trim();
    });
    return parts.length ? parts.join(" · ") : "no reading yet";
  }

  function focusEntity(id) {
    const marker = state.markers.get(id);
    if (!map || !marker) {
      return;
    }
    map.setView(marker.getLatLng(), Math.max(map.getZoom(), 13));
    marker.openPopup();
    mapEl.scrollIntoView({ behavior: "smooth", block: "center" });
  }

  // ---- tables ---------------------------------------------------------------------------

  function valuesList(entity, attrs, changed, compact) {
    return el("ul", { className: "values" }, ...attrs.map((attr) => {
      const v = entity.latest[attr];
      const key = `${entity.id}\u0000${attr}`;
      const isChanged = changed.has(key);
      const item = el("li", { className: isChanged ? "changed" : null, "data-attr": attr },
        el("span", { className: "attr", text: attr }),
        el("data", { className: "value", value: String(v.value), text: formatValue(v.value) }),
        el("span", { className: "unit", text: unitLabel(v.unit), title: v.unit || null }),
      );
      if (isChanged && !compact) {
        const before = state.changedFrom.get(key);
        let mark = "new";
        let words = "new reading";
        if (typeof before === "number" && typeof v.value === "number") {
          mark = v.value > before ? "▲" : "▼";
          words = `${v.value > before ? "up" : "down"} from ${formatValue(before)}`;
        } else if (before !== undefined) {
          mark = "●";
          words = `changed from ${formatValue(before)}`;
        }
        item.append(el("span", { className: "trend", title: words, "aria-hidden": "true", text: mark }));
        item.append(el("span", { className: "visually-hidden", text: ` (${words})` }));
      }
      return item;
    }));
  }

  function latestObserved(entity) {
    let best = null;
    for (const v of Object.values(entity.latest || {})) {
      if (v.observedAt && (!best || new Date(v.observedAt) > new Date(best))) {
        best = v.observedAt;
      }
    }
    return best;
  }

  function entityRow(entity, changed) {
    const attrs = Object.keys(entity.latest || {}).sort();
    const area = areaOf(entity);
    const hasPoint = Boolean(pointOf(entity)) && Boolean(map);
    const name = entity.name || entity.id;
    return el("tr", { "data-entity": entity.id },
      cell("Entity", null,
        hasPoint
          ? el("button", {
            type: "button", className: "link-button entity-name", "data-focus": entity.id,
            title: "Show on the map", text: name,
          })
          : el("span", { className: "entity-name", text: name }),
        el("div", { className: "entity-id", text: entity.id }),
      ),
      cell("Type", null, entity.type),
      cell("Area", null, area
        ? el("span", {}, el("span", { lang: "ko", text: area.name }), el("br"),
          el("span", { className: "sub", text: area.nameEng }))
        : el("span", { className: "none", text: pointOf(entity) ? "outside Sejong" : "no location" })),
      cell("Latest values", null, attrs.length
        ? valuesList(entity, attrs, changed, false)
        : el("span", { className: "none", text: "no reading yet" })),
      cell("Observed at (KST)", null, timeElement(latestObserved(entity), false)),
    );
  }

  function deviceRow(device, entity, errorsGrew) {
    const errors = device.error_count || 0;
    return el("tr", { "data-device": device.id },
      cell("Device", null, el("span", { className: "mono", text: device.id })),
      cell("Entity", null, entity.name || entity.id),
      cell("Status", null, el("span", { className: `badge badge-${device.status}`, text: device.status })),
      cell("Last seen", null, timeElement(device.last_seen_at, true)),
      cell("Errors", `num${errorsGrew ? " changed" : ""}`,
        el("span", { className: errors ? "errors-some" : null, text: String(errors) })),
      cell("Last error", null, device.last_error
        ? el("span", { className: "last-error", text: device.last_error })
        : el("span", { className: "none", text: "—" })),
    );
  }

  function byTypeThenName(a, b) {
    return a.type.localeCompare(b.type) || (a.name || a.id).localeCompare(b.name || b.id, "ko");
  }

  function renderTables(entities, changed, errorsGrew) {
    const focused = document.activeElement && document.activeElement.dataset
      ? document.activeElement.dataset.focus : undefined;
    const sorted = [...entities].sort(byTypeThenName);
    const entityBody = document.querySelector("#entities tbody");
    const deviceBody = document.querySelector("#devices tbody");
    const devices = [];
    for (const entity of sorted) {
      for (const device of entity.devices || []) {
        devices.push([device, entity]);
      }
    }
    devices.sort((a, b) => a[0].id.localeCompare(b[0].id));

    entityBody.replaceChildren(...(sorted.length
      ? sorted.map((entity) => entityRow(entity, changed))
      : [el("tr", { className: "empty-row" }, el("td", { colspan: 5, text: "No entity in the hub yet." }))]));
    deviceBody.replaceChildren(...(devices.length
      ? devices.map(([device, entity]) => deviceRow(device, entity, errorsGrew.has(device.id)))
      : [el("tr", { className: "empty-row" }, el("td", { colspan: 6, text: "No device registered yet." }))]));

    document.getElementById("entities-count").textContent = `(${sorted.length})`;
    document.getElementById("devices-count").textContent = `(${devices.length})`;
    const failing = devices.filter(([d]) => d.error_count > 0).length;
    const revoked = devices.filter(([d]) => d.status === "revoked").length;
    const never = devices.filter(([d]) => !d.last_seen_at).length;
    const notes = [];
    if (failing) {
      notes.push(`${failing} with errors`);
    }
    if (revoked) {
      notes.push(`${revoked} revoked`);
    }
    if (never) {
      notes.push(`${never} never seen`);
    }
    document.getElementById("summary").textContent =
      `${sorted.length} ${sorted.length === 1 ? "entity" : "entities"}, ` +
      `${devices.length} ${devices.length === 1 ? "device" : "devices"}` +
      (notes.length ? ` (${notes.join(", ")})` : "");
    if (focused) {
      const again = entityBody.querySelector(`[data-focus="${CSS.escape(focused)}"]`);
      if (again) {
        again.focus();
      }
    }
  }

  document.getElementById("entities").addEventListener("click", (event) => {
    const button = event.target.closest("[data-focus]");
    if (button) {
      focusEntity(button.dataset.focus);
    }
  });

  // ---- polling --------------------------------------------------------------------------

  function update(body) {
    const entities = body.data || [];
    const changed = new Set();
    const changedEntities = new Set();
    const errorsGrew = new Set();
    state.changedFrom = new Map();
    const current = new Map();
    for (const entity of entities) {
      for (const [attr, v] of Object.entries(entity.latest || {})) {
        const key = `${entity.id}\u0000${attr}`;
        current.set(key, v.value);
        if (state.loaded && (!state.previous.has(key) || state.previous.get(key) !== v.value)) {
          changed.add(key);
          changedEntities.add(entity.id);
          state.changedFrom.set(key, state.previous.get(key));
        }
      }
      for (const device of entity.devices || []) {
        const before = state.previousErrors.get(device.id);
        if (state.loaded && before !== undefined && device.error_count > before) {
          errorsGrew.add(device.id);
        }
        state.previousErrors.set(device.id, device.error_count);
      }
    }
    state.previous = current;
    const text = JSON.stringify(body);
    const same = state.lastText === text;
    state.lastText = text;
    state.lastBody = body;
    state.entities = entities;
    state.loaded = true;
    if (!same) {
      // Only rebuild when something changed: it keeps the reader's place and focus.
      renderTables(entities, changed, errorsGrew);
      updateMarkers(entities, changedEntities);
    }
  }

  function showUpdated() {
    if (!state.lastUpdated) {
      return;
    }
    const at = state.lastUpdated;
    setStatus("live",
      "Last updated ",
      el("time", { datetime: at.toISOString(), id: "last-updated", text: clockFormat.format(at) }),
      " KST · refreshes every ",
      `${Math.round(config.pollMs / 1000)} s`,
    );
  }

  function schedule() {
    window.clearTimeout(state.timer);
    if (!state.stopped) {
      state.timer = window.setTimeout(poll, config.pollMs);
    }
  }

  async function poll() {
    if (state.inFlight || state.stopped) {
      return;
    }
    if (document.hidden && state.loaded) {
      schedule(); // nobody is looking; visibilitychange polls as soon as someone is
      return;
    }
    state.inFlight = true;
    try {
      const response = await fetch(config.entitiesUrl, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        state.stopped = true;
        setStatus("error", "Your session has ended. ",
          el("a", { href: `/signin?next=${encodeURIComponent(location.pathname)}`, text: "Sign in again" }),
          " to keep the page up to date.");
        return;
      }
      if (!response.ok) {
        throw new Error(`the hub answered HTTP ${response.status}`);
      }
      update(await response.json());
      state.lastUpdated = new Date();
      showUpdated();
    } catch (error) {
      const last = state.lastUpdated ? ` Data shown is from ${clockFormat.format(state.lastUpdated)} KST.` : "";
      setStatus("error", `Update failed (${error.message}); retrying.${last}`);
    } finally {
      state.inFlight = false;
      schedule();
    }
  }

  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll("time[data-relative]")) {
      node.textContent = formatRelative(new Date(node.getAttribute("datetime")), now);
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && !state.stopped) {
      poll();
    }
  });
  window.setInterval(tick, 1000);
  loadBoundaries();
  poll();
})();
