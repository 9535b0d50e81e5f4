/* The public fine-dust map: Sejong's areas, sensors graded in words and colour, the
 * interpolated surface, an hour slider over the last 48 hours, and 24-hour charts.
 *
 * Sensors are compact badges (the value and a short grade) placed so that none covers
 * another: badges that would overlap at the current zoom are gathered into a group showing
 * how many and the worst grade (air_map_groups.js), which zooms in when selected. Zoomed
 * in, a badge with room around it shows the grade's full word.
 *
 * No inline script or style (the CSP forbids them): settings come in data-* attributes of
 * #air, colours are set through the CSSOM or SVG presentation attributes. Everything from
 * the API reaches the page through textContent, never innerHTML: names are data.
 */
(function () {
  "use strict";

  const root = document.getElementById("air");
  if (!root) {
    return;
  }
  const config = {
    api: root.dataset.api || "/api/v1/air",
    timeZone: root.dataset.timezone || "Asia/Seoul",
    pollMs: Number(root.dataset.pollMs) || 60000,
    bands: JSON.parse(root.dataset.bands || "{}"),
  };
  const SEJONG = [36.56, 127.26];
  const LABEL_MIN_ZOOM = 12;
  // From this zoom a badge with room around it spells its grade out; below it (the whole
  // city on one screen) every badge is compact, so that most sensors can stand alone.
  const WIDE_ZOOM = 13;
  const LABEL_GAP = 3; // pixels kept free between two badges
  // One or two letters for a grade in English, explained in the legend (Korean's words are
  // short already). Keys of both the Korean and the US tables.
  const SHORT_EN = {
    good: "G", moderate: "M", unhealthy_sensitive: "USG", unhealthy: "U", very_unhealthy: "VU", hazardous: "H",
  };
  const STORE_KEY = "citysmart.air.lang";
  const POLLUTANT_NAMES = { pm25: "PM2.5", pm10: "PM10" };

  // ---- words ------------------------------------------------------------------------------

  const TEXT = {
    en: {
      title: "Fine dust in Sejong",
      lede: "Hourly fine dust from the city's sensors and AirKorea stations, with a surface interpolated between them.",
      loading: "Loading…",
      controls: "Map controls",
      pollutant: "Pollutant",
      pm25_name: "fine",
      pm10_name: "coarse",
      hour: "Hour (KST)",
      prev_hour: "Previous hour",
      next_hour: "Next hour",
      latest: "Latest",
      latest_mark: "latest",
      opacity: "Surface opacity",
      map_heading: "Map",
      map_label: "Map of fine dust in Sejong: areas, sensors and the interpolated surface",
      legend: "Grades (Korean scale)",
      lowcost: "Low-cost sensor",
      reference: "Reference station (AirKorea)",
      reference_short: "Station",
      stale_legend: "Stale: no data for over 2 hours",
      stale_short: "No data",
      no_grade: "Not graded",
      no_grade_short: "NG",
      no_grade_legend: "Not graded: under 75 % of the hour's readings",
      group_legend: "Sensors close together: how many and the worst grade; select to zoom in",
      group_label: "{n} sensors close together{extra}: worst {grade}{peak}.",
      group_zoom: "Select to zoom in.",
      group_to_list: "Select to list them.",
      group_peak: ", up to {p} {v}",
      group_reference: ", with {r} reference station(s)",
      group_stale: ", {s} stale",
      group_list: "{n} sensors here",
      group_all_stale: "{n} stale sensors close together{extra}: no data for over 2 hours.",
      no_grade_why: "under 75 % of the hour's readings: not graded",
      attribution: "Boundaries: Statistics Korea (KOSTAT) SGIS 2018, via southkorea/southkorea-maps (KOGL Type 1)",
      chart: "24-hour chart",
      chart_hint: "Select a sensor or an area, on the map or in the lists below, to see its last 24 hours.",
      areas: "Areas",
      sensors: "Sensors",
      col_area: "Area",
      col_mean: "Mean (µg/m³)",
      col_worst: "Worst (µg/m³)",
      col_sensor: "Sensor",
      col_value: "{p} (µg/m³)",
      col_grade: "Grade",
      col_last_seen: "Last seen (KST)",
      col_hour: "Hour (KST)",
      pilot: "pilot area",
      lang_toggle: "한국어",
      lang_toggle_label: "한국어 (view in Korean)",
      updated: "Last updated {t} KST",
      map_hour: "map of {t} KST",
      source: "Data: {s}",
      sensor_count: "{n} sensors",
      stale_count: "{n} stale",
      replayed: "Replayed data, not live measurements in Sejong",
      method: "Surface: {m}. Leave-one-out error this hour: IDW {idw}, kriging {kriging} µg/m³.",
      idw: "inverse distance weighting (IDW)",
      kriging: "ordinary kriging",
      tuned: "tuned kriging",
      no_map: "No map has been computed yet. The first one appears after the hourly job has run.",
      hour_missing: "There is no map for {t} KST.",
      failed: "Update failed ({e}); retrying.",
      boundaries_failed: "The area boundaries could not be loaded ({e}).",
      no_leaflet: "The map library is missing on this server (run 'npm ci --prefix web && python scripts/build_assets.py'). The lists below still work.",
      last_seen: "last seen {t}",
      never: "never",
      stale_since: "Stale since {t}",
      outside: "outside the areas",
      no_sensors: "No sensor has reported yet.",
      no_areas: "No area statistics for this hour.",
      chart_sensor: "{name}: {p}, 24 hours to {t} KST",
      chart_area: "{name} (area mean): {p}, 24 hours to {t} KST",
      chart_loading: "Loading the chart…",
      chart_empty: "No hourly value in these 24 hours.",
      chart_failed: "The chart could not be loaded ({e}).",
      chart_missing: "no value (under 75 % of readings)",
      chart_numbers: "Show the numbers",
      chart_desc: "Hourly {p} bars coloured by grade over the grade bands; {n} of {total} hours have a value; highest {max} µg/m³.",
      chart_selected: "selected hour",
      value: "{v} µg/m³",
      show_chart: "Show the 24-hour chart of {name}",
      marker_label: "{name}, {kind}: {p} {v}, {grade}",
      marker_stale: "{name}, {kind}: stale, last seen {t} KST",
      area_tooltip: "{name}: mean {grade}",
      lowcost_kind: "low-cost sensor",
      reference_kind: "reference station",
      forecast: "Next 6 hours (forecast)",
      forecast_area: "{name}: {p}, next 6 hours",
      forecast_loading: "Loading the forecast…",
      forecast_none: "No forecast has been issued yet. One is made after each hourly map.",
      forecast_empty: "No forecast for this area: it had no hourly mean to start from.",
      forecast_failed: "The forecast could not be loaded ({e}).",
      forecast_issued: "Issued {t} KST",
      forecast_range: "80 % range {lo}–{hi}",
      forecast_no_range: "no range yet (too little history)",
      forecast_col_value: "{p} (µg/m³), 80 % range",
      method_persistence: "Persistence (the last hour carried forward)",
      method_persistence_tip: "Not a model: the latest hourly mean is repeated for the next 6 hours. The range is how much the areas' means changed over the last days.",
      method_model: "Model forecast",
      method_model_tip: "A statistical model fitted on the stored hourly area means; served only where it beat persistence on held-out hours.",
      method_mixed: "Model and persistence",
      method_mixed_tip: "The model where it beat persistence on held-out hours; persistence (the last hour carried forward) at the other hours.",
      method_row_persistence: "persistence",
      method_row_model: "model",
      area_unknown: "No area has the code “{c}”: showing the whole city.",
      day_mean: "24-hour mean",
      day_c24e: "C24E (predicted 24-h average)",
      day_c24e_tip: "C24E is AirKorea's prediction of the 24-hour moving average, from the last 12 hours and the trend of the last 4, used for its alerts before a full day has passed.",
      day_none: "not enough hours",
      day_none_tip: "The 24-hour mean needs at least 18 valid hours of the 24; C24E needs enough of the last 12 and 4 hours.",
    },
    ko: {
      title: "세종시 미세먼지",
      lede: "시 간이측정기와 에어코리아 측정소의 시간별 미세먼지, 그리고 그 사이를 보간한 지도입니다.",
      loading: "불러오는 중…",
      controls: "지도 설정",
      pollutant: "항목",
      pm25_name: "초미세먼지",
      pm10_name: "미세먼지",
      hour: "시각 (KST)",
      prev_hour: "이전 시간",
      next_hour: "다음 시간",
      latest: "최신",
      latest_mark: "최신",
      opacity: "보간 지도 불투명도",
      map_heading: "지도",
      map_label: "세종시 미세먼지 지도: 행정구역, 측정기, 보간 지도",
      legend: "등급 (환경부 기준)",
      lowcost: "간이측정기",
      reference: "측정소 (에어코리아)",
      reference_short: "측정소",
      stale_legend: "수신 끊김: 2시간 넘게 자료 없음",
      stale_short: "수신 없음",
      no_grade: "등급 없음",
      no_grade_short: "등급 없음",
      no_grade_legend: "등급 없음: 한 시간 자료가 75 % 미만",
      group_legend: "가까운 측정기 묶음: 대수와 가장 나쁜 등급, 누르면 확대",
      group_label: "가까운 측정기 {n}대{extra}: 가장 나쁜 등급 {grade}{peak}.",
      group_zoom: "누르면 확대합니다.",
      group_to_list: "누르면 목록이 나옵니다.",
      group_peak: ", {p} 최고 {v}",
      group_reference: ", 측정소 {r}곳 포함",
      group_stale: ", 수신 끊김 {s}대",
      group_list: "이곳의 측정기 {n}대",
      group_all_stale: "가까운 수신 끊김 측정기 {n}대{extra}: 2시간 넘게 자료 없음.",
      no_grade_why: "한 시간 자료가 75 % 미만: 등급 없음",
      attribution: "경계: 통계청 SGIS 2018 (southkorea/southkorea-maps, 공공누리 제1유형)",
      chart: "24시간 그래프",
      chart_hint: "지도나 아래 목록에서 측정기나 지역을 고르면 최근 24시간 그래프가 나옵니다.",
      areas: "행정구역",
      sensors: "측정기",
      col_area: "지역",
      col_mean: "평균 (µg/m³)",
      col_worst: "최고 (µg/m³)",
      col_sensor: "측정기",
      col_value: "{p} (µg/m³)",
      col_grade: "등급",
      col_last_seen: "최근 수신 (KST)",
      col_hour: "시각 (KST)",
      pilot: "시범 지역",
      lang_toggle: "English",
      lang_toggle_label: "English (영어로 보기)",
      updated: "최근 갱신 {t} KST",
      map_hour: "{t} KST 지도",
      source: "자료: {s}",
      sensor_count: "측정기 {n}대",
      stale_count: "수신 끊김 {n}",
      replayed: "재생 자료이며 세종시의 실시간 측정값이 아닙니다",
      method: "보간 방법: {m}. 이 시간의 교차검증 오차: IDW {idw}, 크리깅 {kriging} µg/m³.",
      idw: "역거리 가중법 (IDW)",
      kriging: "정규 크리깅",
      tuned: "조정 크리깅",
      no_map: "아직 계산된 지도가 없습니다. 매시 작업이 처음 실행되면 나타납니다.",
      hour_missing: "{t} KST의 지도가 없습니다.",
      failed: "갱신 실패 ({e}); 다시 시도합니다.",
      boundaries_failed: "행정구역 경계를 불러오지 못했습니다 ({e}).",
      no_leaflet: "이 서버에 지도 라이브러리가 없습니다 ('npm ci --prefix web && python scripts/build_assets.py' 실행). 아래 목록은 그대로 볼 수 있습니다.",
      last_seen: "최근 수신 {t}",
      never: "없음",
      stale_since: "{t} 이후 수신 없음",
      outside: "구역 밖",
      no_sensors: "아직 자료를 보낸 측정기가 없습니다.",
      no_areas: "이 시간의 지역 통계가 없습니다.",
      chart_sensor: "{name}: {p}, {t} KST까지 24시간",
      chart_area: "{name} (지역 평균): {p}, {t} KST까지 24시간",
      chart_loading: "그래프를 불러오는 중…",
      chart_empty: "이 24시간에는 시간 평균값이 없습니다.",
      chart_failed: "그래프를 불러오지 못했습니다 ({e}).",
      chart_missing: "값 없음 (자료 75 % 미만)",
      chart_numbers: "수치 보기",
      chart_desc: "등급 색으로 칠한 시간별 {p} 막대와 등급 구간; {total}시간 중 {n}시간에 값이 있음; 최고 {max} µg/m³.",
      chart_selected: "선택한 시각",
      value: "{v} µg/m³",
      show_chart: "{name}의 24시간 그래프 보기",
      marker_label: "{name}, {kind}: {p} {v}, {grade}",
      marker_stale: "{name}, {kind}: 수신 끊김, 최근 수신 {t} KST",
      area_tooltip: "{name}: 평균 {grade}",
      lowcost_kind: "간이측정기",
      reference_kind: "측정소",
      forecast: "앞으로 6시간 예보",
      forecast_area: "{name}: {p}, 앞으로 6시간",
      forecast_loading: "예보를 불러오는 중…",
      forecast_none: "아직 발표된 예보가 없습니다. 매시 지도가 계산된 뒤 만들어집니다.",
      forecast_empty: "이 지역의 예보가 없습니다: 시작할 시간 평균값이 없었습니다.",
      forecast_failed: "예보를 불러오지 못했습니다 ({e}).",
      forecast_issued: "발표 {t} KST",
      forecast_range: "80 % 범위 {lo}–{hi}",
      forecast_no_range: "범위 없음 (자료 부족)",
      forecast_col_value: "{p} (µg/m³), 80 % 범위",
      method_persistence: "지속 예보 (마지막 시간 값 유지)",
      method_persistence_tip: "모델이 아닙니다: 가장 최근 시간 평균을 앞으로 6시간 동안 그대로 씁니다. 범위는 최근 며칠 동안 지역 평균이 바뀐 정도입니다.",
      method_model: "모델 예보",
      method_model_tip: "저장된 지역별 시간 평균으로 학습한 통계 모델이며, 검증 시간에 지속 예보보다 나았던 시간에만 씁니다.",
      method_mixed: "모델과 지속 예보",
      method_mixed_tip: "검증 시간에 지속 예보보다 나았던 시간에는 모델, 나머지 시간에는 지속 예보(마지막 시간 값 유지)를 씁니다.",
      method_row_persistence: "지속",
      method_row_model: "모델",
      area_unknown: "코드가 “{c}”인 지역이 없어 시 전체를 보여 줍니다.",
      day_mean: "24시간 평균",
      day_c24e: "C24E (24시간 예측 이동평균)",
      day_c24e_tip: "C24E는 최근 12시간과 최근 4시간의 추세로 에어코리아가 예측하는 24시간 이동평균으로, 하루가 다 차기 전에 경보 판단에 씁니다.",
      day_none: "자료 부족",
      day_none_tip: "24시간 평균은 24시간 중 유효한 시간이 18시간 이상이어야 하고, C24E는 최근 12시간과 4시간 자료가 충분해야 합니다.",
    },
  };

  function pickLanguage() {
    const asked = new URLSearchParams(window.location.search).get("lang");
    if (asked === "ko" || asked === "en") {
      return asked;
    }
    let stored = null;
    try {
      stored = window.localStorage.getItem(STORE_KEY);
    } catch (error) {
      stored = null; // storage can be switched off; the browser's language still decides
    }
    if (stored === "ko" || stored === "en") {
      return stored;
    }
    const languages = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    return String(languages[0]).toLowerCase().startsWith("ko") ? "ko" : "en";
  }

  const state = {
    lang: pickLanguage(),
    pollutant: "pm25",
    hours: [],
    index: -1,
    follow: true, // on the newest hour: move on when a newer map appears
    map: null,
    areaFeatures: null,
    selection: null, // {kind: "sensor"|"area", id}
    series: null, // {selection, points} of the chart on screen
    forecast: null, // {code, pollutant, body | null (none issued yet), error} of the panel's forecast
    forecastRequest: 0,
    askedArea: new URLSearchParams(window.location.search).get("area"), // from a link (alerts)
    reveal: false, // scroll the chart into view once it is drawn (after a selection)
    opacity: 0.7,
    problem: null, // {key, values} of what went wrong, so it can be said in either language
    hoursLoaded: false,
    updatedAt: null, // the hours list's "updated_at", when a map has none
    request: 0,
    seriesRequest: 0,
    timer: null,
    loadTimer: null,
  };

  function t(key, values) {
    const words = TEXT[state.lang][key] !== undefined ? TEXT[state.lang][key] : TEXT.en[key];
    return words.replace(/\{(\w+)\}/g, (_, name) => (values && values[name] !== undefined ? String(values[name]) : ""));
  }

  // ---- formatting -------------------------------------------------------------------------

  const dateTimeFormat = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });

  function parts(date) {
    const p = {};
    for (const part of dateTimeFormat.formatToParts(date)) {
      p[part.type] = part.value;
    }
    return p;
  }

  function formatDateTime(iso) {
    // YYYY-MM-DD HH:MM in Seoul time, whatever the browser's zone and locale.
    const p = parts(new Date(iso));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }

  function shortTime(iso) {
    // HH:MM when it was today in Seoul, else MM-DD HH:MM.
    const p = parts(new Date(iso));
    const today = parts(new Date());
    const time = `${p.hour}:${p.minute}`;
    return p.year === today.year && p.month === today.month && p.day === today.day ? time : `${p.month}-${p.day} ${time}`;
  }

  function formatHourOfDay(iso) {
    return parts(new Date(iso)).hour;
  }

  function formatValue(value) {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return "—";
    }
    return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  }

  function gradeLabel(grade) {
    if (!grade) {
      return t("no_grade");
    }
    return state.lang === "ko" ? grade.label_ko : grade.label_en;
  }

  function gradeCode(grade) {
    // The grade in a badge: a short code in English (see the legend), the word in Korean.
    if (!grade) {
      return t("no_grade_short");
    }
    return state.lang === "ko" ? grade.label_ko : SHORT_EN[grade.key] || grade.label_en;
  }

  function roundedValue(value) {
    return typeof value === "number" && Number.isFinite(value) ? String(Math.round(value)) : null;
  }

  function areaName(area) {
    if (!area) {
      return t("outside");
    }
    return (state.lang === "ko" ? area.name_ko : area.name_en) || area.name_ko || area.name_en || area.code;
  }

  function kindLabel(sensor) {
    return sensor.kind === "reference" ? t("reference_kind") : t("lowcost_kind");
  }

  // ---- DOM helpers ------------------------------------------------------------------------

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

  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") {
        node.textContent = value;
      } else if (value !== null && value !== undefined) {
        node.setAttribute(name, String(value));
      }
    }
    for (const child of children) {
      if (child) {
        node.append(child);
      }
    }
    return node;
  }

  function swatch(colour, extra) {
    const node = el("span", { className: `swatch${extra ? ` ${extra}` : ""}`, "aria-hidden": "true" });
    if (colour) {
      node.style.backgroundColor = colour; // CSSOM, which the CSP allows (unlike style="")
    }
    return node;
  }

  function gradeBadge(grade, stale) {
    if (stale) {
      return el("span", { className: "grade-badge grade-stale" }, swatch(null, "swatch-stale"), t("stale_short"));
    }
    if (!grade) {
      return el("span", { className: "grade-badge grade-none", title: t("no_grade_why") }, swatch(null, "swatch-none"), t("no_grade"));
    }
    return el("span", { className: `grade-badge grade-${grade.key}` }, swatch(grade.colour), gradeLabel(grade));
  }

  const statusEl = document.getElementById("status");
  const statusText = document.getElementById("status-text");
  const sourceEl = document.getElementById("source");
  const methodEl = document.getElementById("method");
  const slider = document.getElementById("hour-slider");
  const hourLabel = document.getElementById("hour-label");
  const prevButton = document.getElementById("hour-prev");
  const nextButton = document.getElementById("hour-next");
  const latestButton = document.getElementById("hour-latest");
  const opacityInput = document.getElementById("opacity");
  const opacityValue = document.getElementById("opacity-value");
  const langToggle = document.getElementById("lang-toggle");
  const chartEl = document.getElementById("chart");
  const chartHint = document.getElementById("chart-hint");
  const panel = document.getElementById("panel");
  const mapNote = document.getElementById("map-note");
  const forecastEl = document.getElementById("forecast");
  const forecastBody = document.getElementById("forecast-body");
  const areaNotice = document.getElementById("area-notice");
  const dayFiguresEl = document.getElementById("day-figures");

  function setStatus(kind, text) {
    statusEl.classList.toggle("live", kind === "live");
    statusEl.classList.toggle("error", kind === "error");
    statusText.textContent = text;
  }

  function showMapNote(text) {
    mapNote.textContent = text;
    mapNote.hidden = !text;
  }

  // ---- the map ----------------------------------------------------------------------------

  const mapEl = document.getElementById("air-map");
  let map = null;
  let surface = null;
  let areaLayer = null;
  const markers = new Map(); // sensor id -> Leaflet marker
  let fitted = false;

  if (window.L && mapEl) {
    const L = window.L;
    map = L.map(mapEl, { zoomSnap: 0.25, minZoom: 8, maxZoom: 18 }).setView(SEJONG, 10.5);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    // Surface under the boundaries, boundaries under the sensors.
    map.createPane("surface").classList.add("air-surface-pane");
    map.createPane("areas").classList.add("air-areas-pane");
    map.createPane("areaLabels").classList.add("air-area-labels-pane");
    const syncZoom = () => mapEl.classList.toggle("zoomed-out", map.getZoom() < LABEL_MIN_ZOOM);
    map.on("zoomend", syncZoom);
    syncZoom();
    // Badges are laid out in screen pixels: a new zoom is a new layout (panning keeps it).
    map.on("zoomend", () => layoutLabels());
  } else if (mapEl) {
    mapEl.hidden = true;
  }

  function areaOfCode(code) {
    if (!state.map) {
      return null;
    }
    return (state.map.areas || []).find((a) => a.code === code) || null;
  }

  function areaFeature(code) {
    if (!state.areaFeatures) {
      return null;
    }
    return state.areaFeatures.find((f) => f.properties.code === code) || null;
  }

  function areaInfo(code) {
    // The map's per-hour statistics, with the names and pilot flag of the boundary file.
    const stats = areaOfCode(code);
    const feature = areaFeature(code);
    const props = feature ? feature.properties : {};
    if (!stats && !feature) {
      return null;
    }
    return {
      code,
      name_ko: (stats && stats.name_ko) || props.name_ko,
      name_en: (stats && stats.name_en) || props.name_en,
      pilot: Boolean(props.pilot),
      stats,
    };
  }

  function loadAreas() {
    return fetch(`${config.api}/areas.geojson`, { headers: { Accept: "application/geo+json" } })
      .then((response) => {
        if (!response.ok) {
          throw new Error(`HTTP ${response.status}`);
        }
        return response.json();
      })
      .then((collection) => {
        state.areaFeatures = collection.features || [];
        drawAreas(collection);
        renderAreaTable();
        renderSensorTable();
        openAskedArea();
      })
      .catch((error) => showMapNote(t("boundaries_failed", { e: error.message })));
  }

  function areaStyle(feature) {
    const pilot = Boolean(feature.properties.pilot);
    const selected = state.selection && state.selection.kind === "area" && state.selection.id === feature.properties.code;
    return {
      pane: "areas",
      className: `air-area${pilot ? " air-area-pilot" : ""}${selected ? " air-area-selected" : ""}`,
      color: selected ? "#d9480f" : pilot ? "#07445a" : "#5f7482",
      weight: selected ? 3.5 : pilot ? 2.4 : 1,
      opacity: pilot || selected ? 0.95 : 0.7,
      dashArray: pilot || selected ? null : "4 3",
      // Transparent but present: the surface shows through and the area still takes clicks.
      fillColor: "#ffffff",
      fillOpacity: 0,
    };
  }

  function drawAreas(collection) {
    if (!map) {
      return;
    }
    const L = window.L;
    if (areaLayer) {
      areaLayer.remove();
    }
    areaLayer = L.geoJSON(collection, {
      pane: "areas",
      style: areaStyle,
      onEachFeature: (feature, layer) => {
        const code = feature.properties.code;
        layer.bindTooltip(() => el("span", { className: "air-area-name", text: areaName(areaInfo(code) || feature.properties) }), {
          pane: "areaLabels", permanent: true, direction: "center", interactive: false,
          className: `air-area-label${feature.properties.pilot ? " air-area-label-pilot" : ""}`,
        });
        layer.on("click", () => select({ kind: "area", id: code }));
      },
    }).addTo(map);
    if (!fitted) {
      // The first framing is not animated: badges are laid out for the zoom it lands on.
      map.fitBounds(areaLayer.getBounds(), { padding: [8, 8], animate: false });
    }
    declutterAreaLabels();
  }

  function restyleAreas() {
    if (!areaLayer) {
      return;
    }
    areaLayer.eachLayer((layer) => {
      layer.setStyle(areaStyle(layer.feature));
      const tip = layer.getTooltip();
      if (tip && tip.isOpen()) {
        tip.update(); // its content is a function of the language
      }
    });
    declutterAreaLabels();
  }

  function markerContent(sensor, wide) {
    // compact: shape, value, grade code; wide: the kind of a station, the grade's word and,
    // when stale, when it was last heard.
    const grade = sensor.grade;
    const reference = sensor.kind === "reference";
    const shape = el("span", { className: `air-marker-shape ${reference ? "shape-reference" : "shape-lowcost"}`, "aria-hidden": "true" });
    const body = el("span", {}, shape);
    if (reference && wide) {
      body.append(el("span", { className: "air-marker-kind", text: t("reference_short") }));
    }
    if (sensor.stale) {
      body.append(el("span", { className: "air-marker-grade", text: t("stale_short") }));
      if (wide && sensor.last_seen) {
        body.append(el("time", { className: "air-marker-seen", datetime: sensor.last_seen, text: shortTime(sensor.last_seen) }));
      }
    } else {
      const value = roundedValue(sensor[state.pollutant]);
      if (value !== null) {
        body.append(el("span", { className: "air-marker-value", text: value }));
      }
      body.append(el("span", { className: "air-marker-grade", text: wide ? gradeLabel(grade) : gradeCode(grade) }));
    }
    if (!sensor.stale && grade) {
      body.style.backgroundColor = grade.colour;
    }
    body.className = `${markerClass(sensor)} ${wide ? "is-wide" : "is-compact"}`;
    return body;
  }

  function markerLabel(sensor) {
    if (sensor.stale) {
      return t("marker_stale", {
        name: sensor.name || sensor.id, kind: kindLabel(sensor),
        t: sensor.last_seen ? formatDateTime(sensor.last_seen) : t("never"),
      });
    }
    return t("marker_label", {
      name: sensor.name || sensor.id, kind: kindLabel(sensor), p: POLLUTANT_NAMES[state.pollutant],
      v: t("value", { v: formatValue(sensor[state.pollutant]) }), grade: gradeLabel(sensor.grade),
    });
  }

  function isSelected(sensor) {
    return Boolean(state.selection && state.selection.kind === "sensor" && state.selection.id === sensor.id);
  }

  function markerClass(sensor) {
    const grade = sensor.grade;
    return [
      "air-marker-body",
      `kind-${sensor.kind === "reference" ? "reference" : "lowcost"}`,
      sensor.stale ? "is-stale" : grade ? `grade-${grade.key}` : "grade-none",
      isSelected(sensor) ? "is-selected" : "",
    ].filter(Boolean).join(" ");
  }

  function markerZ(sensor) {
    // Worse grades on top; stale sensors underneath everything live.
    return sensor.stale ? -1000 : ((sensor.grade && sensor.grade.level) || 0) * 100;
  }

  function drawSensors() {
    if (!map || !state.map) {
      return;
    }
    const L = window.L;
    const seen = new Set();
    for (const sensor of state.map.sensors || []) {
      if (!Number.isFinite(sensor.lat) || !Number.isFinite(sensor.lon)) {
        continue;
      }
      seen.add(sensor.id);
      let marker = markers.get(sensor.id);
      if (!marker) {
        const icon = L.divIcon({ className: "air-marker", html: markerContent(sensor, false), iconSize: null });
        marker = L.marker([sensor.lat, sensor.lon], { icon, keyboard: true, zIndexOffset: markerZ(sensor), riseOnHover: true });
        marker.on("click", () => select({ kind: "sensor", id: marker.sensor.id }));
        marker.on("keypress", (event) => {
          const key = event.originalEvent && event.originalEvent.key;
          if (key === "Enter" || key === " ") {
            select({ kind: "sensor", id: marker.sensor.id });
          }
        });
        marker.bindTooltip(() => el("span", { className: "air-tooltip", text: markerLabel(marker.sensor) }), {
          direction: "top", offset: [0, -12],
        });
        marker.addTo(map);
        markers.set(sensor.id, marker);
      } else {
        marker.setLatLng([sensor.lat, sensor.lon]);
        marker.setZIndexOffset(markerZ(sensor));
      }
      marker.sensor = sensor;
      const node = marker.getElement();
      node.setAttribute("aria-label", markerLabel(sensor));
      node.dataset.sensor = sensor.id;
      node.classList.toggle("is-stale", Boolean(sensor.stale));
    }
    for (const [id, marker] of markers) {
      if (!seen.has(id)) {
        marker.remove();
        markers.delete(id);
      }
    }
    if (!fitted && seen.size) {
      const bounds = L.latLngBounds([...seen].map((id) => markers.get(id).getLatLng()));
      map.fitBounds(bounds.pad(0.35), { maxZoom: 13, animate: false });
      fitted = true;
    }
    layoutLabels();
  }

  // ---- badges that never cover each other -------------------------------------------------

  const groupMarkers = new Map(); // the member ids, joined -> Leaflet marker of the group
  const groupSizes = new Map(); // what a group badge shows -> its size in pixels
  let measureBox = null;
  let layouts = 0;

  function measure(nodes) {
    // Each node in a zero-size holder as on the map (the same rules size it), read at once.
    if (!measureBox) {
      measureBox = el("div", { className: "air-measure", "aria-hidden": "true" });
      mapEl.append(measureBox);
    }
    const holders = nodes.map((node) => el("div", { className: "air-measure-item" }, node));
    measureBox.replaceChildren(...holders);
    const sizes = nodes.map((node) => ({ w: node.offsetWidth, h: node.offsetHeight }));
    measureBox.replaceChildren();
    for (const holder of holders) {
      holder.replaceChildren(); // the nodes are free to go on the map
    }
    return sizes;
  }

  function groupSummary(sensors) {
    const live = sensors.filter((s) => !s.stale);
    let worst = null;
    let peak = null;
    for (const sensor of live) {
      if (sensor.grade && (!worst || sensor.grade.level > worst.level)) {
        worst = sensor.grade;
      }
      const value = sensor[state.pollutant];
      if (typeof value === "number" && Number.isFinite(value) && (peak === null || value > peak)) {
        peak = value;
      }
    }
    return {
      worst, peak, live: live.length, stale: sensors.length - live.length,
      references: sensors.filter((s) => s.kind === "reference").length,
    };
  }

  function groupCode(summary) {
    if (summary.worst) {
      return gradeCode(summary.worst);
    }
    return summary.live ? t("no_grade_short") : t("stale_short");
  }

  function groupContent(sensors) {
    const summary = groupSummary(sensors);
    const body = el("span", {},
      el("span", { className: "air-group-count", text: String(sensors.length) }),
      summary.references
        ? el("span", { className: "air-marker-shape shape-reference", "aria-hidden": "true" }) : null,
      el("span", { className: "air-marker-grade", text: groupCode(summary) }));
    if (summary.worst) {
      body.style.backgroundColor = summary.worst.colour;
    }
    body.className = [
      "air-group-body",
      summary.worst ? `grade-${summary.worst.key}` : summary.live ? "grade-none" : "is-stale",
      summary.references ? "has-reference" : "",
      sensors.some(isSelected) ? "is-selected" : "",
    ].filter(Boolean).join(" ");
    return body;
  }

  function groupSize(sensors) {
    const summary = groupSummary(sensors);
    const key = [sensors.length, groupCode(summary), summary.references > 0, state.lang].join("|");
    if (!groupSizes.has(key)) {
      groupSizes.set(key, measure([groupContent(sensors)])[0]);
    }
    return groupSizes.get(key);
  }

  function atMaxZoom() {
    return map.getZoom() >= map.getMaxZoom();
  }

  function groupLabel(sensors) {
    const summary = groupSummary(sensors);
    const n = sensors.length;
    const references = summary.references ? t("group_reference", { r: summary.references }) : "";
    const action = t(atMaxZoom() ? "group_to_list" : "group_zoom");
    if (!summary.live) {
      return `${t("group_all_stale", { n, extra: references })} ${action}`;
    }
    const extra = references + (summary.stale ? t("group_stale", { s: summary.stale }) : "");
    const grade = summary.worst ? gradeLabel(summary.worst) : t("no_grade");
    const peak = summary.peak === null ? "" : t("group_peak", {
      p: POLLUTANT_NAMES[state.pollutant], v: t("value", { v: formatValue(summary.peak) }),
    });
    return `${t("group_label", { n, extra, grade, peak })} ${action}`;
  }

  function wideRank(item) {
    // Who gets the long label first when room is short: the selected sensor, then live
    // before stale, stations before low-cost sensors, worse grades before better ones.
    const sensor = item.sensor;
    const level = (sensor.grade && sensor.grade.level) || 0;
    return (isSelected(sensor) ? 0 : 1000) + (sensor.stale ? 100 : 0) + (sensor.kind === "reference" ? 0 : 10) - level;
  }

  function layoutLabels() {
    if (!map || !state.map) {
      return;
    }
    const L = window.L;
    const Groups = window.CitysmartAirGroups;
    const zoom = map.getZoom();
    const tryWide = zoom >= WIDE_ZOOM;
    const items = [...markers.values()].map((marker) => {
      const point = map.latLngToLayerPoint(marker.getLatLng());
      return {
        id: marker.sensor.id, sensor: marker.sensor, marker, x: point.x, y: point.y,
        compact: markerContent(marker.sensor, false),
        wideNode: tryWide ? markerContent(marker.sensor, true) : null,
      };
    });
    const sizes = measure(items.flatMap((item) => (item.wideNode ? [item.compact, item.wideNode] : [item.compact])));
    let k = 0;
    for (const item of items) {
      Object.assign(item, sizes[k++]);
      item.wide = item.wideNode ? sizes[k++] : null;
    }
    const clusters = Groups
      ? Groups.group(items, (members) => groupSize(members.map((m) => m.sensor)), LABEL_GAP)
      : items.map((item) => ({ members: [item], x: item.x, y: item.y, w: item.w, h: item.h }));
    const wide = Groups && tryWide ? Groups.widen(clusters, wideRank, LABEL_GAP) : new Set();
    const shown = new Set();
    for (const cluster of clusters) {
      if (cluster.members.length === 1) {
        const item = cluster.members[0];
        const node = item.marker.getElement();
        node.classList.remove("is-grouped");
        // In place, not setIcon: a new element would drop the keyboard focus on it.
        node.replaceChildren(wide.has(item) ? item.wideNode : item.compact);
        continue;
      }
      for (const member of cluster.members) {
        member.marker.getElement().classList.add("is-grouped");
      }
      const key = cluster.members.map((m) => m.id).sort().join(" ");
      shown.add(key);
      drawGroup(key, cluster, L);
    }
    for (const [key, marker] of groupMarkers) {
      if (!shown.has(key)) {
        marker.remove();
        groupMarkers.delete(key);
      }
    }
    declutterAreaLabels();
    // For whoever watches the page (tests, tools): the zoom the badges were laid out for.
    mapEl.dataset.zoom = String(zoom);
    mapEl.dataset.layout = String(++layouts);
  }

  function declutterAreaLabels() {
    // An area's name gives way to the badges and to the names placed before it (pilot areas
    // first): the areas table still names every area.
    if (!areaLayer) {
      return;
    }
    const labels = [];
    areaLayer.eachLayer((layer) => {
      const tip = layer.getTooltip();
      const node = tip && tip.getElement();
      if (node) {
        node.classList.remove("is-crowded");
        labels.push({ node, pilot: Boolean(layer.feature.properties.pilot) });
      }
    });
    const taken = [...mapEl.querySelectorAll(".air-marker:not(.is-grouped) .air-marker-body, .air-group-body")]
      .map((node) => node.getBoundingClientRect());
    const meets = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    labels.sort((a, b) => b.pilot - a.pilot);
    for (const label of labels) {
      const box = label.node.getBoundingClientRect();
      if (!box.width) {
        continue; // not shown at this zoom
      }
      if (taken.some((other) => meets(box, other))) {
        label.node.classList.add("is-crowded");
      } else {
        taken.push(box);
      }
    }
  }

  function drawGroup(key, cluster, L) {
    const latlng = map.layerPointToLatLng(L.point(cluster.x, cluster.y));
    const sensors = cluster.members.map((m) => m.sensor);
    let marker = groupMarkers.get(key);
    if (!marker) {
      const icon = L.divIcon({ className: "air-group", html: groupContent(sensors), iconSize: null });
      marker = L.marker(latlng, { icon, keyboard: true, riseOnHover: true });
      marker.on("click", () => expandGroup(marker, false));
      marker.on("keypress", (event) => {
        const key = event.originalEvent && event.originalEvent.key;
        if (key === "Enter" || key === " ") {
          expandGroup(marker, true);
        }
      });
      marker.bindTooltip(() => el("span", { className: "air-tooltip", text: groupLabel(marker.sensors) }), {
        direction: "top", offset: [0, -14],
      });
      marker.addTo(map);
      groupMarkers.set(key, marker);
    } else {
      marker.setLatLng(latlng);
    }
    marker.sensors = sensors;
    marker.places = cluster.members.map((m) => m.marker.getLatLng());
    const summary = groupSummary(sensors);
    marker.setZIndexOffset(summary.worst ? summary.worst.level * 100 + 50 : summary.live ? 50 : -950);
    const node = marker.getElement();
    node.replaceChildren(groupContent(sensors));
    node.setAttribute("aria-label", groupLabel(sensors));
    node.dataset.sensors = sensors.map((s) => s.id).join(" ");
  }

  function expandGroup(marker, byKeyboard) {
    const L = window.L;
    if (atMaxZoom()) {
      openGroupList(marker, byKeyboard); // as close as the map goes: the sensors share one spot
      return;
    }
    const bounds = L.latLngBounds(marker.places);
    // At least one step in; as far as keeps every member of the group on screen.
    const fit = map.getBoundsZoom(bounds, false, L.point(120, 120));
    map.setView(bounds.getCenter(), Math.min(map.getMaxZoom(), Math.max(map.getZoom() + 1, fit)));
    if (byKeyboard) {
      mapEl.focus({ preventScroll: true }); // the group's own element goes away
    }
  }

  function openGroupList(marker, byKeyboard) {
    const L = window.L;
    const items = [...marker.sensors]
      .sort((a, b) => (a.name || a.id).localeCompare(b.name || b.id, state.lang))
      .map((sensor) => {
        const button = el("button", { type: "button", className: "link-button", text: markerLabel(sensor) });
        button.addEventListener("click", () => {
          map.closePopup();
          select({ kind: "sensor", id: sensor.id });
        });
        return el("li", {}, button);
      });
    const content = el("div", { className: "air-group-list" },
      el("p", { className: "air-group-list-title", text: t("group_list", { n: marker.sensors.length }) }),
      el("ul", {}, ...items));
    marker.closeTooltip(); // it would sit on the list
    L.popup({ maxWidth: 300, className: "air-group-popup", offset: [0, -12] })
      .setLatLng(marker.getLatLng()).setContent(content).openOn(map);
    if (byKeyboard) {
      content.querySelector("button").focus();
    }
  }

  function drawSurface() {
    if (!map || !state.map || !state.map.surface) {
      return;
    }
    const L = window.L;
    const { url, bounds } = state.map.surface;
    if (!surface) {
      surface = L.imageOverlay(url, bounds, {
        pane: "surface", opacity: state.opacity, className: "air-surface",
        alt: "", interactive: false,
      }).addTo(map);
    } else {
      surface.setBounds(L.latLngBounds(bounds));
      surface.setUrl(url);
    }
    surface.getElement().dataset.hour = state.map.hour;
  }

  // ---- legend, status and tables ----------------------------------------------------------

  function renderLegend() {
    const list = document.getElementById("legend-bands");
    const bands = config.bands[state.pollutant] || [];
    list.replaceChildren(
      ...bands.map((band) => el("li", { "data-grade": band.key },
        legendMark(band, band.colour, ""),
        el("span", { className: "legend-grade", text: state.lang === "ko" ? band.label_ko : band.label_en }),
        el("span", { className: "legend-range", text: band.hi === null ? `${band.lo}+ µg/m³` : `${band.lo}–${band.hi} µg/m³` }),
      )),
      el("li", { "data-grade": "none" }, legendMark(null, null, "swatch-none"), el("span", { text: t("no_grade_legend") })),
    );
  }

  function legendMark(grade, colour, extra) {
    // The code a badge shows for the grade, on its colour; a plain swatch when the code is
    // the grade's word itself (Korean).
    const code = gradeCode(grade);
    const word = grade ? gradeLabel(grade) : t("no_grade");
    if (code === word) {
      return swatch(colour, extra);
    }
    const chip = el("span", { className: `legend-code ${extra}`.trim(), text: code });
    if (colour) {
      chip.style.backgroundColor = colour;
    }
    return chip;
  }

  function renderStatus() {
    if (state.problem) {
      setStatus("error", t(state.problem.key, state.problem.values));
      return;
    }
    if (!state.map) {
      setStatus("idle", state.hoursLoaded && !state.hours.length ? t("no_map") : t("loading"));
      return;
    }
    const at = state.map.updated_at || state.updatedAt;
    const updated = at ? t("updated", { t: formatDateTime(at) }) : "";
    setStatus("live", [updated, t("map_hour", { t: formatDateTime(state.map.hour) })].filter(Boolean).join(" · "));
  }

  function describeSource(source) {
    if (!source) {
      return null;
    }
    if (typeof source === "string") {
      return source;
    }
    const label = source.label || source.name || source.description || "";
    const replayed = source.replayed || source.mode === "replay" || source.kind === "replay";
    return [replayed ? t("replayed") : "", label].filter(Boolean).join(": ");
  }

  function sensorSource(sensor) {
    // "measured" is the normal case; anything else (simulated, a replay) is said in words.
    const text = describeSource(sensor.source);
    return text && text.toLowerCase() !== "measured" ? text : null;
  }

  function renderSource() {
    const texts = [];
    if (state.map) {
      // Per sensor when the sensors say (with how many), else the map's own summary.
      const counts = new Map();
      for (const sensor of state.map.sensors || []) {
        const text = sensorSource(sensor);
        if (text) {
          counts.set(text, (counts.get(text) || 0) + 1);
        }
      }
      for (const [text, n] of counts) {
        texts.push(`${text} (${t("sensor_count", { n })})`);
      }
      const top = describeSource(state.map.source);
      if (!counts.size && top && top.toLowerCase() !== "measured") {
        texts.push(top);
      }
    }
    sourceEl.hidden = !texts.length;
    sourceEl.textContent = texts.length ? t("source", { s: texts.join("; ") }) : "";
  }

  function renderMethod() {
    if (!state.map || !state.map.method_served) {
      methodEl.textContent = "";
      return;
    }
    const rmse = state.map.loo_rmse || {};
    // A method this page does not know yet is shown by its name rather than mislabelled.
    const known = ["idw", "kriging", "tuned"];
    const name = state.map.method_served;
    const served = known.includes(name) ? t(name) : name;
    methodEl.textContent = t("method", {
      m: served, idw: formatValue(rmse.idw), kriging: formatValue(rmse.kriging),
    });
  }

  function selectButton(kind, id, name) {
    return el("button", {
      type: "button", className: "link-button", "data-select": kind, "data-id": id,
      "aria-label": t("show_chart", { name }), text: name,
    });
  }

  function valueWithGrade(value, grade, stale) {
    return el("span", { className: "value-grade" },
      el("span", { className: "value", text: stale ? "—" : formatValue(value) }),
      gradeBadge(grade, stale));
  }

  function renderAreaTable() {
    const body = document.querySelector("#areas tbody");
    const areas = state.map ? state.map.areas || [] : [];
    const rows = areas.map((a) => areaInfo(a.code)).filter(Boolean);
    // Pilot areas first, then by name in the reader's language.
    rows.sort((a, b) => (b.pilot - a.pilot) || areaName(a).localeCompare(areaName(b), state.lang));
    document.getElementById("areas-count").textContent = rows.length ? `(${rows.length})` : "";
    if (!rows.length) {
      body.replaceChildren(el("tr", { className: "empty-row" }, el("td", { colspan: 3, text: state.map ? t("no_areas") : t("loading") })));
      return;
    }
    body.replaceChildren(...rows.map((info) => {
      const selected = state.selection && state.selection.kind === "area" && state.selection.id === info.code;
      return el("tr", { "data-area": info.code, className: selected ? "is-selected" : null },
        el("th", { scope: "row" }, selectButton("area", info.code, areaName(info)),
          info.pilot ? el("span", { className: "pilot-tag", text: t("pilot") }) : ""),
        el("td", {}, valueWithGrade(info.stats.mean, info.stats.mean_grade, false)),
        el("td", {}, valueWithGrade(info.stats.worst, info.stats.worst_grade, false)),
      );
    }));
  }

  function renderSensorTable() {
    const body = document.querySelector("#sensors tbody");
    const sensors = state.map ? [...(state.map.sensors || [])] : [];
    sensors.sort((a, b) => (a.stale - b.stale) || (a.name || a.id).localeCompare(b.name || b.id, state.lang));
    const stale = sensors.filter((s) => s.stale).length;
    document.getElementById("sensors-count").textContent = sensors.length
      ? `(${sensors.length}${stale ? `, ${t("stale_count", { n: stale })}` : ""})` : "";
    if (!sensors.length) {
      body.replaceChildren(el("tr", { className: "empty-row" }, el("td", { colspan: 3, text: state.map ? t("no_sensors") : t("loading") })));
      return;
    }
    body.replaceChildren(...sensors.map((s) => {
      const selected = state.selection && state.selection.kind === "sensor" && state.selection.id === s.id;
      const classes = [s.stale ? "is-stale" : "", selected ? "is-selected" : ""].filter(Boolean).join(" ");
      const seen = s.last_seen ? formatDateTime(s.last_seen) : t("never");
      return el("tr", { "data-sensor": s.id, className: classes || null },
        el("th", { scope: "row" }, selectButton("sensor", s.id, s.name || s.id),
          el("span", { className: "sub" },
            [kindLabel(s), areaName(areaInfo(s.area_code)), sensorSource(s)].filter(Boolean).join(" · "))),
        el("td", {}, valueWithGrade(s[state.pollutant], s.grade, s.stale)),
        el("td", {}, s.last_seen
          ? el("time", { datetime: s.last_seen, text: s.stale ? t("stale_since", { t: seen }) : seen })
          : el("span", { className: "none", text: seen })),
      );
    }));
  }

  for (const table of [document.getElementById("areas"), document.getElementById("sensors")]) {
    table.addEventListener("click", (event) => {
      const button = event.target.closest("[data-select]");
      if (button) {
        select({ kind: button.dataset.select, id: button.dataset.id }, true);
      }
    });
  }

  // ---- a selected sensor's 24-hour mean and C24E ------------------------------------------

  function bandOf(value) {
    // The Korean scale grades the whole µg/m³ (truncated), as the service's grades.py does.
    const bands = config.bands[state.pollutant] || [];
    const whole = Math.floor(value);
    return bands.find((b) => b.hi === null || whole <= b.hi) || null;
  }

  function dayFigure(key, value, tip) {
    const term = el("dt", { className: "day-term" }, t(key));
    if (tip) {
      // A tooltip for the mouse, and the same sentence as the term's accessible description.
      term.setAttribute("title", tip);
      term.classList.add("has-tip");
    }
    const known = typeof value === "number" && Number.isFinite(value);
    const detail = known
      ? el("dd", { className: `day-value day-${key}` },
        el("span", { className: "value", text: t("value", { v: formatValue(value) }) }), " ",
        gradeBadge(bandOf(value), false))
      : el("dd", { className: `day-value day-${key} day-none`, title: t("day_none_tip"), text: t("day_none") });
    return el("div", { className: "day-figure", "data-figure": key }, term, detail);
  }

  function renderDayFigures() {
    const selection = state.selection;
    const sensor = selection && selection.kind === "sensor" && state.map
      ? (state.map.sensors || []).find((s) => s.id === selection.id) : null;
    if (!sensor) {
      dayFiguresEl.hidden = true;
      dayFiguresEl.replaceChildren();
      return;
    }
    dayFiguresEl.replaceChildren(
      dayFigure("day_mean", sensor.mean_24h, null),
      dayFigure("day_c24e", sensor.c24e, t("day_c24e_tip")),
    );
    dayFiguresEl.hidden = false;
  }

  // ---- the 24-hour chart ------------------------------------------------------------------

  function selectionName(selection) {
    if (selection.kind === "area") {
      return areaName(areaInfo(selection.id) || { code: selection.id });
    }
    const sensor = state.map && (state.map.sensors || []).find((s) => s.id === selection.id);
    return sensor ? sensor.name || sensor.id : selection.id;
  }

  function select(selection, fromList) {
    state.selection = selection;
    restyleAreas();
    drawSensors();
    renderAreaTable();
    renderSensorTable();
    if (selection.kind === "sensor" && map && fromList) {
      const marker = markers.get(selection.id);
      if (marker) {
        // Centred; and zoomed in when it stood in a group, so that it has a chance to stand alone.
        const grouped = marker.getElement().classList.contains("is-grouped");
        map.setView(marker.getLatLng(), grouped ? Math.max(map.getZoom(), WIDE_ZOOM) : map.getZoom());
      }
    }
    state.reveal = true; // once drawn, bring the chart into view (on a phone it is off screen)
    renderDayFigures();
    loadSeries();
    loadForecast();
  }

  async function loadSeries() {
    const selection = state.selection;
    if (!selection) {
      return;
    }
    const ticket = ++state.seriesRequest;
    chartHint.hidden = true;
    chartEl.hidden = false;
    chartEl.setAttribute("aria-busy", "true");
    if (!state.series || state.series.selection !== selection) {
      chartEl.replaceChildren(el("p", { className: "chart-note", text: t("chart_loading") }));
    }
    const query = selection.kind === "area" ? "area" : "sensor";
    try {
      const response = await fetch(`${config.api}/series?${query}=${encodeURIComponent(selection.id)}&hours=24`, {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      }
      const body = await response.json();
      if (ticket !== state.seriesRequest) {
        return; // a newer selection won
      }
      state.series = { selection, points: body.points || [] };
      renderChart();
      revealChart();
    } catch (error) {
      if (ticket === state.seriesRequest) {
        state.series = null;
        chartEl.replaceChildren(el("p", { className: "chart-note error", text: t("chart_failed", { e: error.message }) }));
        revealChart();
      }
    } finally {
      if (ticket === state.seriesRequest) {
        chartEl.removeAttribute("aria-busy");
      }
    }
  }

  function revealChart() {
    if (state.reveal) {
      state.reveal = false;
      panel.scrollIntoView({ block: "nearest" });
    }
  }

  function pointGrade(point) {
    const grade = point[`grade_${state.pollutant}`];
    const bands = config.bands[state.pollutant] || [];
    if (grade && typeof grade === "object") {
      return grade;
    }
    if (typeof grade === "number") {
      return bands.find((b) => b.level === grade) || null;
    }
    if (typeof grade === "string") {
      return bands.find((b) => b.key === grade) || null;
    }
    return null;
  }

  function niceCeiling(value) {
    const step = value <= 50 ? 10 : value <= 200 ? 25 : 100;
    return Math.ceil(value / step) * step;
  }

  function renderChart() {
    if (!state.series) {
      return;
    }
    const { selection, points } = state.series;
    const p = POLLUTANT_NAMES[state.pollutant];
    const name = selectionName(selection);
    const last = points.length ? points[points.length - 1].hour : state.map ? state.map.hour : null;
    const title = t(selection.kind === "area" ? "chart_area" : "chart_sensor", {
      name, p, t: last ? formatDateTime(last) : "—",
    });
    const values = points.map((pt) => pt[state.pollutant]).filter((v) => typeof v === "number");
    const heading = el("h3", { className: "chart-title", id: "chart-title", text: title });
    if (!values.length) {
      chartEl.replaceChildren(heading, el("p", { className: "chart-note", text: t("chart_empty") }));
      return;
    }
    const bands = config.bands[state.pollutant] || [];
    // Drawn at the panel's own width, so its text stays at a readable size.
    const W = Math.max(280, Math.round(chartEl.clientWidth || 640));
    const H = Math.round(Math.min(280, Math.max(200, W * 0.55)));
    const m = { left: 40, right: 10, top: 22, bottom: 40 };
    const plotW = W - m.left - m.right;
    const plotH = H - m.top - m.bottom;
    const second = bands.length > 1 ? bands[1].lo : 20;
    const yMax = niceCeiling(Math.max(...values, second) * 1.12);
    const y = (v) => m.top + plotH - (Math.min(v, yMax) / yMax) * plotH;
    const slot = plotW / Math.max(points.length, 1);
    const barW = Math.max(2, slot * 0.72);

    const chart = svg("svg", {
      viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img", "aria-labelledby": "chart-title chart-desc",
      preserveAspectRatio: "xMidYMid meet",
    });
    chart.append(svg("desc", {
      id: "chart-desc",
      text: t("chart_desc", { p, n: values.length, total: points.length, max: formatValue(Math.max(...values)) }),
    }));
    // The grade bands behind the bars, faint, so a bar reads against the scale.
    for (const band of bands) {
      if (band.lo >= yMax) {
        continue;
      }
      const top = band.hi === null ? yMax : Math.min(band.hi + 1, yMax);
      chart.append(svg("rect", {
        x: m.left, width: plotW, y: y(top), height: y(band.lo) - y(top),
        fill: band.colour, "fill-opacity": 0.14, class: "chart-band",
      }));
      if (band.lo > 0) {
        chart.append(svg("line", { x1: m.left, x2: m.left + plotW, y1: y(band.lo), y2: y(band.lo), class: "chart-threshold" }));
        chart.append(svg("text", { x: m.left - 6, y: y(band.lo) + 4, class: "chart-axis", "text-anchor": "end", text: String(band.lo) }));
      }
    }
    if (bands.every((band) => band.lo <= 0 || y(band.lo) - m.top > 12)) {
      chart.append(svg("text", { x: m.left - 6, y: m.top + 4, class: "chart-axis", "text-anchor": "end", text: String(yMax) }));
    }
    chart.append(svg("text", { x: m.left - 6, y: m.top + plotH + 4, class: "chart-axis", "text-anchor": "end", text: "0" }));
    chart.append(svg("text", { x: 4, y: 11, class: "chart-axis chart-unit", text: "µg/m³" }));

    const selectedHour = state.map ? state.map.hour : null;
    points.forEach((pt, i) => {
      const x = m.left + i * slot + (slot - barW) / 2;
      const value = pt[state.pollutant];
      const grade = pointGrade(pt);
      const when = formatDateTime(pt.hour);
      const isSelected = selectedHour && new Date(pt.hour).getTime() === new Date(selectedHour).getTime();
      if (isSelected) {
        chart.append(svg("rect", {
          x: m.left + i * slot, width: slot, y: m.top, height: plotH, class: "chart-selected",
        }, svg("title", { text: `${t("chart_selected")}: ${when} KST` })));
      }
      if (typeof value === "number") {
        const bar = svg("rect", {
          x, width: barW, y: y(value), height: Math.max(1, m.top + plotH - y(value)),
          fill: grade ? grade.colour : "#8a96a3", class: "chart-bar", "data-hour": pt.hour,
        }, svg("title", { text: `${when} KST: ${t("value", { v: formatValue(value) })}, ${gradeLabel(grade)}` }));
        chart.append(bar);
      } else {
        chart.append(svg("text", {
          x: x + barW / 2, y: m.top + plotH - 4, class: "chart-missing", "text-anchor": "middle", text: "×",
        }, svg("title", { text: `${when} KST: ${t("chart_missing")}` })));
      }
      const every = W < 420 ? 4 : 3;
      if (i % every === 0 || i === points.length - 1) {
        chart.append(svg("text", {
          x: m.left + i * slot + slot / 2, y: m.top + plotH + 16, class: "chart-axis", "text-anchor": "middle",
          text: formatHourOfDay(pt.hour),
        }));
      }
    });
    chart.append(svg("line", { x1: m.left, x2: m.left + plotW, y1: m.top + plotH, y2: m.top + plotH, class: "chart-baseline" }));
    chart.append(svg("text", {
      x: m.left + plotW / 2, y: H - 6, class: "chart-axis", "text-anchor": "middle", text: t("col_hour"),
    }));

    const table = el("table", { className: "air-table chart-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: t("col_hour") }),
        el("th", { scope: "col", className: "num", text: `${p} (µg/m³)` }),
        el("th", { scope: "col", text: t("col_grade") }))),
      el("tbody", {}, ...points.map((pt) => el("tr", {},
        el("td", { text: formatDateTime(pt.hour) }),
        el("td", { className: "num", text: formatValue(pt[state.pollutant]) }),
        el("td", {}, typeof pt[state.pollutant] === "number"
          ? gradeBadge(pointGrade(pt), false) : t("chart_missing")),
      ))));
    const details = el("details", { className: "chart-numbers" },
      el("summary", { text: t("chart_numbers") }), el("div", { className: "table-wrap" }, table));
    chartEl.replaceChildren(heading, chart, details);
  }

  // ---- the 6-hour forecast of a selected area -------------------------------------------------

  function openAskedArea() {
    // /air?area=<code> (alert e-mails and webhooks link there): select that area once.
    const code = state.askedArea;
    state.askedArea = null;
    if (!code) {
      return;
    }
    const feature = areaFeature(code);
    if (!feature) {
      areaNotice.dataset.code = code;
      renderAreaNotice();
      return;
    }
    if (map && areaLayer) {
      areaLayer.eachLayer((layer) => {
        if (layer.feature && layer.feature.properties.code === code) {
          fitted = true;
          map.fitBounds(layer.getBounds(), { padding: [24, 24], animate: false });
        }
      });
    }
    select({ kind: "area", id: code });
  }

  function renderAreaNotice() {
    const code = areaNotice.dataset.code;
    areaNotice.hidden = !code;
    areaNotice.textContent = code ? t("area_unknown", { c: code }) : "";
  }

  async function loadForecast() {
    const selection = state.selection;
    if (!selection || selection.kind !== "area") {
      state.forecast = null;
      forecastEl.hidden = true;
      return;
    }
    const ticket = ++state.forecastRequest;
    const code = selection.id;
    const pollutant = state.pollutant;
    forecastEl.hidden = false;
    if (!state.forecast || state.forecast.code !== code || state.forecast.pollutant !== pollutant) {
      forecastBody.replaceChildren(el("p", { className: "chart-note", text: t("forecast_loading") }));
    }
    let result;
    try {
      const response = await fetch(
        `${config.api}/forecast?area=${encodeURIComponent(code)}&pollutant=${pollutant}`,
        { cache: "no-store", headers: { Accept: "application/json" } });
      if (response.status === 404) {
        result = { code, pollutant, body: null, error: null }; // none issued yet
      } else if (!response.ok) {
        throw new Error(`HTTP ${response.status}`);
      } else {
        result = { code, pollutant, body: await response.json(), error: null };
      }
    } catch (error) {
      result = { code, pollutant, body: null, error: error.message };
    }
    if (ticket !== state.forecastRequest) {
      return; // a newer selection or pollutant won
    }
    state.forecast = result;
    renderForecast();
  }

  function methodInfo(method, fallback) {
    if (fallback || method === "persistence") {
      return { key: "persistence", label: t("method_persistence"), tip: t("method_persistence_tip") };
    }
    if (method === "model") {
      return { key: "model", label: t("method_model"), tip: t("method_model_tip") };
    }
    return { key: "mixed", label: t("method_mixed"), tip: t("method_mixed_tip") };
  }

  function renderForecast() {
    const forecast = state.forecast;
    if (!forecast) {
      forecastEl.hidden = true;
      return;
    }
    forecastEl.hidden = false;
    const note = (key, values, extra) => el("p", { className: `chart-note${extra ? ` ${extra}` : ""}`, text: t(key, values) });
    if (forecast.error) {
      forecastBody.replaceChildren(note("forecast_failed", { e: forecast.error }, "error"));
      return;
    }
    if (!forecast.body) {
      forecastBody.replaceChildren(note("forecast_none", {}, "forecast-none"));
      return;
    }
    const body = forecast.body;
    const p = POLLUTANT_NAMES[body.pollutant] || POLLUTANT_NAMES[forecast.pollutant];
    const name = areaName(body.area || areaInfo(forecast.code) || { code: forecast.code });
    const points = body.points || [];
    const how = methodInfo(body.method, body.fallback);
    const source = describeSource(body.source);
    const meta = el("p", { className: "forecast-meta" },
      el("span", {
        className: `forecast-method method-${how.key}`, title: how.tip, tabindex: 0,
        "aria-label": `${how.label}. ${how.tip}`, text: how.label,
      }),
      body.issued_at ? el("span", { className: "forecast-issued" },
        " · ", el("time", { datetime: body.issued_at, text: t("forecast_issued", { t: formatDateTime(body.issued_at) }) })) : "",
      source && source.toLowerCase() !== "measured" ? el("span", { className: "forecast-source", text: ` · ${t("source", { s: source })}` }) : "");
    const title = el("p", { className: "forecast-area", text: t("forecast_area", { name, p }) });
    if (!points.length) {
      forecastBody.replaceChildren(title, meta, note("forecast_empty", {}, "forecast-none"));
      return;
    }
    const table = el("table", { className: "air-table forecast-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col", text: t("col_hour") }),
        el("th", { scope: "col", className: "num", text: t("forecast_col_value", { p }) }),
        el("th", { scope: "col", text: t("col_grade") }))),
      el("tbody", {}, ...points.map((pt) => {
        const rowHow = methodInfo(pt.method, false);
        return el("tr", { "data-horizon": pt.horizon, "data-method": pt.method },
          el("th", { scope: "row" },
            el("time", { datetime: pt.hour, text: shortTime(pt.hour) }),
            el("span", { className: "sub", text: `+${pt.horizon} h` }),
            body.method === "mixed" ? el("span", { className: "sub", title: rowHow.tip, text: t(`method_row_${rowHow.key}`) }) : ""),
          el("td", { className: "num" },
            el("span", { className: "value", text: formatValue(pt.value) }),
            el("span", {
              className: "sub forecast-range",
              text: typeof pt.lower === "number" && typeof pt.upper === "number"
                ? t("forecast_range", { lo: formatValue(pt.lower), hi: formatValue(pt.upper) }) : t("forecast_no_range"),
            })),
          el("td", {}, typeof pt.value === "number" ? gradeBadge(pt.grade, false) : t("chart_missing")));
      })));
    forecastBody.replaceChildren(title, meta, el("div", { className: "table-wrap" }, table));
  }

  // ---- hours, slider and loading -----------------------------------------------------------

  function renderSlider() {
    const count = state.hours.length;
    slider.max = String(Math.max(count - 1, 0));
    slider.value = String(Math.max(state.index, 0));
    slider.disabled = count < 2;
    prevButton.disabled = state.index <= 0;
    nextButton.disabled = state.index < 0 || state.index >= count - 1;
    latestButton.disabled = state.index === count - 1;
    const hour = state.hours[state.index];
    const text = hour
      ? `${formatDateTime(hour)} KST${state.index === count - 1 ? ` (${t("latest_mark")})` : ""}`
      : "—";
    hourLabel.textContent = text;
    slider.setAttribute("aria-valuetext", text);
  }

  function setIndex(index, immediate) {
    const count = state.hours.length;
    if (!count) {
      return;
    }
    state.index = Math.min(Math.max(index, 0), count - 1);
    state.follow = state.index === count - 1;
    renderSlider();
    window.clearTimeout(state.loadTimer);
    // Held arrow keys and drags fire many events: load only when the hand rests.
    state.loadTimer = window.setTimeout(loadMap, immediate ? 0 : 200);
  }

  async function fetchJson(url) {
    const response = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) {
      const error = new Error(`HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  async function loadHours() {
    try {
      const body = await fetchJson(`${config.api}/hours`);
      const hours = body.hours || [];
      state.updatedAt = body.updated_at || null;
      const current = state.hours[state.index];
      const changed = hours.join() !== state.hours.join();
      state.hours = hours;
      state.hoursLoaded = true;
      if (!hours.length) {
        state.index = -1;
        state.problem = null;
        renderSlider();
        renderStatus();
        return;
      }
      if (state.follow || state.index < 0) {
        const wasIndex = state.index;
        state.index = hours.length - 1;
        renderSlider();
        if (changed || wasIndex < 0 || !state.map) {
          await loadMap();
        }
      } else {
        const kept = hours.indexOf(current);
        state.index = kept >= 0 ? kept : 0;
        renderSlider();
        if (kept < 0) {
          await loadMap();
        }
      }
    } catch (error) {
      state.problem = { key: "failed", values: { e: error.message } };
      renderStatus();
    }
  }

  async function loadMap() {
    const hour = state.hours[state.index];
    if (!hour) {
      return;
    }
    const ticket = ++state.request;
    root.setAttribute("aria-busy", "true");
    try {
      const body = await fetchJson(
        `${config.api}/map?hour=${encodeURIComponent(hour)}&pollutant=${state.pollutant}`);
      if (ticket !== state.request) {
        return; // the slider moved on while this one loaded
      }
      state.map = body;
      state.problem = null;
      showMapNote("");
      renderAll();
      if (state.selection) {
        loadSeries();
        loadForecast();
      }
    } catch (error) {
      if (ticket !== state.request) {
        return;
      }
      state.problem = error.status === 404
        ? { key: "hour_missing", values: { t: formatDateTime(hour) } }
        : { key: "failed", values: { e: error.message } };
      renderStatus();
    } finally {
      if (ticket === state.request) {
        root.removeAttribute("aria-busy");
      }
    }
  }

  function renderAll() {
    drawSurface();
    drawSensors();
    restyleAreas();
    renderStatus();
    renderSource();
    renderMethod();
    renderAreaTable();
    renderSensorTable();
    renderDayFigures(); // the map's hour and pollutant decide the sensor's figures
  }

  // ---- language -----------------------------------------------------------------------------

  function applyLanguage() {
    root.setAttribute("lang", state.lang);
    for (const node of root.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n, { p: POLLUTANT_NAMES[state.pollutant] });
    }
    for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel));
    }
    langToggle.textContent = t("lang_toggle");
    langToggle.setAttribute("lang", state.lang === "ko" ? "en" : "ko");
    langToggle.setAttribute("aria-label", t("lang_toggle_label"));
    renderLegend();
    renderSlider();
    if (state.map) {
      renderAll();
    } else {
      renderStatus();
      renderAreaTable();
      renderSensorTable();
    }
    if (state.series) {
      renderChart();
    }
    renderForecast();
    renderAreaNotice();
    if (!window.L) {
      showMapNote(t("no_leaflet"));
    }
  }

  langToggle.addEventListener("click", () => {
    state.lang = state.lang === "ko" ? "en" : "ko";
    try {
      window.localStorage.setItem(STORE_KEY, state.lang);
    } catch (error) {
      // storage switched off: the choice lasts for this page only
    }
    applyLanguage();
  });

  // ---- controls -----------------------------------------------------------------------------

  slider.addEventListener("input", () => setIndex(Number(slider.value), false));
  prevButton.addEventListener("click", () => setIndex(state.index - 1, true));
  nextButton.addEventListener("click", () => setIndex(state.index + 1, true));
  latestButton.addEventListener("click", () => setIndex(state.hours.length - 1, true));

  for (const radio of root.querySelectorAll('input[name="pollutant"]')) {
    radio.addEventListener("change", () => {
      if (!radio.checked) {
        return;
      }
      state.pollutant = radio.value;
      applyLanguage(); // the legend and column heads name the pollutant
      loadMap();
      loadForecast();
    });
  }

  function applyOpacity() {
    state.opacity = Number(opacityInput.value) / 100;
    opacityValue.textContent = `${opacityInput.value} %`;
    if (surface) {
      surface.setOpacity(state.opacity);
    }
  }

  opacityInput.addEventListener("input", applyOpacity);

  if (window.ResizeObserver) {
    let width = 0;
    new ResizeObserver(() => {
      const now = chartEl.clientWidth;
      if (state.series && Math.abs(now - width) > 8) {
        width = now;
        renderChart();
      }
    }).observe(chartEl);
  }

  function schedule() {
    window.clearTimeout(state.timer);
    state.timer = window.setTimeout(async () => {
      if (!document.hidden) {
        await loadHours();
      }
      schedule();
    }, config.pollMs);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      loadHours();
    }
  });

  const checked = root.querySelector('input[name="pollutant"]:checked');
  state.pollutant = checked ? checked.value : "pm25";
  applyOpacity();
  applyLanguage();
  loadAreas();
  loadHours().then(schedule);
})();
