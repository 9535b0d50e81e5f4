/* Words of the bikes pages in English and Korean, as the air map does: the server writes
 * English; every label carries data-i18n (its key) and its values in data-* attributes
 * (data-n="4" fills {n}); the reader's choice (?lang=, then the stored choice, then the
 * browser's language) decides. Text only ever goes in through textContent.
 */
(function () {
  "use strict";

  const STORE_KEY = "citysmart.bikes.lang";
  const TEXT = {
    en: {
      plan_title: "Bike rebalancing plan",
      driver_title: "My truck route",
      make_plan: "Make a new plan now",
      making_plan: "Making a plan… this can take a minute.",
      plan_made: "A new plan was made. Loading it…",
      plan_unavailable: "Making a plan from this page is not available on this server yet (the plan service answered {status}). The morning plan is still made on schedule.",
      plan_failed: "The plan could not be made: {e}",
      no_plan: "No plan yet. A plan is made each morning; you can also make one now.",
      no_plan_driver: "No plan yet. Your route appears here once the morning plan is made.",
      summary: "Summary",
      bikes_moved: "Bikes planned / wanted",
      lost_trips: "Expected lost trips (before → after)",
      stations_needing: "Stations needing a truck",
      horizon: "Horizon (KST)",
      made: "Made (KST)",
      trigger_morning: "morning plan",
      trigger_replan: "re-plan",
      trigger_manual: "made by hand",
      demand_source: "Demand forecast",
      map_heading: "Routes",
      map_label: "Map of the trucks' routes in Sejong",
      attribution: "Boundaries: Statistics Korea (KOSTAT) SGIS 2018 (KOGL Type 1). No map tiles.",
      no_leaflet: "The map library is missing on this server; the job lists below still work.",
      boundaries_failed: "The area boundaries could not be loaded ({e}); the routes are drawn without them.",
      map_failed: "The routes could not be loaded for the map ({e}).",
      distance_km: "{km} km",
      duration_hm: "{hm} h",
      jobs_done: "{done} of {total} jobs done",
      start_load: "starts with {n} bikes",
      col_station: "Station",
      col_job: "Job",
      col_eta: "ETA (KST)",
      col_state: "State",
      take_n: "Take {n}",
      bring_n: "Bring {n}",
      done_n: "Done: {n} moved at {t} by {by}",
      not_done: "Not done",
      no_jobs: "No jobs for this truck.",
      depot: "Depot of {name}",
      legend: "Legend: trucks and stops",
      legend_take: "Take bikes (square)",
      legend_bring: "Bring bikes (circle)",
      legend_depot: "Depot (start)",
      marker_label: "Stop {seq} of {truck}: {station}, {job}",
      truck_label: "My truck",
      pick_truck: "Choose your truck",
      show_route: "Show route",
      pick_first: "Choose your truck to see its route.",
      no_route: "This truck has no route in the active plan:",
      next_job: "Next job",
      eta_at: "ETA {t} KST",
      open_map: "Open in maps",
      moved_label: "Bikes really moved (0–{n})",
      mark_done: "Mark done",
      sending: "Sending…",
      report_early: "Report done now",
      jobs_left: "Jobs after this one",
      jobs_finished: "Done",
      none_after_next: "No other jobs left.",
      none_done: "No job done yet.",
      all_done: "All jobs done. Thank you!",
      job_marked: "Job #{seq} marked done: {n} bikes.",
      bad_count: "Enter a whole number from 0 to {n}.",
      send_failed: "Not saved: {e}",
      offline: "the server could not be reached",
      lang_toggle: "한국어",
      lang_toggle_label: "한국어 (view in Korean)",
    },
    ko: {
      plan_title: "자전거 재배치 계획",
      driver_title: "내 트럭 경로",
      make_plan: "지금 새 계획 만들기",
      making_plan: "계획을 만드는 중… 1분쯤 걸릴 수 있습니다.",
      plan_made: "새 계획을 만들었습니다. 불러오는 중…",
      plan_unavailable: "이 서버에서는 아직 이 페이지에서 계획을 만들 수 없습니다(계획 서비스 응답 {status}). 아침 계획은 예정대로 만들어집니다.",
      plan_failed: "계획을 만들지 못했습니다: {e}",
      no_plan: "아직 계획이 없습니다. 계획은 매일 아침 만들어지며, 지금 만들 수도 있습니다.",
      no_plan_driver: "아직 계획이 없습니다. 아침 계획이 만들어지면 경로가 여기에 나타납니다.",
      summary: "요약",
      bikes_moved: "계획한 자전거 / 필요한 자전거",
      lost_trips: "예상 놓친 이용 (전 → 후)",
      stations_needing: "트럭이 필요한 대여소",
      horizon: "계획 기간 (KST)",
      made: "작성 (KST)",
      trigger_morning: "아침 계획",
      trigger_replan: "재계획",
      trigger_manual: "수동 작성",
      demand_source: "수요 예측",
      map_heading: "경로",
      map_label: "세종시 트럭 경로 지도",
      attribution: "경계: 통계청 SGIS 2018 (공공누리 제1유형). 지도 타일 없음.",
      no_leaflet: "이 서버에 지도 라이브러리가 없습니다. 아래 작업 목록은 그대로 쓸 수 있습니다.",
      boundaries_failed: "행정구역 경계를 불러오지 못했습니다({e}). 경로는 경계 없이 그립니다.",
      map_failed: "지도에 그릴 경로를 불러오지 못했습니다({e}).",
      distance_km: "{km} km",
      duration_hm: "{hm} 시간",
      jobs_done: "작업 {total}건 중 {done}건 완료",
      start_load: "출발 적재 {n}대",
      col_station: "대여소",
      col_job: "작업",
      col_eta: "도착 예정 (KST)",
      col_state: "상태",
      take_n: "{n}대 회수",
      bring_n: "{n}대 배치",
      done_n: "완료: {t}에 {by}님이 {n}대 이동",
      not_done: "미완료",
      no_jobs: "이 트럭의 작업이 없습니다.",
      depot: "{name} 차고지",
      legend: "범례: 트럭과 정차 지점",
      legend_take: "자전거 회수 (사각형)",
      legend_bring: "자전거 배치 (원)",
      legend_depot: "차고지 (출발)",
      marker_label: "{truck}의 {seq}번째 정차: {station}, {job}",
      truck_label: "내 트럭",
      pick_truck: "트럭을 고르세요",
      show_route: "경로 보기",
      pick_first: "트럭을 고르면 경로가 보입니다.",
      no_route: "이 트럭은 현재 계획에 경로가 없습니다:",
      next_job: "다음 작업",
      eta_at: "도착 예정 {t} KST",
      open_map: "지도 앱에서 열기",
      moved_label: "실제로 옮긴 자전거 (0–{n}대)",
      mark_done: "완료 표시",
      sending: "보내는 중…",
      report_early: "지금 완료 보고",
      jobs_left: "이후 작업",
      jobs_finished: "완료한 작업",
      none_after_next: "다른 남은 작업이 없습니다.",
      none_done: "아직 완료한 작업이 없습니다.",
      all_done: "모든 작업을 마쳤습니다. 수고하셨습니다!",
      job_marked: "{seq}번 작업 완료: {n}대.",
      bad_count: "0부터 {n}까지의 정수를 입력하세요.",
      send_failed: "저장되지 않았습니다: {e}",
      offline: "서버에 연결할 수 없습니다",
      lang_toggle: "English",
      lang_toggle_label: "English (영어로 보기)",
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

  const state = { lang: pickLanguage(), listeners: [] };

  function t(key, values) {
    const table = TEXT[state.lang];
    const words = table[key] !== undefined ? table[key] : TEXT.en[key] !== undefined ? TEXT.en[key] : key;
    return words.replace(/\{(\w+)\}/g, (_, name) => (values && values[name] !== undefined ? String(values[name]) : ""));
  }

  function apply(root) {
    root.setAttribute("lang", state.lang);
    for (const node of root.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n, node.dataset);
    }
    for (const node of root.querySelectorAll("[data-i18n-aria-label]")) {
      node.setAttribute("aria-label", t(node.dataset.i18nAriaLabel, node.dataset));
    }
    for (const node of root.querySelectorAll("[data-i18n-label]")) {
      node.dataset.label = t(node.dataset.i18nLabel); // a phone's table cells name their column
    }
    for (const toggle of root.querySelectorAll(".lang-toggle")) {
      toggle.textContent = t("lang_toggle");
      toggle.setAttribute("lang", state.lang === "ko" ? "en" : "ko");
      toggle.setAttribute("aria-label", t("lang_toggle_label"));
    }
  }

  function setUp(root, onChange) {
    apply(root);
    for (const toggle of root.querySelectorAll(".lang-toggle")) {
      toggle.addEventListener("click", () => {
        state.lang = state.lang === "ko" ? "en" : "ko";
        try {
          window.localStorage.setItem(STORE_KEY, state.lang);
        } catch (error) {
          // storage switched off: the choice lasts for this page only
        }
        apply(root);
        if (onChange) {
          onChange();
        }
      });
    }
  }

  window.BikesI18n = { t, apply, setUp, lang: () => state.lang };
})();
