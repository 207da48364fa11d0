"""Progress for long calls: a bar by default from Python, lines from the CLI.

``map_network``, ``explore`` and ``resume`` take ``progress``:

- ``True`` (default): a progress bar (``tqdm.auto``: a widget in a notebook,
  text on stderr elsewhere) that advances on every ``i/n`` count the search
  reports (designs evaluated, mapper rounds or layers) and shows the rest of
  the line (the objective with its unit) beside it;
- ``False`` or ``None``: nothing;
- a callable: receives every progress line as text (the CLI prints them).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator

from workloads.specfile import show

_COUNT = re.compile(r"(\d+)/(\d+)")


class ProgressBar:
    """A callable(str) that drives a ``tqdm.auto`` bar from progress lines.

    The first ``i/n`` in a line sets the bar to ``i`` of ``n``; the line,
    without a leading ``[i/n]``, becomes the bar's postfix.
    """

    def __init__(self, desc: str, unit: str) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=None, desc=desc, unit=unit, leave=True, dynamic_ncols=True)

    def __call__(self, line: str) -> None:
        m = _COUNT.search(line)
        if m is not None:
            done, total = int(m.group(1)), int(m.group(2))
            if self.bar.total != total:
                self.bar.total = total
            self.bar.n = min(done, total)
        text = re.sub(r"^\[\d+/\d+\]\s*", "", line)
        self.bar.set_postfix_str(text[:80], refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def check_progress(progress, who: str, error: type[Exception]) -> None:
    """Raise ``error`` naming the field unless ``progress`` is a bool, None or a callable(str)."""
    if progress is None or isinstance(progress, bool) or callable(progress):
        return
    raise error(f"{who}: field 'progress' expected True, False, None or a callable(str), found {show(progress)}")


@contextlib.contextmanager
def progress_reporter(progress, desc: str, unit: str) -> Iterator[Callable[[str], None] | None]:
    """The callable a search reports to (None: silent); a bar made here is closed on exit."""
    if progress is True:
        bar = ProgressBar(desc, unit)
        try:
            yield bar
        finally:
            bar.close()
    elif progress is None or progress is False:
        yield None
    else:
        yield progress


__all__ = ["ProgressBar", "check_progress", "progress_reporter"]
