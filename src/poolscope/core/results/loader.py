"""Building a job's results where they are asked for (the caller's process: the library,
``poolscope run``, ``poolscope results``), with the user's classes found as a worker finds them.
"""

from __future__ import annotations

import io
import pickle
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from poolscope.core.targets import Target


class _TargetUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, loader: ResultLoader) -> None:
        super().__init__(io.BytesIO(data))
        self._loader = loader

    def find_class(self, module: str, name: str) -> Any:
        return self._loader.find_class(module, name)


class UnreadableResult:
    """Stands for a result that a worker pickled but that cannot be built in the caller's process
    (its class refuses the arguments it is rebuilt with, or its module no longer imports). The
    engine cannot know that without running the user's code, so the task counts as done; the
    other results are read as usual."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"<result could not be unpickled: {self.message}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnreadableResult) and other.message == self.message

    __hash__ = None  # type: ignore[assignment]


class ResultLoader:
    """Unpickles a job's results in the caller's process (the library, ``poolscope run``).

    A class of a file target is found in that file, loaded as a worker loads it (its module
    name, ``poolscope_file_<stem>_<hash>``, exists only where the file was loaded), a module of
    a sibling of the file from the file's folder, any other module by the lookup rule
    (core/targets.py :func:`~poolscope.core.targets.import_for_results`). Never called in the
    window's process.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self._classes: dict[tuple[str, str], Any] = {}
        self._prepared = False

    def __call__(self, data: bytes) -> Any:
        """The result ``data`` pickles, or an :class:`UnreadableResult` saying why it cannot be built."""
        try:
            return self.load(data)
        except KeyboardInterrupt:  # the user's Ctrl-C, not the result's
            raise
        except BaseException as exc:  # noqa: BLE001 - one result that cannot be built (even one whose
            # rebuilding calls sys.exit) does not hide the others, nor end the caller
            return UnreadableResult(f"{type(exc).__name__}: {exc}")

    def load(self, data: bytes) -> Any:
        """The result ``data`` pickles; raises what building it raises."""
        if not self._prepared:
            from poolscope.core.targets import prepare_lookup

            prepare_lookup(self.target)  # the project folder first on sys.path, as Target.load puts it
            self._prepared = True
        try:  # at C speed: sys.path now follows the lookup rule, and a file target once loaded is in sys.modules
            return pickle.loads(data)
        except (ImportError, AttributeError):  # a file target's module not loaded yet, or a sibling of it
            return _TargetUnpickler(data, self).load()

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        found = self._classes.get(key)
        if found is None:
            from poolscope.core.targets import import_for_results

            found = import_for_results(self.target, module)
            for part in name.split("."):
                found = getattr(found, part)
            self._classes[key] = found
        return found
