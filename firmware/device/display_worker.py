"""Drives the front display on its own thread.

Pushing a 128x128 frame over SPI takes several milliseconds; doing that on the controller
thread would delay button handling (and so the start of a recording). The camera thread
only drops its newest preview into a one-slot mailbox; this thread renders the latest
one at the configured rate and shows it. What to show (off / live / fault) and the
overlay come from the controller through `set_content`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PIL import Image

from bodycam.firmware.device.renderer import DisplayRenderer, OverlayState
from bodycam.firmware.device.states import DisplayContent
from bodycam.hal.interfaces import Clock, FrontDisplay, HardwareError, PreviewFrame

FrameObserver = Callable[[Image.Image | None, float], None]  # (image or None for off, time)

log = logging.getLogger(__name__)


class DisplayWorker:
    """Owns the panel: only this thread renders and shows, so nothing else waits on SPI."""

    def __init__(self, display: FrontDisplay, renderer: DisplayRenderer, clock: Clock, *,
                 fps: int, overlay: Callable[[], OverlayState],
                 on_frame: FrameObserver | None = None) -> None:
        self._display = display
        self._renderer = renderer
        self._clock = clock
        self._period = 1.0 / max(1, fps)
        self._overlay = overlay
        self._on_frame = on_frame
        self._preview: PreviewFrame | None = None
        self._content: DisplayContent = "off"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="display", daemon=True)
        self._errors = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def offer_preview(self, frame: PreviewFrame) -> None:
        """Camera-thread callback: keep only the newest frame (never blocks)."""
        self._preview = frame

    def set_content(self, content: DisplayContent) -> None:
        """Controller thread: what to show from now on; the display thread wakes at once."""
        if content != self._content:
            self._content = content
            self._wake.set()

    def _run(self) -> None:
        shown_off = False
        while not self._stop.is_set():
            content = self._content
            try:
                if content == "off":
                    if not shown_off:
                        self._display.off()
                        shown_off = True
                        self._notify(None)
                else:
                    shown_off = False
                    overlay = self._overlay()
                    preview = self._preview if content == "preview" else None
                    image = self._renderer.render(preview, overlay)
                    self._display.show(image)
                    self._notify(image)
            except Exception as exc:
                # The display is not evidence: whatever fails here (panel, renderer, frame
                # observer) must neither stop this thread nor reach the controller.
                self._errors += 1
                if self._errors == 1:
                    log.error("front display failed (%s: %s); retrying every frame, "
                              "recording is unaffected", type(exc).__name__, exc)
            self._wake.wait(self._period)
            self._wake.clear()
        try:
            self._display.off()
        except (HardwareError, OSError) as exc:
            log.warning("could not switch the front display off: %s", exc)

    def _notify(self, image: Image.Image | None) -> None:
        if self._on_frame is not None:
            self._on_frame(image, self._clock.monotonic())
