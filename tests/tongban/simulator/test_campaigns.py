"""The 元旦 and 寒假 campaigns of a small university: about 95 % of each roster registers, most in
a surge before the deadline, some late, some change their plans, monitors remind the missing
and reminded students register; everything replays through the domain and a seed repeats."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from tests.tongban.simulator.conftest import streams as stored_streams
from tongban.simulator.calendar import CAMPUS_TZ
from tongban.simulator.campaigns import PROCESS_KEY, CampaignSpec, Rosters, campaign_calendar
from tongban.simulator.run import CAMPAIGN_LANE, simulate_lanes
from workflow_core.catalog.forms import validate_form
from workflow_core.catalog.loader import Catalog
from workflow_core.directory.memory_directory import MemoryDirectory
from workflow_core.domain.evolve import fold, fold_campaign
from workflow_core.store.schema import events

FIRST_DAY = date(2025, 12, 20)
DAYS = 35  # through 23 January 2026: 元旦 and the winter vacation's campaign, both closed


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=CAMPUS_TZ)


def test_the_campaign_calendar_follows_the_statutory_holidays_and_the_terms() -> None:
    specs = campaign_calendar(date(2025, 3, 1), date(2026, 2, 28))
    assert [(s.holiday, s.first_day_off, s.last_day_off) for s in specs] == [
        ("清明", date(2025, 4, 4), date(2025, 4, 6)),
        ("五一", date(2025, 5, 1), date(2025, 5, 5)),
        ("端午", date(2025, 5, 31), date(2025, 6, 2)),
        ("暑假", date(2025, 7, 11), date(2025, 8, 31)),
        ("中秋/国庆", date(2025, 10, 1), date(2025, 10, 8)),
        ("元旦", date(2026, 1, 1), date(2026, 1, 3)),
        ("寒假", date(2026, 1, 18), date(2026, 2, 23)),
    ]
    national = specs[4]
    assert national.slug == "2025-national-day" and national.title == "2025年中秋/国庆假期去向登记"
    assert national.opens_at == local("2025-09-24T09:00")
    assert national.deadline == local("2025-09-30T12:00")
    winter = specs[6]
    assert (winter.opens_at, winter.deadline) == (
        local("2026-01-04T09:00"),
        local("2026-01-16T18:00"),
    )
    # 2026: 中秋 on 25 September, a few days before 国庆, is one trip home and one campaign.
    autumn = [s for s in campaign_calendar(date(2026, 9, 1), date(2026, 9, 30))]
    assert [(s.holiday, s.first_day_off) for s in autumn] == [("中秋/国庆", date(2026, 9, 25))]
    # Beyond the statutory calendar's data only the vacations, which follow the term dates.
    later = campaign_calendar(date(2027, 3, 1), date(2028, 2, 28))
    assert [(s.holiday, s.first_day_off) for s in later] == [
        ("暑假", date(2027, 7, 11)),
        ("寒假", date(2028, 1, 18)),
    ]


def run(
    engine: Engine, catalog: Catalog, directory: MemoryDirectory, business: Engine, seed: int
) -> None:
    simulate_lanes(
        engine,
        catalog,
        directory,
        business,
        names=[CAMPAIGN_LANE],
        size="small",
        first_day=FIRST_DAY,
        days=DAYS,
        seed=seed,
        batch_events=900,
    )


def test_campaigns_register_most_students_with_a_surge_reminders_and_changes(
    fresh_store: Any, catalog: Catalog, directory: MemoryDirectory, business_engine: Engine
) -> None:
    engine = fresh_store("campaigns.db")
    run(engine, catalog, directory, business_engine, seed=5)
    streams = stored_streams(engine)
    campaigns = {
        sid: fold_campaign(sid, (s.event for s in stored))
        for sid, stored in streams.items()
        if stored[0].event.TYPE == "campaign_opened"
    }
    assert sorted(c.holiday for c in campaigns.values()) == ["元旦", "寒假"]
    rosters = Rosters.load(directory, business_engine)
    definition = catalog.get(PROCESS_KEY)
    specs = {f"sim5-{s.slug}": s for s in campaign_calendar(FIRST_DAY, date(2026, 1, 23))}

    for campaign_id, campaign in campaigns.items():
        spec: CampaignSpec = specs[campaign_id]
        assert campaign.deadline == spec.deadline
        roster = {
            s
            for members in rosters.roster(spec.deadline.astimezone(CAMPUS_TZ).date()).values()
            for s in members
        }
        assert len(roster) > 300
        registrations = [
            stored for sid, stored in streams.items() if sid.startswith(f"{campaign_id}-")
        ]
        first: dict[str, datetime] = {}
        changes = 0
        for stored in registrations:
            state = fold(stored[0].stream_id, (s.event for s in stored))  # replays
            submitted = stored[0].event
            assert [s.event.TYPE for s in stored] == ["submitted", "completed"]
            assert state.status.value == "completed" and submitted.campaign_id == campaign_id
            assert submitted.applicant_id in roster  # never someone 休学 or gone
            assert submitted.occurred_at >= spec.opens_at
            # The lane hands `decide` its forms unvalidated: they must already be the normal
            # form, so that validating once gives what validating twice did.
            assert validate_form(definition, submitted.form) == submitted.form
            if submitted.supersedes is not None:
                changes += 1
            at = submitted.occurred_at
            first[submitted.applicant_id] = min(at, first.get(submitted.applicant_id, at))
        rate = len(first) / len(roster)
        assert 0.92 <= rate <= 0.99, (campaign.holiday, rate)
        assert changes >= 0.03 * len(first), changes
        on_time = [t for t in first.values() if t <= spec.deadline]
        late = len(first) - len(on_time)
        assert 0 < late <= 0.12 * len(first), late
        # The surge: the last fifth of the window holds a large share, and the last day runs
        # far above the quiet middle third of the window, hour for hour.
        window = spec.deadline - spec.opens_at
        last_fifth = sum(1 for t in on_time if t >= spec.deadline - window / 5)
        assert last_fifth >= 0.35 * len(on_time), (last_fifth, len(on_time))
        last_day = sum(1 for t in on_time if t >= spec.deadline - timedelta(days=1))
        start, end = spec.opens_at + window / 3, spec.opens_at + 2 * window / 3
        middle = sum(1 for t in on_time if start <= t < end)
        middle_per_hour = middle / (window.total_seconds() / 3 / 3600)
        assert last_day / 24 >= 3 * middle_per_hour, (last_day, middle)
        # Reminders reached missing students only, and some of them registered afterwards.
        reminders = [s.event for s in streams[campaign_id] if s.event.TYPE == "campaign_reminded"]
        assert reminders and campaign.reminders == len(reminders)
        answered = 0
        for reminder in reminders:
            for student in reminder.student_ids:
                assert student in roster
                registered = first.get(student)
                assert registered is None or registered > reminder.occurred_at
                if registered is not None and registered - reminder.occurred_at < timedelta(
                    hours=6
                ):
                    answered += 1
        assert answered > 0


def test_a_seed_repeats_its_campaigns(
    fresh_store: Any, catalog: Catalog, directory: MemoryDirectory, business_engine: Engine
) -> None:
    first, again = fresh_store("a.db"), fresh_store("b.db")
    run(first, catalog, directory, business_engine, seed=9)
    run(again, catalog, directory, business_engine, seed=9)

    def rows(engine: Engine) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            found = conn.execute(select(events).order_by(events.c.event_id)).mappings()
            return [{k: v for k, v in r.items() if k != "recorded_at"} for r in found]

    assert rows(first) == rows(again) and len(rows(first)) > 1_000
