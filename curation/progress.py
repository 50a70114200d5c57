"""How a long step talks to whoever runs it: report lines and progress counters, one object passed to the stage
instead of a `log=` and a `progress=` callback riding along in every signature (as setfit's callbacks and
datatrove's stats keep reporting out of the work)."""

from __future__ import annotations

from collections.abc import Callable

Bar = Callable[[int], None]  # a progress bar's update: `bar(n)`, n more items done


def _count_nothing(n: int) -> None:
    return None


class Progress:
    """Lines go to `say` (default: print), counters are made by `bars` (default: none drawn). The CLI's draws tqdm
    bars and finishes them before a line; `Progress.quiet()` says and draws nothing (tests, benchmarks)."""

    def __init__(self, say: Callable[[str], None] = print, bars: Callable[[str], Bar] | None = None):
        self._say = say
        self._bars = bars

    def say(self, line: str) -> None:
        """A line of the step's report."""
        self._say(line)

    def bar(self, name: str) -> Bar:
        """A counter for the work called `name` (a no-op when no bars are drawn)."""
        return self._bars(name) if self._bars else _count_nothing

    @classmethod
    def quiet(cls) -> Progress:
        return cls(say=_say_nothing)


def _say_nothing(line: str) -> None:
    return None
