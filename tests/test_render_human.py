"""render_mode="human" opens the PyBullet GUI (needs an X server: run where Xvfb is installed)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pybullet as pb
import pytest
from conftest import make_env

pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb for a virtual screen")


@pytest.fixture()
def virtual_display(monkeypatch):
    display = ":87"
    server = subprocess.Popen(["Xvfb", display, "-screen", "0", "640x480x24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket_path = Path("/tmp/.X11-unix") / f"X{display[1:]}"
    deadline = time.monotonic() + 30.0  # under load Xvfb can take longer than a second to come up
    while not socket_path.exists() and time.monotonic() < deadline and server.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    monkeypatch.setenv("DISPLAY", display)
    yield display
    server.terminate()
    server.wait(timeout=10)


def test_human_mode_opens_the_gui_and_follows_the_hand(warm_grasps, virtual_display):
    env = make_env(wrist="palm_down", render_mode="human")
    try:
        env.reset(seed=0)
        for _ in range(5):
            env.step(np.zeros(16, np.float32))
        client = env.unwrapped.world.client
        assert pb.getConnectionInfo(client)["connectionMethod"] == pb.GUI
        deadline = time.monotonic() + 30.0  # the GUI thread applies camera moves asynchronously (slowly under load)
        while time.monotonic() < deadline:
            distance = pb.getDebugVisualizerCamera(physicsClientId=client)[10]
            if abs(distance - 0.32) < 1e-3:
                break
            env.step(np.zeros(16, np.float32))
        assert distance == pytest.approx(0.32, abs=1e-3)  # aimed at the grasp, not the default view
        assert env.render() is None
    finally:
        env.close()
        env.close()
