"""Cleaning up after a local kernel: its folders and its pids cgroup, without ever deleting
through a mount that code in the kernel may have made."""

from __future__ import annotations

import logging
import os
import shutil
import time

log = logging.getLogger("nbreason.sandboxes.local")


def remove_tree(path: str | os.PathLike) -> None:
    """Delete a sandbox folder, unless something is mounted below it: rmtree would delete the
    mounted file system too (a kernel that can mount, as an unconfined root kernel with
    capabilities could, might bind / there). Left in place with a warning instead."""
    prefix = os.path.realpath(path).rstrip("/") + "/"
    try:
        with open("/proc/self/mountinfo") as fh:
            mounted = [fields[4] for fields in map(str.split, fh) if fields[4].startswith(prefix)]
    except (OSError, IndexError):
        mounted = []
    if mounted:
        log.warning("local sandbox: not removing %s: something is mounted below it (%s)",
                    path, ", ".join(mounted))
        return
    shutil.rmtree(path, ignore_errors=True)


def remove_cgroup(path: str | None) -> None:
    """A confined kernel's pids cgroup, once its processes are gone (a launcher also sweeps
    up those left behind)."""
    if not path or not os.path.basename(path).startswith("nbreason-"):
        return
    for _ in range(20):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:  # still busy: the killed processes are being reaped
            time.sleep(0.01)
