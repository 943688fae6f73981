"""Built-in task ``mandelbrot``: iterate one row of the Mandelbrot set in pure Python."""

from __future__ import annotations

from poolscope.api import progress

#: The default image: ``DEFAULT_WIDTH`` x ``DEFAULT_HEIGHT`` pixels, at most
#: ``DEFAULT_MAX_ITER`` iterations a pixel.
DEFAULT_WIDTH = 1200
DEFAULT_HEIGHT = 300
DEFAULT_MAX_ITER = 1000

# The region of the complex plane drawn: real part [X_MIN, X_MAX), imaginary part [Y_MIN, Y_MAX).
X_MIN, X_MAX = -2.0, 0.5
Y_MIN, Y_MAX = -1.25, 1.25

# Pixels per progress report.
_REPORT_EVERY = 16


def mandelbrot_row(
    row: int,
    *,
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    max_iter: int = DEFAULT_MAX_ITER,
) -> int:
    """Return the sum, over the ``width`` pixels of ``row``, of the escape iteration counts.

    Pixel ``(col, row)`` is the point ``c = re + im*1j`` with
    ``re = X_MIN + (X_MAX - X_MIN) * col / width`` and
    ``im = Y_MIN + (Y_MAX - Y_MIN) * row / height``.
    Its count is the number of iterations of ``z = z*z + c`` (from ``z = 0``) before ``|z| > 2``,
    or ``max_iter`` if it never escapes. Rows in the middle of the image (near the set) cost the
    most, rows at the edges almost nothing. Pure Python floats, so CPU-bound in the interpreter.
    """
    if not 0 <= row < height:
        raise ValueError(f"row must be in [0, {height}), got {row}")
    if width <= 0 or max_iter < 0:
        raise ValueError(
            f"width must be positive and max_iter non-negative, got {width} and {max_iter}"
        )
    total = 0
    ci = Y_MIN + (Y_MAX - Y_MIN) * row / height
    for col in range(width):
        if col % _REPORT_EVERY == 0:
            progress(col, width)
        cr = X_MIN + (X_MAX - X_MIN) * col / width
        zr = zi = 0.0
        n = 0
        while n < max_iter:
            zr2 = zr * zr
            zi2 = zi * zi
            if zr2 + zi2 > 4.0:
                break
            zi = 2.0 * zr * zi + ci
            zr = zr2 - zi2 + cr
            n += 1
        total += n
    progress(width, width)
    return total
