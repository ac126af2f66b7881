-- materialized: table
-- publish: true
-- refresh: periodic
-- The distribution of every process's case durations (first to last event, as
-- int_process__cases counts them) over the same human-sized bins for all processes — under a
-- minute, up to 15 minutes, an hour, 4 hours, a day, 3 days, a week, 30 days, 90 days, longer —
-- with each bin's cases and share; empty bins are kept so every service's histogram has the same
-- axis.
with

cases as (select * from int_process__cases),

bins as (
    select * from (
        values
            (1, 0, 60),
            (2, 60, 900),
            (3, 900, 3600),
            (4, 3600, 14400),
            (5, 14400, 86400),
            (6, 86400, 259200),
            (7, 259200, 604800),
            (8, 604800, 2592000),
            (9, 2592000, 7776000),
            (10, 7776000, null)
    ) as edges (bin, lower_s, upper_s)
),

processes as (select distinct process_key from cases),

counted as (
    select
        cases.process_key,
        bins.bin,
        count(*) as cases
    from cases
    inner join bins
        on cases.duration_s >= bins.lower_s
        and (bins.upper_s is null or cases.duration_s < bins.upper_s)
    group by all
),

final as (
    select
        processes.process_key,
        bins.bin,
        bins.lower_s,
        bins.upper_s,
        coalesce(counted.cases, 0) as cases,
        coalesce(counted.cases, 0)
        / sum(coalesce(counted.cases, 0)) over (partition by processes.process_key) as share
    from processes
    cross join bins
    left join counted using (process_key, bin)
)

select * from final
