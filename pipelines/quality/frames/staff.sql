-- Every member of staff of the business systems.
select staff_id from raw_business__staff
