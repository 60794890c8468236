"""Errors a load can end with; each says what to do about it."""


class LoadError(Exception):
    """The load was refused as a whole; the database is unchanged."""


class TooManyRejects(LoadError):
    def __init__(
        self, rejected: int, max_rejects: int, rejects_file: str | None, examples: list[str]
    ):
        self.rejected = rejected
        self.examples = examples
        where = f"; all of them with reasons in {rejects_file}" if rejects_file else ""
        lines = "".join(f"\n  {e}" for e in examples)
        super().__init__(
            f"{rejected} rows rejected, more than --max-rejects {max_rejects}{where}. "
            f"Nothing was loaded.{lines}"
        )
