"""The job flags of ``poolscope run`` and ``poolscope gui`` into a JobSpec and the Engine's
keyword arguments, and a bad field's message for the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def spec_from_args(args: argparse.Namespace, target: str, *, checked_by_workers: bool = False) -> Any:
    """Build the JobSpec from the job flags; raises SpecError naming the bad field.

    ``checked_by_workers``: the target and initializer are only parsed here (a file target must
    exist), not imported in a check process of their own: the job's workers import them anyway,
    and one that does not load fails the job with the field's SpecError (see ``setup_refusal``).
    Only if another field is bad is the target checked here first, so that a bad target is still
    the error said first, as with the check. Else (the window) a target of the user's own code
    is checked in a child process before anything else.
    """
    from poolscope.core.jobs import JobSpec, SpecError, resolve_initializer
    from poolscope.core.targets import parse_target, resolve_target

    def create(target: Any, initializer: Any) -> Any:
        return JobSpec.create(target, args.inputs, kwargs=args.kwargs, chunksize=args.chunksize,
                              timeout=args.timeout, retries=args.retries, name=args.name,
                              max_tasks_per_worker=args.max_tasks_per_worker, backend=args.backend,
                              initializer=initializer)

    if not checked_by_workers:
        return create(target, args.initializer)
    parsed = parse_target(target)
    initializer = None
    if args.initializer is not None and args.initializer.strip():
        try:
            initializer = parse_target(args.initializer)
        except SpecError as exc:
            raise SpecError("initializer", exc.message) from None
    try:
        return create(parsed, initializer)  # a Target given is taken as checked (core/jobs.py JobSpec.create)
    except SpecError:
        resolve_target(parsed)  # a target that does not load is the first error to say, as before
        resolve_initializer(args.initializer)
        raise


def usage_errors(prog: str, exc: Exception) -> str:
    """A bad field's message for the terminal, a line per field when several are bad (SpecErrors)."""
    errors = getattr(exc, "errors", None) or {getattr(exc, "field", ""): getattr(exc, "message", str(exc))}
    return "".join(f"{prog}: error: {field}: {message}\n" if field else f"{prog}: error: {message}\n"
                   for field, message in errors.items())


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Engine's keyword arguments from the flags; raises SpecError naming a bad one."""
    from poolscope.core.errors import SpecError
    from poolscope.core.fields import check_backend, parse_optional_int

    workers = parse_optional_int("workers", args.workers)
    check_backend(args.backend)
    if args.scheduler is not None and args.backend != "dask":
        raise SpecError("scheduler", "is only for --backend dask")
    try:
        nice = int(args.nice)
    except ValueError:
        raise SpecError("nice", f"must be a whole number from 0 to 19, not {args.nice!r}") from None
    if not 0 <= nice <= 19:
        raise SpecError("nice", f"must be a whole number from 0 to 19, not {nice}")
    options: dict[str, Any] = {"nice": nice, "dask_scheduler": args.scheduler}
    if args.backend == "threads":
        options["threads"] = workers
    elif args.backend == "dask":
        options["workers"] = 1  # the local pool idles; the cluster does the work
        options["dask_workers"] = workers or 2
    else:
        options["workers"] = workers
    return options
