"""Large buffers get their own mappings once the studio asks for it, whatever glibc freed before."""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import sys

import pytest

# In a fresh interpreter: free a 16 MiB buffer (glibc then serves buffers up to that size from its heaps),
# allocate a 2 MiB one, and print how many more chunks have their own mapping than before it.
MAPPED_CHUNKS_GAINED = """
import ctypes, sys
import numpy as np
from studio.memory import map_large_buffers

class MallInfo2(ctypes.Structure):
    FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "mapped":
    map_large_buffers()
large = np.ones(16 << 20, np.uint8)
del large
before = libc.mallinfo2().hblks
buffer = np.ones(2 << 20, np.uint8)
print(libc.mallinfo2().hblks - before)
"""


def _has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _has_mallinfo2(), reason="glibc's allocator only")
@pytest.mark.parametrize("mode, gained", [("default", 0), ("mapped", 1)])
def test_a_large_buffer_is_mapped_after_a_larger_one_was_freed(mode, gained):
    out = subprocess.run([sys.executable, "-c", MAPPED_CHUNKS_GAINED, mode], capture_output=True, text=True, check=True)
    assert int(out.stdout) == gained
