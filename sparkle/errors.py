"""The project's one exception type for errors a user can cause."""


class SparkleError(Exception):
    """A problem with the user's input or environment.

    The message names the file, row or key at fault and says what to do; the CLI prints it on one
    line and exits with status 2 instead of showing a traceback.
    """
