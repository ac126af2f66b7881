-- The columns of the warehouse's copy of the event store, as loaded (no rows: a schema check).
select * from raw_events limit 0
