"""What a command consults besides its instance: the caller, the assignees, the 催办 scope.

Shared by the application service (one transaction per command) and the batched history writer
(`workflow_core.store.batch`), so both ask the directory the same questions and hand `decide`
the same context.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from workflow_core.catalog.loader import Catalog
from workflow_core.catalog.model import Audience, Node, ProcessDefinition
from workflow_core.directory.port import Assignment, Directory, Placement, Role
from workflow_core.domain.decide import CAMPAIGN_ORGANISERS, Actor, CampaignContext
from workflow_core.errors import BusinessRuleError, UnknownUserError

MAX_ID = 64
# Offices whose supervision (催办) covers the whole university.
UNIVERSITY_SUPERVISORS = frozenset({Role.STUDENT_AFFAIRS, Role.GRADUATE_SCHOOL, Role.LEADERSHIP})
# Offices whose supervision covers the people of their college or 书院.
UNIT_SUPERVISORS = frozenset({Role.COLLEGE_OFFICE, Role.RESIDENTIAL_COLLEGE_OFFICE})
# Which roles look after which students, by scope type.
SCOPE_OF_PLACEMENT: dict[Role, Callable[[Placement], str | None]] = {
    Role.CLASS_MONITOR: lambda p: p.class_id,
    Role.COUNSELLOR: lambda p: p.class_id,
    Role.COLLEGE_OFFICE: lambda p: p.college_id,
    Role.RESIDENTIAL_COLLEGE_OFFICE: lambda p: p.residential_college_id,
}
# Who looks after their own students in a whereabouts campaign (the organisers: everyone).
CAMPAIGN_CARERS = frozenset(SCOPE_OF_PLACEMENT)


def unstorable(text: str) -> bool:
    """Text that neither database can store: NUL characters and lone surrogates."""
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def resolve_actor(directory: Directory, user_id: str, at: datetime) -> Actor:
    """The caller as the directory knows them at `at`; UnknownUserError for strangers."""
    if not isinstance(user_id, str) or len(user_id) > MAX_ID or unstorable(user_id):
        raise UnknownUserError("unknown user")
    person = directory.person(user_id, at)
    if person is None:
        raise UnknownUserError(f"unknown user {user_id!r}")
    roles = frozenset(grant.role for grant in directory.roles(user_id, at))
    return Actor(person_id=person.person_id, kind=person.kind, roles=roles)


def definition_of(catalog: Catalog, process_key: str, version: int) -> ProcessDefinition:
    """The catalog's definition an instance runs on; refused when the catalog moved on."""
    definition = catalog.get(process_key)
    if definition.version != version:
        raise BusinessRuleError(
            f"this instance runs on version {version} of {process_key}, but the catalog "
            f"holds version {definition.version}"
        )
    return definition


def assigner(directory: Directory, applicant_id: str, at: datetime) -> Callable[[Node], Assignment]:
    """Who decides each node for this applicant, as the organisation stands at `at`.

    The applicant's placement is looked up on the first call: most commands (a view, an
    approval short of its step's end) assign nobody."""
    resolved: list[Placement] = []

    def assign(node: Node) -> Assignment:
        if not resolved:
            placement = directory.placement(applicant_id, at)
            if placement is None:
                person = directory.person(applicant_id, at)
                kind = person.kind if person else Audience.VISITOR
                placement = Placement(person_id=applicant_id, kind=kind)
            resolved.append(placement)
        return directory.resolve(node.assignee, resolved[0], at)

    return assign


def _care_checker(
    directory: Directory,
    user_id: str,
    at: datetime,
    everyone: frozenset[Role],
    scoped: frozenset[Role],
) -> Callable[[str], bool]:
    """Whether the caller looks after a person: through a grant in `everyone` for the whole
    university, or through a grant in `scoped` over the person's class, college or 书院.

    The caller's grants are looked up on the first call (only 催办 asks)."""
    decided: list[Callable[[str], bool]] = []

    def cares(person_id: str) -> bool:
        if not decided:
            decided.append(_care_of(directory, user_id, at, everyone, scoped))
        return decided[0](person_id)

    return cares


def _care_of(
    directory: Directory,
    user_id: str,
    at: datetime,
    everyone: frozenset[Role],
    scoped: frozenset[Role],
) -> Callable[[str], bool]:
    grants = directory.roles(user_id, at)
    if any(g.role in everyone for g in grants):
        return lambda _person: True
    units = {(g.role, g.scope_id) for g in grants if g.role in scoped}
    if not units:
        return lambda _person: False

    def cares(person_id: str) -> bool:
        placement = directory.placement(person_id, at)
        if placement is None:
            return False
        return any(SCOPE_OF_PLACEMENT[role](placement) == scope_id for role, scope_id in units)

    return cares


def supervision_checker(directory: Directory, user_id: str, at: datetime) -> Callable[[str], bool]:
    """Whether the caller's supervising office looks after an applicant (催办 scope).

    学工部, 研究生院 and leaders look after everyone; a college or 书院 office after the
    people of its college or 书院 (students and staff alike). Other grants do not count.
    """
    return _care_checker(directory, user_id, at, UNIVERSITY_SUPERVISORS, UNIT_SUPERVISORS)


def is_student(directory: Directory, person_id: str, at: datetime) -> bool:
    """Whether the directory knows `person_id` as a student at `at` (whom campaigns address)."""
    person = directory.person(person_id, at)
    return person is not None and person.kind in (Audience.UNDERGRADUATE, Audience.GRADUATE)


def campaign_scope_checker(
    directory: Directory, user_id: str, at: datetime
) -> Callable[[str], bool]:
    """Whether the caller looks after a student in a whereabouts campaign (who they may remind).

    学工部 and 研究生院 run the campaigns for everyone; a monitor or counsellor looks after their
    classes, a college or 书院 office after its college or 书院.
    """
    return _care_checker(directory, user_id, at, CAMPAIGN_ORGANISERS, CAMPAIGN_CARERS)


def campaign_context(
    directory: Directory,
    actor: Actor,
    user_id: str,
    now: datetime,
    definition: ProcessDefinition | None,
) -> CampaignContext:
    """What `decide_campaign` consults: the caller, the clock, the students in their care."""
    return CampaignContext(
        actor=actor,
        now=now,
        definition=definition,
        is_student=lambda pid: is_student(directory, pid, now),
        in_scope=campaign_scope_checker(directory, user_id, now),
    )
