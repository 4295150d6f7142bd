"""The launcher a process uses, chosen by ``DIARIST_LAUNCHER`` (``settings.LauncherSettings``).

``build_launcher`` is the one place that knows every ``ports.Launcher``: ``batch`` and ``ecs``
are adapters (``adapters.batch_launcher``, ``adapters.ecs_launcher``); ``local`` belongs to local
mode: one ``local.process_launcher.LocalLauncher`` per launch directory (each drain worker its own
process). This module sits above both, like the functions that call it (the dispatcher, the
sweeper), so that adapters never import local mode.
"""

from __future__ import annotations

import threading

from diarist.adapters.batch_launcher import BatchLauncher
from diarist.adapters.ecs_launcher import EcsLauncher
from diarist.local.process_launcher import LocalLauncher
from diarist.ports import Launcher
from diarist.settings import LauncherSettings

_LOCAL_LAUNCHERS: dict[str, LocalLauncher] = {}
_LOCAL_LOCK = threading.Lock()


def build_launcher(settings: LauncherSettings) -> Launcher:
    """A new Batch or ECS launcher (callers build theirs once per warm container); a local one is
    shared per process and launch directory, so the dispatcher, the sweeper and local mode's
    reaper see the same workers."""
    if settings.launcher == "batch":
        assert settings.batch_job_queue and settings.batch_job_definition  # checked by the settings
        return BatchLauncher(settings.batch_job_queue, settings.batch_job_definition)
    if settings.launcher == "ecs":
        assert settings.ecs_cluster and settings.ecs_task_definition
        return EcsLauncher(
            settings.ecs_cluster,
            settings.ecs_task_definition,
            subnets=settings.ecs_subnets,
            container_name=settings.ecs_container_name,
        )
    assert settings.local_launch_dir
    return local_launcher(settings.local_launch_dir)


def local_launcher(launch_dir: str) -> LocalLauncher:
    """The process's local launcher for ``launch_dir`` (local mode's reaper and the dispatcher
    share it, so exits of the workers it started are seen)."""
    with _LOCAL_LOCK:
        launcher = _LOCAL_LAUNCHERS.get(launch_dir)
        if launcher is None:
            launcher = _LOCAL_LAUNCHERS[launch_dir] = LocalLauncher(launch_dir)
        return launcher


def forget_local_launchers() -> None:
    """Drop the local launchers (local mode stopped; the next start makes new ones)."""
    with _LOCAL_LOCK:
        _LOCAL_LAUNCHERS.clear()
