-- materialized: table
-- publish: true
-- refresh: periodic
-- Who held the case up in parallel groups (会签): in every fully approved round of a parallel
-- step, the member that approved last is on the critical path; how often each node and
-- department was last, and how long it alone held the case (last approval − second-to-last).
with

tasks as (select * from fct_tasks where is_parallel_step),

rounds as (
    select
        instance_id,
        process_key,
        step,
        created_at as round_started_at,
        count(*) as members,
        count(*) filter (where outcome = 'approved') as approved_members
    from tasks
    group by all
),

complete_rounds as (
    select * from rounds where approved_members = members and members > 1
),

members as (
    select
        tasks.*,
        row_number() over round_order as finish_rank,
        lag(tasks.decided_at) over round_order as previous_decided_at,
        count(*) over (partition by tasks.instance_id, tasks.step, tasks.created_at) as members
    from tasks
    join complete_rounds
        on complete_rounds.instance_id = tasks.instance_id
        and complete_rounds.step = tasks.step
        and complete_rounds.round_started_at = tasks.created_at
    window round_order as (
        partition by tasks.instance_id, tasks.step, tasks.created_at
        order by tasks.decided_at, tasks.task_id
    )
),

final as (
    select
        process_key,
        step,
        node_key,
        department_id,
        count(*) as rounds,
        count(*) filter (where finish_rank = members) as times_last,
        count(*) filter (where finish_rank = members) / count(*) as share_last,
        quantile_cont(epoch(decided_at) - epoch(previous_decided_at), 0.5)
            filter (where finish_rank = members) as hold_median_s,
        avg(epoch(decided_at) - epoch(previous_decided_at))
            filter (where finish_rank = members) as hold_mean_s,
        quantile_cont(duration_s, 0.5) as duration_median_s,
        quantile_cont(duration_working_s, 0.5) as duration_working_median_s
    from members
    group by all
)

select * from final
