"""Errors a load can end with; each says what to do about it."""


class LoadError(Exception):
    """The load was refused as a whole; the database is unchanged."""


class TooManyRejects(LoadError):
    def __init__(self, rejected: int, max_rejects: int, rejects_file: str | None):
        self.rejected = rejected
        where = f"; see {rejects_file}" if rejects_file else ""
        super().__init__(
            f"{rejected} rows rejected, more than --max-rejects {max_rejects}{where}. "
            "Nothing was loaded."
        )
