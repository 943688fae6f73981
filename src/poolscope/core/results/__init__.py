"""A job's results by input index, kept pickled: the latest in memory, the rest on disk.

A job of a million tasks must not grow the memory of the process that watches it (the window),
and must lose none of its results. So the engine keeps each report's results as one block of
consecutive input indexes, pickled as one list, and once a job's blocks in memory pass
``MEMORY_LIMIT`` bytes it writes them to a temporary file and lets them go; with the job history
on, every block is written through to the job's results file instead.

The engine thread never builds a result of the user's classes: it checks that each result
pickled on its own would unpickle with a stand-in for every class it names
(:func:`check_pickled`), so no user module is ever imported there, and stores the bytes. A
result is unpickled where it is asked for (``Job.wait()``, ``Job.results()``,
``Job.iter_results()``, an ``on_result`` callback), in the caller's process, with a
:class:`ResultLoader` that imports the classes' modules as a worker would. The window never asks
for them: its "Save results…" has them turned into JSON-ready values in a child process
(:class:`JsonReadyBlocks`).

Its parts: ``check.py`` (the engine thread's check), ``store.py`` (ResultStore: the blocks in
memory and on disk, and a results file read back), ``loader.py`` (ResultLoader: results built in
the caller's process), ``saving.py`` (JsonReadyBlocks: results made JSON-ready in a child process).
"""

from __future__ import annotations

from poolscope.core.results.check import CHECK_SLICE, check_one_pickled, check_pickled
from poolscope.core.results.loader import ResultLoader, UnreadableResult
from poolscope.core.results.saving import JsonReadyBlocks, file_json_ready_items
from poolscope.core.results.store import (
    FRAME_HEADER,
    MEMORY_LIMIT,
    RESULTS_MAGIC,
    EncodedBlock,
    ResultStore,
    count_file_results,
    file_blocks_in_order,
    file_items,
    load_block,
    read_results_file,
)

__all__ = [
    "CHECK_SLICE",
    "FRAME_HEADER",
    "MEMORY_LIMIT",
    "RESULTS_MAGIC",
    "EncodedBlock",
    "JsonReadyBlocks",
    "ResultLoader",
    "ResultStore",
    "UnreadableResult",
    "check_one_pickled",
    "check_pickled",
    "count_file_results",
    "file_blocks_in_order",
    "file_items",
    "file_json_ready_items",
    "load_block",
    "read_results_file",
]
