-- The instance facts of the instances that gained events since the checks last passed.
with

touched as (
    select distinct stream_id as instance_id from raw_events
    where event_id > getvariable('quality_after')
        and stream_type = 'instance'
),

final as (
    select instance_id, submitted_at, terminal_at, turnaround_s, turnaround_working_s
    from fct_instances
    semi join touched using (instance_id)
)

select * from final
