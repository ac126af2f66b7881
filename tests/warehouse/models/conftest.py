"""A tiny hand-made warehouse: a business directory, the real catalog, the academic calendar and
an event log written event by event through the real event classes and serializer.

Every time below is written in campus time (China Standard Time, UTC+8) and stored, like every
time in the warehouse, as naive UTC (`cst(...)`). The scenario (one event log for all the model
tests; the figures each test expects are worked out by hand in the test modules):

Enrollment certificate I1 (student s1), open at AS_OF, its tasks:
  t1 counsellor_review  created Fri 09-26 16:00, viewed Mon 09-29 09:00, approved Mon 10-13 10:00
                        (across the National Day + Mid-Autumn holiday and the 调休 Sat 10-11)
  t2 college_review     created 10-13 10:00, approved 10-13 15:00 without a view (implicit)
  t3 student_affairs    created 10-13 15:00, viewed 20:00:00, approved 20:00:20 (秒批, after hours)
  t4 registry_check     created 10-13 20:00:20, viewed Tue 10-14 09:00, returned 10:00
     resubmitted Wed 10-15 09:00
  t5 registry_check     created 10-15 09:00, viewed 09:30, approved 09:31
  t6 academic_affairs_seal created 10-15 09:31, open
Museum bookings (one step, museum_confirm, SLA 4 h):
  I2 approved  (Thu 10-09 10:00 → viewed 11:00 → approved 11:30)
  I3 rejected  (Fri 10-10 16:00 → viewed 17:00 → rejected Sat 10-11 09:00, a make-up workday)
  I4 withdrawn (Mon 10-13 09:00 → withdrawn 09:10, its task cancelled)
  I5 approved  (Tue 10-14 11:00 → viewed 11:05 → approved Wed 10-15 15:00)
  I6 open      (Fri 10-17 09:30); t_mu1 adds t_mu2 as a delegate (委托) at 10:00
Campus bus I7 (security's long hours), open since Thu 10-16 15:00; t_se1 hands it over to t_se2
  (转办) at Fri 08:30.
Personal-information change, a parallel step 2 (会签):
  I8 academic_affairs_verify (viewed 09:30:00, approved 09:30:25) and hr_verify (viewed 14:00,
     approved Tue 10-14 09:00) both created Mon 10-13 09:00; then data_center_update created
     10-14 09:00, viewed 09:10, approved 09:40: completed approved.
  I9 academic_affairs_verify and graduate_school_verify created Tue 10-14 10:00; graduate school
     rejects at 11:00 (implicit view), the sibling is cancelled: completed rejected.
Holiday whereabouts campaign C1 (国庆): opens Mon 09-22 09:00, deadline Fri 09-26 18:00, for
undergraduates; registrations, a change, a reminder round (催办) and a late registration;
s5 is on leave (休学), s10 has left (已离校), s6 changes class on 09-25.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.pool import StaticPool

from pipelines.extract import catalog_frames, read_business_tables
from warehouse.academic_calendar import calendar_frames
from warehouse.modeling import run_models
from warehouse.raw import RAW_EVENTS_SCHEMA, append_events, ensure_raw_events, replace_table
from workflow_core.catalog.loader import default_catalog
from workflow_core.directory import schema as biz
from workflow_core.domain.events import (
    ActorRole,
    Approved,
    CampaignOpened,
    CampaignReminded,
    Completed,
    Event,
    Reassigned,
    Rejected,
    Resubmitted,
    Returned,
    Submitted,
    TaskCancelled,
    TaskCreated,
    TaskViewed,
    Withdrawn,
)
from workflow_core.store.serialization import to_row


def cst(*parts: int) -> datetime:
    """A campus (UTC+8) wall-clock time as the naive UTC timestamp the warehouse keeps."""
    return datetime(*parts) - timedelta(hours=8)  # type: ignore[arg-type, misc]


# The build's "now": Friday 2025-10-17 12:00 CST, after every event of the log.
AS_OF = cst(2025, 10, 17, 12, 0)

CALENDAR_DEPARTMENTS = (
    "academic_affairs",
    "graduate_school",
    "hr",
    "it_center",
    "museum",
    "security",
    "student_affairs",
)

EVENT_SCHEMA = RAW_EVENTS_SCHEMA


@dataclass
class EventLog:
    """Events in the order they are appended; ids and stream versions are given in that order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    processes: dict[str, tuple[str, int | None, str]] = field(default_factory=dict)

    def add(self, stream_id: str, event: Event) -> None:
        process_key, process_version, stream_type = self.processes[stream_id]
        self.versions[stream_id] = self.versions.get(stream_id, 0) + 1
        row = to_row(
            event,
            stream_id=stream_id,
            stream_version=self.versions[stream_id],
            stream_type=stream_type,
            process_key=process_key,
            process_version=process_version,
            recorded_at=event.occurred_at,
        )
        row["event_id"] = len(self.rows) + 1
        row["payload"] = json.dumps(row["payload"], ensure_ascii=False)
        self.rows.append(row)

    def frame(self, rows: Iterable[dict[str, Any]] | None = None) -> pl.DataFrame:
        chosen = self.rows if rows is None else list(rows)
        return pl.DataFrame(
            [{name: row[name] for name in EVENT_SCHEMA} for row in chosen],
            schema=EVENT_SCHEMA,
            orient="row",
        )

    # --- instance helpers ---------------------------------------------------------------

    def submit(
        self,
        instance: str,
        process_key: str,
        at: datetime,
        applicant: str,
        form: dict[str, Any] | None = None,
        campaign_id: str | None = None,
        supersedes: str | None = None,
    ) -> None:
        self.processes[instance] = (process_key, 1, "instance")
        self.add(
            instance,
            Submitted(
                occurred_at=at,
                actor_id=applicant,
                actor_role=ActorRole.APPLICANT,
                process_key=process_key,
                process_version=1,
                applicant_id=applicant,
                form=form or {},
                campaign_id=campaign_id,
                supersedes=supersedes,
            ),
        )

    def create(
        self,
        task: str,
        node: str,
        department: str,
        at: datetime,
        assignees: tuple[str, ...],
        sla_hours: float,
        step: int,
    ) -> None:
        instance = task.rsplit("-t", 1)[0]
        self.add(
            instance,
            TaskCreated(
                occurred_at=at,
                actor_id="system",
                actor_role=ActorRole.SYSTEM,
                task=task,
                node=node,
                department=department,
                assignees=assignees,
                sla_hours=sla_hours,
                step=step,
            ),
        )

    def _task(self, task: str) -> tuple[str, str, str]:
        instance = task.rsplit("-t", 1)[0]
        for row in reversed(self.rows):
            if row["task_id"] == task and row["event_type"] == "task_created":
                return instance, row["node_key"], row["department_id"]
        raise KeyError(task)

    def view(self, task: str, at: datetime, by: str, *, implicit: bool = False) -> None:
        instance, node, department = self._task(task)
        self.add(
            instance,
            TaskViewed(
                occurred_at=at,
                actor_id=by,
                actor_role=ActorRole.ASSIGNEE,
                task=task,
                node=node,
                department=department,
                implicit=implicit,
            ),
        )

    def decide(self, task: str, at: datetime, by: str, decision: str) -> None:
        instance, node, department = self._task(task)
        common: dict[str, Any] = {
            "occurred_at": at,
            "actor_id": by,
            "actor_role": ActorRole.ASSIGNEE,
            "task": task,
            "node": node,
            "department": department,
        }
        if decision == "approved":
            self.add(instance, Approved(**common))
        elif decision == "rejected":
            self.add(instance, Rejected(**common, reason="材料不全"))
        else:
            self.add(instance, Returned(**common, reason="请补充材料"))

    def reassign(
        self,
        task: str,
        at: datetime,
        by: str,
        to: str,
        assignees: tuple[str, ...],
        *,
        delegate: bool,
    ) -> None:
        instance, node, department = self._task(task)
        self.add(
            instance,
            Reassigned(
                occurred_at=at,
                actor_id=by,
                actor_role=ActorRole.ASSIGNEE,
                task=task,
                node=node,
                department=department,
                to=to,
                delegate=delegate,
                assignees=assignees,
            ),
        )

    def cancel(self, task: str, at: datetime, by: str, reason: str) -> None:
        instance, node, department = self._task(task)
        self.add(
            instance,
            TaskCancelled(
                occurred_at=at,
                actor_id=by,
                actor_role=ActorRole.SYSTEM,
                task=task,
                node=node,
                department=department,
                reason=reason,
            ),
        )

    def complete(self, instance: str, at: datetime, by: str, outcome: str) -> None:
        self.add(
            instance,
            Completed(occurred_at=at, actor_id=by, actor_role=ActorRole.SYSTEM, outcome=outcome),
        )

    def register(
        self,
        registration: str,
        campaign: str,
        student: str,
        at: datetime,
        form: dict[str, Any],
        supersedes: str | None = None,
    ) -> None:
        """A whereabouts registration: submitted and, with no approval steps, completed."""
        self.submit(
            registration,
            "holiday_whereabouts",
            at,
            student,
            form=form,
            campaign_id=campaign,
            supersedes=supersedes,
        )
        self.complete(registration, at, student, "approved")


def stay() -> dict[str, Any]:
    return {
        "stay_or_leave": "stay",
        "emergency_contact_name": "家长",
        "emergency_contact_phone": "1",
    }


def leave(province: str, city: str, leave_on: str, return_on: str) -> dict[str, Any]:
    return {
        "stay_or_leave": "leave",
        "destination_province": province,
        "destination_city": city,
        "destination_address": "某路 1 号",
        "leave_date": leave_on,
        "return_date": return_on,
        "transport": "train",
        "emergency_contact_name": "家长",
        "emergency_contact_phone": "1",
    }


def build_log() -> EventLog:
    log = EventLog()
    # --- the campaign C1 and its registrations (September) -----------------------------------
    log.processes["C1"] = ("holiday_whereabouts", None, "campaign")
    log.add(
        "C1",
        CampaignOpened(
            occurred_at=cst(2025, 9, 22, 9, 0),
            actor_id="t_sa1",
            actor_role=ActorRole.ORGANISER,
            campaign_id="C1",
            process_key="holiday_whereabouts",
            title="2025 国庆去向登记",
            holiday="national_day",
            # Aware, as the service writes them: the payload holds "…+00:00".
            opens_at=cst(2025, 9, 22, 9, 0).replace(tzinfo=UTC),
            deadline=cst(2025, 9, 26, 18, 0).replace(tzinfo=UTC),
            audience=("undergraduate",),
        ),
    )
    log.register("R8", "C1", "s8", cst(2025, 9, 23, 10, 5), stay())
    log.register("R1", "C1", "s1", cst(2025, 9, 23, 10, 15), stay())
    log.register(
        "R2a",
        "C1",
        "s2",
        cst(2025, 9, 23, 10, 40),
        leave("浙江", "杭州", "2025-10-01", "2025-10-05"),
    )
    log.register(
        "R6", "C1", "s6", cst(2025, 9, 24, 11, 0), leave("广东", "广州", "2025-09-30", "2025-10-08")
    )
    log.register(
        "R2b",
        "C1",
        "s2",
        cst(2025, 9, 25, 20, 0),
        leave("江苏", "南京", "2025-10-01", "2025-10-07"),
        supersedes="R2a",
    )
    log.add(
        "C1",
        CampaignReminded(
            occurred_at=cst(2025, 9, 26, 9, 0),
            actor_id="t_c1",
            actor_role=ActorRole.ORGANISER,
            campaign_id="C1",
            student_ids=("s3", "s4"),
            message="请尽快登记",
        ),
    )
    log.register(
        "R3",
        "C1",
        "s3",
        cst(2025, 9, 26, 10, 30),
        leave("浙江", "宁波", "2025-10-01", "2025-10-06"),
    )
    log.register("R4", "C1", "s4", cst(2025, 9, 27, 8, 0), stay())  # after the deadline: late

    # --- I1, enrollment certificate --------------------------------------------------------
    log.submit("I1", "enrollment_certificate", cst(2025, 9, 26, 16, 0), "s1", {"purpose": "签证"})
    log.create(
        "I1-t1", "counsellor_review", "cs_college", cst(2025, 9, 26, 16, 0), ("t_c1",), 8.0, 0
    )
    log.view("I1-t1", cst(2025, 9, 29, 9, 0), "t_c1")
    # --- I2, I3: museum bookings before the return of I1's first task ------------------------
    log.submit("I2", "museum_booking", cst(2025, 10, 9, 10, 0), "s2")
    log.create("I2-t1", "museum_confirm", "museum", cst(2025, 10, 9, 10, 0), ("t_mu1",), 4.0, 0)
    log.view("I2-t1", cst(2025, 10, 9, 11, 0), "t_mu1")
    log.decide("I2-t1", cst(2025, 10, 9, 11, 30), "t_mu1", "approved")
    log.complete("I2", cst(2025, 10, 9, 11, 30), "t_mu1", "approved")
    log.submit("I3", "museum_booking", cst(2025, 10, 10, 16, 0), "s3")
    log.create("I3-t1", "museum_confirm", "museum", cst(2025, 10, 10, 16, 0), ("t_mu1",), 4.0, 0)
    log.view("I3-t1", cst(2025, 10, 10, 17, 0), "t_mu1")
    log.decide("I3-t1", cst(2025, 10, 11, 9, 0), "t_mu1", "rejected")
    log.complete("I3", cst(2025, 10, 11, 9, 0), "t_mu1", "rejected")
    # --- Monday 10-13 -------------------------------------------------------------------------
    log.submit("I4", "museum_booking", cst(2025, 10, 13, 9, 0), "s4")
    log.create("I4-t1", "museum_confirm", "museum", cst(2025, 10, 13, 9, 0), ("t_mu1",), 4.0, 0)
    log.cancel("I4-t1", cst(2025, 10, 13, 9, 10), "s4", "withdrawn")
    log.add(
        "I4",
        Withdrawn(
            occurred_at=cst(2025, 10, 13, 9, 10),
            actor_id="s4",
            actor_role=ActorRole.APPLICANT,
            reason="不去了",
        ),
    )
    log.submit("I8", "personal_info_change", cst(2025, 10, 13, 9, 0), "s6")
    aa = ("t_aa1", "t_aa2")
    log.create(
        "I8-t1", "academic_affairs_verify", "academic_affairs", cst(2025, 10, 13, 9, 0), aa, 16.0, 2
    )
    log.create("I8-t2", "hr_verify", "hr", cst(2025, 10, 13, 9, 0), ("t_hr1",), 16.0, 2)
    log.view("I8-t1", cst(2025, 10, 13, 9, 30, 0), "t_aa2")
    log.decide("I8-t1", cst(2025, 10, 13, 9, 30, 25), "t_aa2", "approved")
    log.decide("I1-t1", cst(2025, 10, 13, 10, 0), "t_c1", "approved")
    log.create(
        "I1-t2", "college_review", "cs_college", cst(2025, 10, 13, 10, 0), ("t_co1",), 16.0, 1
    )
    log.view("I8-t2", cst(2025, 10, 13, 14, 0), "t_hr1")
    log.view("I1-t2", cst(2025, 10, 13, 15, 0), "t_co1", implicit=True)
    log.decide("I1-t2", cst(2025, 10, 13, 15, 0), "t_co1", "approved")
    log.create(
        "I1-t3",
        "student_affairs_review",
        "student_affairs",
        cst(2025, 10, 13, 15, 0),
        ("t_sa1",),
        16.0,
        2,
    )
    log.view("I1-t3", cst(2025, 10, 13, 20, 0, 0), "t_sa1")
    log.decide("I1-t3", cst(2025, 10, 13, 20, 0, 20), "t_sa1", "approved")
    log.create(
        "I1-t4", "registry_check", "academic_affairs", cst(2025, 10, 13, 20, 0, 20), aa, 16.0, 3
    )
    # --- Tuesday 10-14 ------------------------------------------------------------------------
    log.view("I1-t4", cst(2025, 10, 14, 9, 0), "t_aa1")
    log.decide("I8-t2", cst(2025, 10, 14, 9, 0), "t_hr1", "approved")
    log.create(
        "I8-t3", "data_center_update", "it_center", cst(2025, 10, 14, 9, 0), ("t_it1",), 8.0, 3
    )
    log.view("I8-t3", cst(2025, 10, 14, 9, 10), "t_it1")
    log.decide("I8-t3", cst(2025, 10, 14, 9, 40), "t_it1", "approved")
    log.complete("I8", cst(2025, 10, 14, 9, 40), "t_it1", "approved")
    log.decide("I1-t4", cst(2025, 10, 14, 10, 0), "t_aa1", "returned")
    log.submit("I9", "personal_info_change", cst(2025, 10, 14, 10, 0), "s7")
    log.create(
        "I9-t1",
        "academic_affairs_verify",
        "academic_affairs",
        cst(2025, 10, 14, 10, 0),
        aa,
        16.0,
        2,
    )
    log.create(
        "I9-t2",
        "graduate_school_verify",
        "graduate_school",
        cst(2025, 10, 14, 10, 0),
        ("t_gs1",),
        16.0,
        2,
    )
    log.submit("I5", "museum_booking", cst(2025, 10, 14, 11, 0), "s5")
    log.create("I5-t1", "museum_confirm", "museum", cst(2025, 10, 14, 11, 0), ("t_mu1",), 4.0, 0)
    log.view("I9-t2", cst(2025, 10, 14, 11, 0), "t_gs1", implicit=True)
    log.decide("I9-t2", cst(2025, 10, 14, 11, 0), "t_gs1", "rejected")
    log.cancel("I9-t1", cst(2025, 10, 14, 11, 0), "t_gs1", "rejected")
    log.complete("I9", cst(2025, 10, 14, 11, 0), "t_gs1", "rejected")
    log.view("I5-t1", cst(2025, 10, 14, 11, 5), "t_mu1")
    # --- Wednesday 10-15 ----------------------------------------------------------------------
    log.add(
        "I1",
        Resubmitted(
            occurred_at=cst(2025, 10, 15, 9, 0),
            actor_id="s1",
            actor_role=ActorRole.APPLICANT,
            form={"purpose": "签证", "copies": 2},
        ),
    )
    log.create("I1-t5", "registry_check", "academic_affairs", cst(2025, 10, 15, 9, 0), aa, 16.0, 3)
    log.view("I1-t5", cst(2025, 10, 15, 9, 30), "t_aa1")
    log.decide("I1-t5", cst(2025, 10, 15, 9, 31), "t_aa1", "approved")
    log.create(
        "I1-t6", "academic_affairs_seal", "academic_affairs", cst(2025, 10, 15, 9, 31), aa, 8.0, 4
    )
    log.decide("I5-t1", cst(2025, 10, 15, 15, 0), "t_mu1", "approved")
    log.complete("I5", cst(2025, 10, 15, 15, 0), "t_mu1", "approved")
    # --- Thursday 10-16, Friday 10-17 ----------------------------------------------------------
    log.submit("I7", "campus_bus_booking", cst(2025, 10, 16, 15, 0), "v1")
    log.create("I7-t1", "security_review", "security", cst(2025, 10, 16, 15, 0), ("t_se1",), 8.0, 0)
    log.reassign("I7-t1", cst(2025, 10, 17, 8, 30), "t_se1", "t_se2", ("t_se2",), delegate=False)
    log.submit("I6", "museum_booking", cst(2025, 10, 17, 9, 30), "s8")
    log.create("I6-t1", "museum_confirm", "museum", cst(2025, 10, 17, 9, 30), ("t_mu1",), 4.0, 0)
    log.reassign(
        "I6-t1", cst(2025, 10, 17, 10, 0), "t_mu1", "t_mu2", ("t_mu1", "t_mu2"), delegate=True
    )
    return log


# --- the business directory ---------------------------------------------------------------------

OPEN = None


def business_rows() -> dict[str, list[dict[str, Any]]]:
    d = date
    students = []
    people = {
        "s1": "undergraduate",
        "s2": "undergraduate",
        "s3": "undergraduate",
        "s4": "undergraduate",
        "s5": "undergraduate",
        "s6": "undergraduate",
        "s7": "undergraduate",
        "s8": "undergraduate",
        "s9": "undergraduate",
        "s10": "undergraduate",
        "g1": "graduate",
    }
    for student_id, kind in people.items():
        students.append(
            {
                "student_id": student_id,
                "name": f"学生{student_id}",
                "gender": "F",
                "kind": kind,
                "degree_level": "bachelor" if kind == "undergraduate" else "master",
                "entry_year": 2023 if kind == "undergraduate" else 2025,
                "phone": "13800000000",
                "home_province": "上海",
            }
        )
    memberships = [
        {"student_id": s, "class_id": "cs2023-1", "valid_from": d(2023, 9, 1), "valid_to": OPEN}
        for s in ("s1", "s2", "s3", "s4", "s5", "s9")
    ]
    memberships += [
        # s6 moves from class 1 to class 2 on 09-25, the day before the deadline day.
        {
            "student_id": "s6",
            "class_id": "cs2023-1",
            "valid_from": d(2023, 9, 1),
            "valid_to": d(2025, 9, 25),
        },
        {
            "student_id": "s6",
            "class_id": "cs2023-2",
            "valid_from": d(2025, 9, 25),
            "valid_to": OPEN,
        },
        {"student_id": "s7", "class_id": "cs2023-2", "valid_from": d(2023, 9, 1), "valid_to": OPEN},
        {"student_id": "s8", "class_id": "cs2023-2", "valid_from": d(2023, 9, 1), "valid_to": OPEN},
        # s10 left the university (退学) in July; the class list still holds her.
        {
            "student_id": "s10",
            "class_id": "cs2023-2",
            "valid_from": d(2023, 9, 1),
            "valid_to": OPEN,
        },
        {
            "student_id": "g1",
            "class_id": "cs2025-m1",
            "valid_from": d(2025, 9, 1),
            "valid_to": OPEN,
        },
    ]
    statuses = [
        {
            "student_id": s,
            "status": "在读",
            "valid_from": d(2023, 9, 1),
            "valid_to": OPEN,
            "reason": "入学",
        }
        for s in ("s1", "s2", "s3", "s4", "s6", "s7", "s8", "s9")
    ]
    statuses += [
        {
            "student_id": "s10",
            "status": "在读",
            "valid_from": d(2023, 9, 1),
            "valid_to": d(2025, 7, 1),
            "reason": "入学",
        },
        {
            "student_id": "s10",
            "status": "已离校",
            "valid_from": d(2025, 7, 1),
            "valid_to": OPEN,
            "reason": "退学",
        },
    ]
    statuses += [
        {
            "student_id": "s5",
            "status": "在读",
            "valid_from": d(2023, 9, 1),
            "valid_to": d(2025, 9, 1),
            "reason": "入学",
        },
        {
            "student_id": "s5",
            "status": "休学",
            "valid_from": d(2025, 9, 1),
            "valid_to": OPEN,
            "reason": "因病休学",
        },
    ]
    staff = [
        ("t_c1", "college", "cs", "辅导员"),
        ("t_co1", "college", "cs", "学院办公室"),
        ("t_sa1", "department", "student_affairs", "学工部"),
        ("t_aa1", "department", "academic_affairs", "教务处"),
        ("t_aa2", "department", "academic_affairs", "教务处"),
        ("t_mu1", "department", "museum", "博物馆"),
        ("t_mu2", "department", "museum", "博物馆"),
        ("t_se1", "department", "security", "保卫处"),
        ("t_se2", "department", "security", "保卫处"),
        ("t_hr1", "department", "hr", "人事处"),
        ("t_gs1", "department", "graduate_school", "研究生院"),
        ("t_it1", "department", "it_center", "网信中心"),
    ]
    departments = sorted({unit for _, kind, unit, _ in staff if kind == "department"})
    return {
        "campuses": [
            {"campus_id": "main", "name_zh": "本部", "name_en": "Main", "address": "一号路"}
        ],
        "departments": [
            {"department_id": dep, "name_zh": dep, "name_en": dep} for dep in departments
        ],
        "colleges": [
            {
                "college_id": "cs",
                "name_zh": "计算机学院",
                "name_en": "CS",
                "discipline": "工学",
                "campus_id": "main",
            }
        ],
        "residential_colleges": [
            {
                "residential_college_id": "rc1",
                "name_zh": "一书院",
                "name_en": "RC1",
                "campus_id": "main",
            }
        ],
        "majors": [
            {
                "major_id": "cs-b",
                "college_id": "cs",
                "name_zh": "计算机",
                "name_en": "CS",
                "degree_level": "bachelor",
                "duration_years": 4,
            },
            {
                "major_id": "cs-m",
                "college_id": "cs",
                "name_zh": "计算机硕士",
                "name_en": "CS MSc",
                "degree_level": "master",
                "duration_years": 3,
            },
        ],
        "classes": [
            {
                "class_id": "cs2023-1",
                "name_zh": "计算机2023级1班",
                "major_id": "cs-b",
                "entry_year": 2023,
                "campus_id": "main",
                "residential_college_id": "rc1",
                "opened_on": d(2023, 9, 1),
                "closed_on": None,
            },
            {
                "class_id": "cs2023-2",
                "name_zh": "计算机2023级2班",
                "major_id": "cs-b",
                "entry_year": 2023,
                "campus_id": "main",
                "residential_college_id": "rc1",
                "opened_on": d(2023, 9, 1),
                "closed_on": None,
            },
            {
                "class_id": "cs2025-m1",
                "name_zh": "计算机2025级硕士班",
                "major_id": "cs-m",
                "entry_year": 2025,
                "campus_id": "main",
                "residential_college_id": None,
                "opened_on": d(2025, 9, 1),
                "closed_on": None,
            },
        ],
        "students": students,
        "student_class_memberships": memberships,
        "student_statuses": statuses,
        "staff": [
            {
                "staff_id": sid,
                "name": sid,
                "gender": "M",
                "unit_type": kind,
                "unit_id": unit,
                "title": title,
                "phone": "1",
                "hired_on": d(2015, 9, 1),
            }
            for sid, kind, unit, title in staff
        ],
        "hall_accounts": [
            {
                "account_id": "v1",
                "name": "访客",
                "kind": "visitor",
                "phone": "1",
                "registered_on": d(2025, 10, 1),
                "former_student_id": None,
                "graduation_year": None,
            }
        ],
        "role_assignments": [
            {
                "person_id": "t_c1",
                "role": "counsellor",
                "scope_type": "class",
                "scope_id": "cs2023-1",
                "valid_from": d(2023, 9, 1),
                "valid_to": OPEN,
            },
            {
                "person_id": "t_c1",
                "role": "counsellor",
                "scope_type": "class",
                "scope_id": "cs2023-2",
                "valid_from": d(2023, 9, 1),
                "valid_to": OPEN,
            },
            {
                "person_id": "s8",
                "role": "class_monitor",
                "scope_type": "class",
                "scope_id": "cs2023-2",
                "valid_from": d(2024, 9, 1),
                "valid_to": OPEN,
            },
            *[
                {
                    "person_id": sid,
                    "role": "department_approver",
                    "scope_type": "department",
                    "scope_id": unit,
                    "valid_from": d(2020, 1, 1),
                    "valid_to": OPEN,
                }
                for sid, kind, unit, _ in staff
                if kind == "department"
            ],
        ],
    }


def business_frames() -> dict[str, pl.DataFrame]:
    """The directory through the real business schema and the pipelines' reader."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    biz.business_metadata.create_all(engine)
    rows = business_rows()
    with engine.begin() as conn:
        for table in biz.BUSINESS_TABLES:
            if rows.get(table.name):
                conn.execute(insert(table), rows[table.name])
    frames = read_business_tables(engine)
    engine.dispose()
    return frames


def source_frames() -> dict[str, pl.DataFrame]:
    return {
        **business_frames(),
        **catalog_frames(default_catalog()),
        **calendar_frames(date(2025, 9, 1), date(2025, 12, 31), CALENDAR_DEPARTMENTS),
    }


def load_sources(conn: duckdb.DuckDBPyConnection) -> None:
    for name, frame in source_frames().items():
        replace_table(conn, name, frame)
    ensure_raw_events(conn)


def warehouse(
    path: Path, log: EventLog, as_of: datetime = AS_OF, *, until: datetime | None = None
) -> duckdb.DuckDBPyConnection:
    """A working database with the sources loaded, the log appended and every model built."""
    conn = duckdb.connect(str(path))
    load_sources(conn)
    rows = [r for r in log.rows if until is None or r["occurred_at"] <= until]
    append_events(conn, log.frame(rows), 0)
    run_models(conn, as_of=as_of)
    return conn


@pytest.fixture(scope="session")
def event_log() -> EventLog:
    return build_log()


@pytest.fixture(scope="module")
def wh(
    tmp_path_factory: pytest.TempPathFactory, event_log: EventLog
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The whole fixture built once per test module at AS_OF."""
    conn = warehouse(tmp_path_factory.mktemp("wh") / "work.duckdb", event_log)
    yield conn
    conn.close()


def rows_of(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def one(
    conn: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> dict[str, Any]:
    found = rows_of(conn, sql, params)
    assert len(found) == 1, found
    return found[0]


def newest_events(wh: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Each native instance's newest event id, from the raw events."""
    return dict(
        wh.execute(
            "select stream_id, max(event_id) from raw_events where stream_type = 'instance'"
            " group by all"
        ).fetchall()
    )
