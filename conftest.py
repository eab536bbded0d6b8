"""Collection rules for the whole repository."""

# The release 1 import paths are kept as shims that warn on import (DeprecationWarning,
# an error under this project's pytest settings); their doctests are not collected.
collect_ignore = [
    "src/pwrecovery/errors.py",
    "src/pwrecovery/service.py",
    "src/pwrecovery/secretbox.py",
    "src/pwrecovery/domain/model.py",
]
