"""The demo's participation scene: a Sejong process, budget, survey, opinions and sandbox.

Demo people are made with the core accounts (residents verified through the real one-time
code path); everything else is seeded over HTTP with their tokens, as citizens and the city
would, so the simulator never touches the service's tables. Seeding is idempotent: items
are found by their titles first, and supports, ballots, answers and sign-ups given before
are answered 409 and left as they are. Every place is real; every person and every number
is invented for the demo.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session

from citysmart.core import accounts, verification

logger = logging.getLogger(__name__)
KST = ZoneInfo("Asia/Seoul")
API = "/api/v1/participation"
SLUG = "sejong-2026-citizen-proposals"
CITIZEN, MODERATOR = "citizen", "moderator"
THRESHOLD = 5
# (user name, display name): the verified residents who support, comment and vote.
RESIDENTS = (
    ("jiho.park", "박지호 Park Jiho"),
    ("seoyeon.lee", "이서연 Lee Seoyeon"),
    ("doyun.choi", "최도윤 Choi Doyun"),
    ("hana.jung", "정하나 Jung Hana"),
    ("minjun.kang", "강민준 Kang Minjun"),
    ("yuna.cho", "조유나 Cho Yuna"),
    ("taeyang.yoon", "윤태양 Yoon Taeyang"),
    ("sora.lim", "임소라 Lim Sora"),
)
# (author, supporters, title, body, category, area code, lon, lat)
PROPOSALS: tuple[tuple[str, int, str, str, str, str | None, float, float], ...] = (
    (CITIZEN, THRESHOLD, "Shade canopies at Dodam-dong crossings / 도담동 횡단보도 그늘막",
     "Pedestrians wait in full sun at the crossings around Dodam-dong's schools and BRT stops; "
     "folding shade canopies, as other cities use, would help children and older people in "
     "July and August.\n도담동 학교·BRT 정류장 주변 횡단보도에 접이식 그늘막을 설치해 주세요.",
     "urban", "2901053", 127.2625, 36.507),
    ("jiho.park", 3,
     "More Eoulling stations near Jochiwon station / 조치원역 주변 어울링 대여소 확충",
     "The stations by Jochiwon station are empty every morning. Add stations on the east side "
     "and near Korea University's Sejong campus.\n조치원역 동쪽과 고려대 세종캠퍼스 주변에 어울링 "
     "대여소를 늘려 주세요.", "mobility", "2901011", 127.2958, 36.6013),
    ("seoyeon.lee", 4, "Night BRT bus to Osong station / 오송역 심야 BRT",
     "The last bus to Osong station leaves before the late KTX trains arrive. A night BRT "
     "service, even hourly, would spare many a taxi.\n늦은 KTX 도착 시간에 맞춘 오송역 심야 BRT "
     "운행을 제안합니다.", "mobility", None, 127.289, 36.504),
    ("doyun.choi", 2, "Fine-dust alerts on apartment notice screens / 아파트 게시판 미세먼지 알림",
     "Show the city's fine-dust readings and alerts on the lobby screens of Areum-dong's "
     "apartment blocks.\n아름동 아파트 엘리베이터·로비 화면에 미세먼지 정보를 보여 주세요.",
     "environment", "2901059", 127.2494, 36.5178),
    ("hana.jung", 1, "Safe routes to school in Saerom-dong / 새롬동 안전한 통학로",
     "Raised crossings and a drop-off zone on the road between the apartments and the schools."
     "\n새롬동 학교 앞 고원식 횡단보도와 승하차 구역을 만들어 주세요.",
     "safety", "2901062", 127.2527, 36.489),
    ("minjun.kang", 0, "A dog park in Goun-dong / 고운동 반려견 놀이터",
     "A fenced off-leash area in one of Goun-dong's neighbourhood parks.\n"
     "고운동 근린공원에 울타리가 있는 반려견 놀이터를 만들어 주세요.",
     "culture", "2901060", 127.2356, 36.5187),
)  # fmt: skip
# (title, title_ko, cost in KRW, area code)
BUDGET_PROJECTS = (
    ("Floor-level crossing lights at 10 school zones", "어린이보호구역 바닥신호등 10곳",
     250_000_000, None),
    ("Shade canopies at 20 Dodam-dong crossings", "도담동 횡단보도 그늘막 20개", 120_000_000,
     "2901053"),
    ("8 Eoulling stations around Jochiwon station", "조치원역 주변 어울링 대여소 8곳", 180_000_000,
     "2901011"),
    ("Barrier-free trail around Sejong Lake Park", "세종호수공원 무장애 산책로", 350_000_000, None),
    ("Lighting for the Jochiwon old-town night market", "조치원 구도심 야시장 조명", 90_000_000,
     "2901011"),
    ("Air purifiers for 12 senior centres", "경로당 12곳 공기청정기", 60_000_000, None),
)  # fmt: skip
# Ballots (project positions) of the first residents; the last one stays a draft.
BALLOTS = ((0, 1, 5), (0, 3), (2, 4, 5), (1, 2, 5), (0, 1, 4), (3, 5))
# (title, title_ko, field, track, operator, place, scale, capacity, stage)
SANDBOX = (
    ("Autonomous shuttle on the BRT", "BRT 자율주행 셔틀", "transport", "demonstration_exemption",
     "Sejong autonomous-driving consortium (demo)", "BRT line, Government Complex - Bangchuk",
     "2 shuttles with a safety driver, 07:00-20:00", 300, "demonstrating"),
    ("Outdoor delivery robots", "실외 배달로봇", "living", "demonstration_exemption",
     "Delivery-robot operator (demo)", "Naseong-dong shopping streets",
     "6 robots on pavements, food and parcels", None, "evaluated"),
    ("Smart health kiosks in community centres", "행정복지센터 스마트 건강 키오스크",
     "healthcare", "temporary_permit", "Health-kiosk operator (demo)",
     "Community centres (행정복지센터) of three dong", "blood pressure, body composition, "
     "remote consultation", 500, "planned"),
    ("E-scooter parking zones by geofence", "전동킥보드 전용 주차구역", "safety", "rapid_check",
     "Shared e-scooter operators (demo)", "Hansol-dong and Dodam-dong",
     "scooters end rides only in marked zones", None, "converted"),
)  # fmt: skip
STAGES = ("planned", "selected", "demonstrating", "evaluated", "converted")


@dataclass
class Cast:
    """The demo's people: bearer tokens by user name, and the passwords shown at start."""

    operator: str
    tokens: dict[str, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def auth(self, username: str | None = None) -> dict[str, str]:
        """Return the bearer header of a demo person (the operator by default)."""
        token = self.operator if username is None else self.tokens[username]
        return {"Authorization": f"Bearer {token}"}


def _person(session: Session, username: str, role: str, display: str) -> None:
    try:
        accounts.get_user(session, username)
    except accounts.AccountError:
        accounts.create_user(session, username, role, actor="demo", display_name=display)


def _verify(session: Session, username: str) -> None:
    if accounts.get_user(session, username).verified_at is None:
        # The real path: an admin's one-time code, typed in by the resident.
        code, _ = verification.issue_code(session, "demo", for_username=username, days=1)
        verification.verify_by_code(session, username, code)


def make_cast(session: Session, operator_token: str) -> Cast:
    """Create (or refresh) the demo's citizens, residents and moderator; issue their tokens."""
    cast = Cast(operator_token)
    people = [(CITIZEN, "citizen", "김민지 Kim Minji (demo citizen)")]
    people += [(name, "citizen", display) for name, display in RESIDENTS]
    people.append((MODERATOR, "moderator", "Demo moderator"))
    for username, role, display in people:
        _person(session, username, role, display)
        if role == "citizen":
            _verify(session, username)
        if username in (CITIZEN, MODERATOR):
            cast.passwords[username] = secrets.token_urlsafe(9)
            accounts.set_password(session, username, cast.passwords[username], actor="demo")
        cast.tokens[username], _ = accounts.issue_token(session, username, 1, actor="demo")
    return cast


def _check(response: httpx.Response, *ok: int) -> Any:
    """Return a response's JSON; raise for a status neither 2xx nor one of ``ok``."""
    if response.status_code not in ok and not response.is_success:
        raise httpx.HTTPStatusError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}",
            request=response.request,
            response=response,
        )
    return response.json() if response.content else None


def _at(day: dt.date, days: int, hour: int = 0) -> str:
    return dt.datetime.combine(day + dt.timedelta(days=days), dt.time(hour), KST).isoformat()


def _phases(today: dt.date) -> list[dict[str, Any]]:
    spec = (
        ("proposals", "Proposals and supports", "제안 및 지지", -14, 3),
        ("supports", "Last supports", "추가 지지", 3, 7),
        ("voting", "Voting", "투표", 7, 14),
        ("follow_up", "Follow-up", "후속 조치", 14, 120),
    )
    return [
        {"kind": kind, "title": en, "title_ko": ko, "starts_at": _at(today, a),
         "ends_at": _at(today, b)}
        for kind, en, ko, a, b in spec
    ]  # fmt: skip


def _process(http: httpx.Client, cast: Cast, today: dt.date) -> dict[str, Any]:
    found = http.get(f"{API}/processes/{SLUG}", headers=cast.auth())
    if found.status_code == 200:
        process: dict[str, Any] = found.json()
        return process
    return dict(_check(http.post(f"{API}/processes", headers=cast.auth(), json={
        "slug": SLUG, "title": "2026 Sejong citizen proposals",
        "title_ko": "2026 세종 시민 제안", "published": True,
        "description": "Propose what Sejong should do next year. Proposals with "
        f"{THRESHOLD} supports from verified residents go to a vote of all residents.\n"
        f"세종시에 바라는 점을 제안해 주세요. 인증된 주민 {THRESHOLD}명의 지지를 받은 제안은 "
        "주민 투표에 부쳐집니다. (demo data)",
        "support_threshold": THRESHOLD, "quorum": 3, "phases": _phases(today),
    })))  # fmt: skip


def _proposals(http: httpx.Client, cast: Cast, process: dict[str, Any]) -> list[dict[str, Any]]:
    url = f"{API}/processes/{process['slug']}/proposals"
    known = {p["title"]: p for p in _check(http.get(url, headers=cast.auth()))}
    residents = [name for name, _ in RESIDENTS]
    for author, supporters, title, body, category, area, lon, lat in PROPOSALS:
        if title not in known:
            known[title] = _check(http.post(url, headers=cast.auth(author), json={
                "title": title, "body": body, "category": category, "area_code": area,
                "lon": lon, "lat": lat,
            }))  # fmt: skip
        pid = known[title]["id"]
        for name in [n for n in residents if n != author][:supporters]:
            _check(http.post(f"{API}/proposals/{pid}/support", headers=cast.auth(name)), 409)
    return list(_check(http.get(url, headers=cast.auth())))


def _talk(http: httpx.Client, cast: Cast, process: dict[str, Any], first_id: int) -> int:
    """Comment on the proposal in the vote (with a reply) and open a debate; count debates."""
    thread: dict[str, str | int] = {"target_type": "proposal", "target_id": first_id}
    if not _check(http.get(f"{API}/comments", params=thread))["count"]:
        top = _check(http.post(f"{API}/comments", headers=cast.auth("yuna.cho"), json={
            **thread, "alignment": "for",
            "body": "The crossing by the elementary school has no shade at all in July. "
            "아이들이 한여름에 땡볕에서 기다려요.",
        }))  # fmt: skip
        _check(http.post(f"{API}/comments", headers=cast.auth("taeyang.yoon"), json={
            **thread, "parent_id": top["id"],
            "body": "Agreed, as long as the canopies do not hide children from drivers. "
            "운전자 시야를 가리지 않게 설치하면 좋겠습니다.",
        }))  # fmt: skip
        _check(http.post(f"{API}/comments", headers=cast.auth("sora.lim"), json={
            **thread, "alignment": "against",
            "body": "Street trees would give more shade in the long run than canopies. "
            "장기적으로는 가로수가 더 낫다고 생각합니다.",
        }))  # fmt: skip
    title = "Should the BRT run all night? / BRT 심야 운행, 필요할까요?"
    debates = _check(http.get(f"{API}/debates", params={"process_id": process["id"]}))
    if not any(d["title"] == title for d in debates):
        debate = _check(http.post(f"{API}/debates", headers=cast.auth(), json={
            "process_id": process["id"], "title": title,
            "description": "Night buses cost money the city could spend elsewhere. Who would "
            "ride them, and where to? 심야 버스는 누구에게, 어디로 필요할까요?",
        }))  # fmt: skip
        for name, body in (
            ("seoyeon.lee", "Shift workers at the hospital and the KTX passengers, to Osong."),
            ("doyun.choi", "Hourly is enough; a demand-responsive bus may be cheaper."),
        ):
            _check(http.post(f"{API}/comments", headers=cast.auth(name), json={
                "target_type": "debate", "target_id": debate["id"], "body": body,
            }))  # fmt: skip
        debates.append(debate)
    return len(debates)


def _budget(
    http: httpx.Client, cast: Cast, process: dict[str, Any], today: dt.date
) -> tuple[dict[str, Any], int]:
    """Seed the participatory budget and its ballots; return it and the checked-out count."""
    title = "2026 Sejong participatory budget"
    found = _check(http.get(f"{API}/budgets", params={"process_id": process["id"]}))
    budget = next((b for b in found if b["title"] == title), None)
    if budget is None:
        budget = _check(http.post(f"{API}/budgets", headers=cast.auth(), json={
            "process_id": process["id"], "title": title, "title_ko": "2026 세종 주민참여예산",
            "description": "Pick the projects the city should fund, up to the total. (demo data)",
            "total_krw": 800_000_000, "max_projects": 3, "rule": "greedy",
            "opens_at": _at(today, -3), "closes_at": _at(today, 14),
        }))  # fmt: skip
        for name, name_ko, cost, area in BUDGET_PROJECTS:
            _check(http.post(f"{API}/budgets/{budget['id']}/projects", headers=cast.auth(), json={
                "title": name, "title_ko": name_ko, "cost_krw": cost, "area_code": area,
            }))  # fmt: skip
        budget = _check(http.get(f"{API}/budgets/{budget['id']}"))
    ids = [p["id"] for p in sorted(budget["projects"], key=lambda p: p["id"])]
    final = 0
    url = f"{API}/budgets/{budget['id']}/ballot"
    for n, picks in enumerate(BALLOTS):
        name, draft = RESIDENTS[n][0], n == len(BALLOTS) - 1
        mine = _check(http.get(url, headers=cast.auth(name)))
        if not mine["checked_out"] and not (draft and mine["project_ids"]):
            chosen = {"project_ids": [ids[i] for i in picks]}
            mine = _check(http.put(url, headers=cast.auth(name), json=chosen))
            if not draft:
                mine = _check(http.post(f"{url}/checkout", headers=cast.auth(name)))
        final += bool(mine["checked_out"])
    return budget, final


def _survey(http: httpx.Client, cast: Cast, process: dict[str, Any], today: dt.date) -> None:
    title = "How do you get around Sejong?"
    found = _check(http.get(f"{API}/surveys", params={"process_id": process["id"]}))
    survey = next((s for s in found if s["title"] == title), None)
    if survey is None:
        options = ["BRT or city bus / BRT·시내버스", "Car / 자가용", "Eoulling bike / 어울링",
                   "On foot / 도보"]  # fmt: skip
        survey = _check(http.post(f"{API}/surveys", headers=cast.auth(), json={
            "process_id": process["id"], "title": title,
            "title_ko": "세종에서 어떻게 이동하시나요?",
            "opens_at": _at(today, -3), "closes_at": _at(today, 11),
            "questions": [
                {"kind": "single", "prompt": "How do you usually get to work or school?",
                 "prompt_ko": "출퇴근·통학은 주로 어떻게 하시나요?", "required": True,
                 "options": [{"label": o} for o in options]},
                {"kind": "scale", "prompt": "How satisfied are you with public transport (1-5)?",
                 "prompt_ko": "대중교통에 얼마나 만족하시나요? (1-5)"},
                {"kind": "text", "prompt": "What would make you leave the car at home?",
                 "prompt_ko": "무엇이 바뀌면 자가용 대신 다른 수단을 쓰시겠어요?"},
            ],
        }))  # fmt: skip
    choice, scale, _ = survey["questions"]
    for n, (name, _) in enumerate(RESIDENTS[:6]):
        answers = [
            {"question_id": choice["id"], "option_ids": [choice["options"][n % 4]["id"]]},
            {"question_id": scale["id"], "value": 2 + n % 3},
        ]
        _check(http.post(f"{API}/surveys/{survey['id']}/responses", headers=cast.auth(name),
                         json={"answers": answers}), 409)  # fmt: skip


def _opinions(http: httpx.Client, cast: Cast) -> int:
    """File an idea and two complaints; the operator answers one and assigns another."""
    items = (
        (CITIZEN, "complaint", "safety", "Broken streetlights on the Hansol-dong riverside path",
         "Three lamps in a row are out on the Geumgang riverside path behind Hansol-dong. "
         "한솔동 금강변 산책로 가로등 세 개가 꺼져 있습니다.", "2901061", "closed"),
        (CITIZEN, "idea", "parks", "Drinking fountains in Sejong Lake Park",
         "Runners and families would use a few drinking fountains along the lake. "
         "세종호수공원에 음수대를 설치해 주세요.", None, "assigned"),
        ("hana.jung", "complaint", "parking", "Cars parked in the BRT stop at Jongchon-dong",
         "Every evening cars stop in the BRT bay; buses stop in the lane. "
         "종촌동 BRT 정류장에 불법 주차가 많습니다.", "2901056", "open"),
    )  # fmt: skip
    for author, kind, category, title, body, area, status in items:
        mine = _check(http.get(f"{API}/opinions/mine", headers=cast.auth(author)))
        if any(o["title"] == title for o in mine):
            continue
        opinion = _check(http.post(f"{API}/opinions", headers=cast.auth(author), json={
            "kind": kind, "category": category, "title": title, "description": body,
            "area_code": area, "public": True,
        }))  # fmt: skip
        if status != "open":
            change: dict[str, Any] = {"status": status}
            if status == "closed":
                change["answer"] = (
                    "Thank you: the Road Management Division replaced the three lamps. "
                    "도로과에서 가로등 세 개를 교체했습니다."
                )
            _check(http.post(f"{API}/opinions/{opinion['id']}/status", headers=cast.auth(),
                             json=change))  # fmt: skip
    return len(items)


def _entries(http: httpx.Client, cast: Cast, url: str, today: dt.date) -> None:
    """Add the shuttle trial's milestones and its first report."""
    for kind, title, days, status in (
        ("milestone", "Safety certification of the shuttles", -60, "done"),
        ("report", "First three months: rides and incidents", -5, "published"),
        ("milestone", "Trips in mixed traffic off the BRT lane", 45, "planned"),
    ):
        when = (today + dt.timedelta(days=days)).isoformat()
        entry = {"kind": kind, "title": title, "status": status, "date": when}
        _check(http.post(url, headers=cast.auth(), json=entry))


def _sandbox(http: httpx.Client, cast: Cast, today: dt.date) -> list[dict[str, Any]]:
    url = f"{API}/sandbox/projects"
    known = {p["title"]: p for p in _check(http.get(url))}
    for title, title_ko, fld, track, who, place, scale, capacity, stage in SANDBOX:
        project = known.get(title)
        start = 60 if stage == "planned" else -90 if stage == "demonstrating" else -500
        if project is None:
            project = _check(http.post(url, headers=cast.auth(), json={
                "title": title, "title_ko": title_ko, "field": fld, "track": track,
                "operator_name": who, "place": place, "scale": scale, "capacity": capacity,
                "summary": f"{title_ko}: a trial under Sejong's regulatory sandbox (demo data).",
                "period_start": (today + dt.timedelta(days=start)).isoformat(),
                "period_end": (today + dt.timedelta(days=start + 365)).isoformat(),
            }))  # fmt: skip
            if stage == "demonstrating":
                _entries(http, cast, f"{url}/{project['id']}/entries", today)
        path = STAGES[: STAGES.index(stage) + 1]
        current = project["stage"]
        for step in path[path.index(current) + 1 :] if current in path else ():
            project = _check(http.post(f"{url}/{project['id']}/stage", headers=cast.auth(),
                                       json={"stage": step}))  # fmt: skip
        if stage == "demonstrating":
            for name, _ in RESIDENTS[:3]:
                _check(http.post(f"{url}/{project['id']}/signup", headers=cast.auth(name)), 409)
    return list(_check(http.get(url)))


def seed_scene(http: httpx.Client, cast: Cast, today: dt.date) -> str:
    """Seed the whole scene through ``http`` (idempotent); say what there is."""
    process = _process(http, cast, today)
    proposals = _proposals(http, cast, process)
    voting = [p for p in proposals if p["status"] == "voting"]
    debates = _talk(http, cast, process, (voting or proposals)[0]["id"])
    budget, ballots = _budget(http, cast, process, today)
    _survey(http, cast, process, today)
    opinions = _opinions(http, cast)
    sandbox = _sandbox(http, cast, today)
    return (
        f"'{process['title']}' with {len(proposals)} proposals ({len(voting)} in the vote), "
        f"{debates} debate(s), a budget of {budget['total_krw']:,} KRW with "
        f"{len(budget['projects'])} projects ({ballots} ballots cast), a survey, "
        f"{opinions} opinions, {len(sandbox)} sandbox projects"
    )


def set_up_scene(base_url: str, cast: Cast, today: dt.date) -> str:
    """Seed the scene on a running portal; say what there is, or why it could not."""
    try:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            return seed_scene(http, cast, today)
    except Exception as exc:  # the demo goes on without the scene, whatever went wrong
        logger.warning("the demo could not seed the participation scene: %s", exc)
        return f"not seeded ({exc.__class__.__name__}: see the log)"
