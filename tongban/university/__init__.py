"""The simulated university: its business systems (SIS and HR) generated deterministically, and
the personas to log in as. Public entry points live in `generator` and `personas`."""
