-- Turnaround per service and period, as leadership reads it.
select
    process_key,
    period_grain,
    period_start,
    submitted,
    terminal + open as terminal_and_open,
    terminal,
    finished,
    completion_rate,
    turnaround_min_s,
    turnaround_median_s,
    turnaround_p90_s
from mart_turnaround__services
