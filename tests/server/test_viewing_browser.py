"""The player in a real browser (Playwright driving Debian's Chromium) against a real
`serve` process and a real key holder: a reviewer gives a reason and presses play; the
frames Chromium decodes are the frames the camera encoded (compared with the
authority's own decrypt, decoded by PyAV); only segments near the playhead are held,
and seeking back decrypts dropped ones again; a segment changed on the server is refused
before decrypting; a stopped key holder is named on the page; the wearer and the
administrator get no picture; the server's data directory and database hold no age
identity and no plaintext while and after a view is watched."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import pytest
from browser_rig import chromium
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from server_fixtures import Camera, Server, make_backend
from viewing_bench import play_figures
from viewing_rig import (
    WAIT_MS,
    Viewing,
    alter_stored,
    camera_frames,
    open_viewing,
    press_play,
    secrets_in,
    signed_in,
    stats,
    wait_until_all_decrypted,
)

from bodycam.firmware.evidence.age.keys import generate_identity

SHOTS: Final = os.environ.get("BODYCAM_SCREENSHOTS")


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> object:
    return make_backend(request.param, request)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from chromium()


@pytest.fixture
def viewing(server: Server, camera: Camera, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[Viewing]:
    yield from open_viewing(server, camera, tmp_path, monkeypatch)


_GRAB: Final = """async (at) => {
  // "seeked" says the media element has the data; the frame it shows may reach the
  // screen (and drawImage) a moment later, on a loaded machine after the grab. So the
  // frame is taken once one is presented for the new position (requestVideoFrameCallback,
  // asked for before seeking so it cannot be missed): its mediaTime is `at`'s frame.
  const video = document.getElementById("video");
  video.pause();
  const ranges = (r) => Array.from({ length: r.length }, (_, i) => [r.start(i), r.end(i)]);
  const state = () => JSON.stringify({
    player: window.bodycamPlayer, currentTime: video.currentTime, seeking: video.seeking,
    readyState: video.readyState, error: video.error && video.error.message,
    buffered: ranges(video.buffered), src: video.getAttribute("src") });
  const shown = new Promise((done) => {
    const look = (_now, frame) => {
      if (Math.abs(frame.mediaTime - at) <= 1 / 15) done(frame.mediaTime);
      else video.requestVideoFrameCallback(look);
    };
    video.requestVideoFrameCallback(look);
  });
  const seeked = new Promise((done) => {
    video.addEventListener("seeked", () => done(true), { once: true });
  });
  video.currentTime = at;
  const late = new Promise((done) => setTimeout(() => done(false), 60000));
  // each failure says what the player and the media element were doing, not just hangs
  if (!await Promise.race([seeked, late])) {
    throw new Error(`no "seeked" within 60 s of seeking to ${at}: ` + state());
  }
  if (await Promise.race([shown, late]) === false) {
    throw new Error(`no frame shown for ${at} within 60 s of seeking: ` + state());
  }
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext("2d");
  context.drawImage(video, 0, 0);
  return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data);
}"""



def grab(page: Page, at: float, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    rgba = np.array(page.evaluate(_GRAB, at), dtype=np.float64)
    return rgba.reshape(shape[0], shape[1], 4)[:, :, :3]


def shot(page: Page, tmp_path: Path, name: str) -> None:
    target = Path(SHOTS) if SHOTS else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"), full_page=True)


def assert_camera_frames_shown(page: Page, viewing: Viewing) -> None:
    """Frames from every segment (2 s each at 15 fps), reached by seeking back and forth
    across segment boundaries, are the camera's own (never a whole-second white flash)."""
    frames = camera_frames(viewing)
    shape = frames[0][1].shape
    for index in (50, 4, 37, 82, 23, 68):
        at, _ = frames[index]
        seen = grab(page, at + 0.5 / 15, shape)  # mid-frame: no rounding at either edge
        distances = [float(np.abs(seen - f.astype(np.float64)).mean()) for _, f in frames]
        assert int(np.argmin(distances)) == index, (index, sorted(
            range(len(frames)), key=distances.__getitem__)[:3])
        assert distances[index] < 6.0, distances[index]


def test_reviewer_watches_the_frames_the_camera_saw(browser: Browser, viewing: Viewing,
                                                    tmp_path: Path) -> None:
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")
    press_play(page, viewing)
    wait_until_all_decrypted(page, viewing)
    page.wait_for_function("() => window.bodycamPlayer.firstFrameMs !== null",
                           timeout=WAIT_MS)
    expect(page.locator("#marks")).to_have_text(  # the test recording has none of either
        f"No markers and no gaps in {len(viewing.segments())} segment(s).")
    overlay = page.locator("#overlay")
    expect(overlay).to_contain_text("Rita (rita)")
    expect(overlay).to_contain_text(time.strftime("%Y-%m-%d", time.gmtime()))
    page.wait_for_function("() => document.getElementById('video').currentTime > 0.5 + "
                           "document.getElementById('video').buffered.start(0)",
                           timeout=WAIT_MS)
    assert page.evaluate("() => document.getElementById('video').webkitAudioDecodedByteCount"
                         ) > 0, "no sound was decoded"
    shot(page, tmp_path, "player")
    assert_camera_frames_shown(page, viewing)
    # While the picture is up (grant live, every segment decrypted in the browser) and
    # after it stopped, the server's data directory (database included) holds neither
    # an age identity nor any plaintext; the key holder's directory shows the scan works.
    assert secrets_in(viewing.server.data_dir, viewing) == []
    assert any("an age identity" in f for f in secrets_in(viewing.holder_dir, viewing))
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("status")).to_contain_text("Stopped")
    assert stats(page)["state"] == "stopped"
    assert page.evaluate("() => document.getElementById('video').readyState") == 0
    expect(page.locator("#overlay")).to_have_text("")
    assert secrets_in(viewing.server.data_dir, viewing) == []


def test_a_long_recording_is_held_in_a_window_around_the_playhead(
        browser: Browser, viewing: Viewing) -> None:
    """The player keeps only the segments near the playhead decrypted (a 10-minute
    recording at 4 Mbit/s is twice what Chromium's MediaSource holds): shrunk here to
    half a second each way, playing to the end never holds the whole recording, and
    seeking back decrypts the dropped segments again and shows the camera's frames."""
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")
    page.add_init_script("window.bodycamPlayerWindow = { aheadS: 0.5, behindS: 0.5 };")
    press_play(page, viewing)
    wait_until_all_decrypted(page, viewing)
    page.wait_for_function("() => document.getElementById('video').ended", timeout=WAIT_MS)
    played = stats(page)
    order = [d["segment"] for d in played["decrypts"]]
    assert order == list(range(len(viewing.segments()))), played
    # at most two of the three 2 s segments at once (the whole recording is 5.5 s)
    assert 0 < played["maxBufferedS"] < 4.5, played["maxBufferedS"]
    # Then the first two segments go from the browser (frame 4 lies in the first, frame
    # 50 in the second: 2 s each at 15 fps), once the player's loop next looks: waited
    # for, since the picture can reach the end before that.
    frames = camera_frames(viewing)
    gone = [frames[4][0], frames[50][0]]
    try:
        page.wait_for_function("""(gone) => { const b = document.getElementById("video").buffered;
          return gone.every((t) => !Array.from({ length: b.length },
            (_, i) => b.start(i) <= t && t <= b.end(i)).includes(true)); }""",
                               arg=gone, timeout=WAIT_MS)
    except PlaywrightTimeout:
        held = page.evaluate("""() => { const b = document.getElementById("video").buffered;
          return Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]); }""")
        raise AssertionError(f"segments 1 and 2 ({gone} s) still held: {held}") from None
    assert_camera_frames_shown(page, viewing)
    # so their frames, shown by the seeks back, were decrypted again
    again = [d["segment"] for d in stats(page)["decrypts"][len(played["decrypts"]):]]
    assert {0, 1} <= set(again), again
    assert stats(page)["maxBufferedS"] < 4.5, stats(page)["maxBufferedS"]
    assert stats(page)["error"] is None


def test_a_changed_segment_is_refused_before_decrypting(browser: Browser,
                                                        viewing: Viewing) -> None:
    second = viewing.segments()[1]
    alter_stored(viewing, second)
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")
    press_play(page, viewing)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(f"segment {second.name} is not what the camera signed",
                                  timeout=WAIT_MS)
    expect(alert).to_contain_text("refused before decrypting")
    assert len(stats(page)["decrypts"]) == 1  # the first one played; the second never opened
    assert stats(page)["state"] == "refused"


def test_stopped_key_holder_is_named_on_the_page(browser: Browser, viewing: Viewing) -> None:
    viewing.stop_holder()
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")
    press_play(page, viewing)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("No view:", timeout=WAIT_MS)
    expect(alert).to_contain_text("keyholder_unavailable")
    assert stats(page)["decrypts"] == []


@pytest.mark.parametrize(("user", "rule"), [("adam", "administrator_no_evidence"),
                                            ("walt", "permission")])
def test_wearer_and_administrator_get_no_player(browser: Browser, viewing: Viewing,
                                                user: str, rule: str) -> None:
    viewing.server.serve()
    page = signed_in(browser, viewing, user)
    page.goto(f"{viewing.server.url}/recordings/{viewing.recording_id}/play")
    expect(page.get_by_role("alert")).to_contain_text(rule)
    expect(page.get_by_role("button", name="Play")).to_have_count(0)


def test_the_picture_ends_when_the_grant_expires(browser: Browser, viewing: Viewing) -> None:
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")
    page.clock.install()
    press_play(page, viewing)
    wait_until_all_decrypted(page, viewing)
    page.clock.fast_forward("16:00")  # the grant lasts 15 minutes
    expect(page.get_by_role("status")).to_contain_text("The grant expired")
    assert stats(page)["state"] == "expired"
    assert page.evaluate("() => document.getElementById('video').readyState") == 0


def test_a_key_swapped_on_the_way_gives_no_picture(browser: Browser, viewing: Viewing) -> None:
    """Someone between the browser and the server puts their own key in the request: the
    headers that come back open for them (and the key holder's log names their key), not
    for this browser, which says so and shows nothing."""
    _, other = generate_identity()
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")

    def swap(route: Any) -> None:
        sent = route.request.post_data_json
        route.continue_(post_data=json.dumps({**sent, "viewer_key": other}))

    page.route("**/view", swap)
    press_play(page, viewing)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("does not open with this view's key", timeout=WAIT_MS)
    assert stats(page)["decrypts"] == [] and stats(page)["state"] == "refused"


def test_play_figures_are_measured(browser: Browser, viewing: Viewing) -> None:
    """The benchmark's figures (tests/server/viewing_bench.py) on a short recording: the
    shape is what the README quotes; no figure is judged (a shared machine)."""
    viewing.server.serve()
    figures = play_figures(browser, viewing, plays=2)
    assert figures["plays"] == 2 and figures["segments"] == len(viewing.segments())
    assert figures["first_frame_ms"]["p50"] > 0 and figures["decrypt_mb_s"] > 0


def test_markers_seek_and_gaps_are_shown(browser: Browser, viewing: Viewing) -> None:
    """The timeline as drawn from the view's answer (here given a marker and a gap on
    the way, since the simulated recording has neither): the marker's button seeks the
    picture to it; the gap is named with its source."""
    viewing.server.serve()
    page = signed_in(browser, viewing, "rita")

    def add_marks(route: Any) -> None:
        answer = route.fetch()
        body = answer.json()
        start = body["timeline"]["segments"][0]["start_s"]
        body["timeline"]["markers"] = [{"media_s": start + 3.5, "wall": "2026-12-06T08:00:03Z"}]
        body["timeline"]["gaps"] = [{"source": "microphone", "start_s": start + 1.0,
                                     "end_s": start + 1.5}]
        route.fulfill(response=answer, json=body)

    page.route("**/view", add_marks)
    press_play(page, viewing)
    wait_until_all_decrypted(page, viewing)
    expect(page.locator("#marks")).to_contain_text(
        "gap: the microphone delivered nothing from 0:01.0 to 0:01.5")
    page.evaluate("() => document.getElementById('video').pause()")  # so nothing moves on
    page.locator("#marks").get_by_role("button", name="Marker 1 at 0:03.5").click()
    at = page.evaluate("() => document.getElementById('video').currentTime - "
                       "document.getElementById('video').buffered.start(0)")
    assert abs(at - 3.5) < 0.1, at
