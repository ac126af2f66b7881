"""`python -m tongban`: the same command as `tongban`, for child processes of this interpreter."""

from tongban.cli import main

main()
