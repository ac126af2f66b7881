-- Whereabouts registration per campaign and class, as the pages read it.
select
    campaign_id,
    class_id,
    roster,
    excluded,
    eligible,
    excluded + eligible as excluded_and_eligible,
    registered,
    registration_rate
from mart_registration__progress
