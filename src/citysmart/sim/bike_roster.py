"""The demo's rebalancing crew: 4 trucks and 10 staff, set up as an operator would, over HTTP.

The simulator never touches a service's tables: it adds the trucks, the staff and today's
shifts through the bikes API with an operator's token, then asks for the first plan.
Trucks work 06:00-22:00 in two shifts of eight drivers; two dispatchers cover the day.
The depot is an assumption of the demo (near City Hall), not Eoulling's real yard.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from zoneinfo import ZoneInfo

import httpx

logger = logging.getLogger(__name__)
SEOUL = ZoneInfo("Asia/Seoul")
DEPOT = {"depot_name": "어울링 정비소 (demo depot)", "depot_lon": 127.2905, "depot_lat": 36.4815}
TRUCKS = 4
TRUCK_CAPACITY = 20
SHIFT_START, SHIFT_END = 6, 22  # o'clock, Asia/Seoul


def plan_horizon(now: dt.datetime) -> int:
    """Hours to plan: the next four, or after hours through four hours of the next shift.

    Out of shift hours the first plan is made the evening before for the morning, as
    operators do; a plan for hours no truck works would be empty.
    """
    local = now.astimezone(SEOUL)
    if SHIFT_START <= local.hour < SHIFT_END:
        return 4
    start = dt.datetime.combine(local.date(), dt.time(SHIFT_START), SEOUL)
    if local.hour >= SHIFT_END:
        start += dt.timedelta(days=1)
    return min(math.ceil((start - local) / dt.timedelta(hours=1)) + 4, 24)


def set_up_crew(base_url: str, token: str, today: dt.date, plan: bool = True) -> str:
    """Add trucks, staff and today's shifts (idempotent), then make a plan; say what happened."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as http:
        known = {t["id"] for t in http.get("/api/v1/bikes/trucks").json().get("trucks", [])}
        for n in range(1, TRUCKS + 1):
            if f"T{n}" not in known:
                http.post("/api/v1/bikes/trucks", json={
                    "id": f"T{n}", "name": f"{n}호차 (truck {n})", "capacity": TRUCK_CAPACITY,
                    **DEPOT, "shift_start": f"{SHIFT_START:02d}:00",
                    "shift_end": f"{SHIFT_END:02d}:00",
                }).raise_for_status()  # fmt: skip
        staff = {s["id"] for s in http.get("/api/v1/bikes/staff").json().get("staff", [])}
        crew = [(f"D{n}", f"Driver {n}", "driver") for n in range(1, 9)]
        crew += [("P1", "Dispatcher 1", "dispatcher"), ("P2", "Dispatcher 2", "dispatcher")]
        for staff_id, name, role in crew:
            if staff_id in staff:
                continue
            http.post("/api/v1/bikes/staff", json={"id": staff_id, "name": name, "role": role})
            early = staff_id in {"D1", "D2", "D3", "D4", "P1"}
            start = dt.datetime.combine(today, dt.time(6 if early else 14), SEOUL)
            truck = f"T{int(staff_id[1:]) - (0 if early else 4)}" if role == "driver" else None
            http.post(f"/api/v1/bikes/staff/{staff_id}/shifts", json={
                "start": start.isoformat(),
                "end": (start + dt.timedelta(hours=8)).isoformat(),
                "truck_id": truck,
            })  # fmt: skip
        if not plan:
            return "crew ready"
        horizon = plan_horizon(dt.datetime.now(SEOUL))
        made = http.post("/api/v1/bikes/plans", json={"horizon_hours": horizon, "time_limit_s": 10})
        if made.status_code != 201:
            return f"no plan yet: {made.json().get('detail', made.text)}"
        body = made.json()
        return (
            f"plan {body['id']}: {body['bikes_planned']} bikes to move of {body['bikes_wanted']} "
            f"wanted, expected lost trips {body['lost_expected_before']} -> "
            f"{body['lost_expected_after']} over the next {horizon} h"
        )
