"""Errors a user can cause.

Anything raised as :class:`UserError` is caught at the CLI edge and printed as one line
(``error: <problem>. <fix>``) with a non-zero exit and no traceback. Library callers get an
ordinary exception they can catch.
"""


class UserError(Exception):
    """A problem caused by the user's input, with the fix in the message.

    Args:
        problem: what is wrong, naming the offending value or path.
        fix: what to do about it.
    """

    def __init__(self, problem: str, fix: str = ""):
        self.problem = problem.rstrip(".")
        fix = fix.rstrip(".")
        self.fix = fix[:1].upper() + fix[1:]
        super().__init__(f"{self.problem}. {self.fix}." if self.fix else f"{self.problem}.")


class CheckpointError(UserError):
    """A checkpoint or run directory that is missing, not a run, or corrupt."""
