"""Player behaviour: a population of viewers and videos, and the events of each session.

A session holds one or more views: a view ends by finish, close, failure (before or after the
first frame), a silent player (the view times out; the session may come back later), or a
request for another video on the same session. Within a view: start-up delays, pre-roll and
mid-roll ads, stalls (also before the first frame, where they count for nothing), pauses
(short with heartbeats, or silent and longer than the gap cap), seeks, bitrate switches and
silent network gaps. ``ts`` strictly increases within a session, except in the sessions
picked for tie-break tests, where some events repeat the previous ``ts``.

``ts`` is the device's clock, which may be off (``skew_ms``); every event also carries
``received_at``, its true send time, as a collector stamps it on receipt (docs/views.md,
"Device clocks").

Everything is drawn from one ``random.Random``: same seed, same events.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, replace

# Real browser, TV and console strings, each one that uap-core parses (no family "Other").
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.6099.144 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0.6045.193 Mobile Safari/537.36",
    "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.5) AppleWebKit/537.36 (KHTML, like Gecko) "
    "76.0.3809.146/6.5 TV Safari/537.36",
    "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
    "Roku/DVP-12.5 (12.5.0.4178-C2)",
    "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
)
# Client addresses: (template, first host, last host) over ranges that MaxMind's test City
# database locates (London, Milton WA, Linköping, Changchun, Boxford, an IPv6 block in the
# US), plus an Australian carrier's block that only its ASN database knows.
CLIENT_NETWORKS = (
    ("81.2.69.{}", 142, 207),
    ("216.160.83.{}", 56, 71),
    ("89.160.20.{}", 112, 254),
    ("175.16.199.{}", 1, 254),
    ("2.125.160.{}", 216, 223),
    ("1.128.0.{}", 1, 254),
    ("2001:480:10::{:x}", 1, 0xFFFF),
)


def client_ip(rng: random.Random) -> str:
    """A client address from :data:`CLIENT_NETWORKS`."""
    template, first, last = rng.choice(CLIENT_NETWORKS)
    return template.format(rng.randint(first, last))


PLAYERS = (("shaka", "4.7.11"), ("hls.js", "1.5.7"), ("exoplayer", "2.19.1"), ("avplayer", "17.2"))
CDNS = ("akamai", "cloudfront", "fastly")
# The POPs each CDN vendor serves from (as its logs name them); a session is served by one.
POPS = {
    "cloudfront": ("LHR61-C2", "FRA56-P4"),
    "akamai": ("GB", "DE"),
    "fastly": ("AMS", "CDG", "FRA", "LCY"),
    "edgecast": ("LHD", "FRC"),
    "nginx": ("edge-1",),
}
BITRATES_KBPS = (800, 1600, 3000, 4500, 6000)
# The player's display sizes (player_width, player_height): a phone, a laptop's window, full HD,
# an ultra-wide window and a 4K TV, so that renditions (360p to 1080p) are shown below, at and
# above their size.
DISPLAY_SIZES = ((390, 219), (854, 480), (1280, 720), (1920, 1080), (2560, 1080), (3840, 2160))
# The share of heartbeats on which the player was resized (a full-screen toggle, a rotation).
RESIZE_SHARE = 0.01

HOUR_MS = 3_600_000
# A device clock that is off is off by at most this much, either way.
MAX_CLOCK_SKEW_MS = 10 * 60_000
FIELD_ORDER = (
    "event_id",
    "event_type",
    "ts",
    "session_id",
    "viewer_id",
    "video_id",
    "stream_type",
    "player_name",
    "player_version",
    "user_agent",
    "client_ip",
    "cdn",
)


@dataclass(frozen=True)
class Behaviour:
    """Shares of the player behaviours (per view unless said otherwise)."""

    exit_before_start: float = 0.05
    fail_before_start: float = 0.03
    preroll_ad: float = 0.10
    pause_before_start: float = 0.02
    seek_before_start: float = 0.02
    stall_before_start: float = 0.02
    lost_start: float = 0.03  # the opening playback_request is never sent
    tie_session: float = 0.02  # share of sessions with deliberate ts ties
    extra_views: float = 0.15  # chance, per view, that the session goes on with another view
    # per ~10 s of playback
    stall: float = 0.03
    pause: float = 0.02
    seek: float = 0.015
    switch: float = 0.035
    midroll_ad: float = 0.01
    ad_failure: float = 0.1  # per ad break: an ad fails inside it (the view goes on)
    silent_gap: float = 0.006


@dataclass(frozen=True)
class FaultyPop:
    """One POP of one CDN that serves slowly and fails: its requests' time to first byte is
    ``slow_ttfb_ms`` and more, a ``error_share`` of them end in 5xx, and the players it serves
    stall ``stall_factor`` times as often (the stalls the slow segments cause)."""

    cdn: str = "fastly"
    pop: str = "FRA"
    slow_ttfb_ms: int = 400
    error_share: float = 0.2
    stall_factor: float = 8.0

    @classmethod
    def parse(cls, text: str) -> FaultyPop:
        """``CDN/POP`` (e.g. ``fastly/FRA``), a POP of :data:`POPS`."""
        cdn, _, pop = text.partition("/")
        if pop not in POPS.get(cdn, ()):
            known = ", ".join(f"{c}/{p}" for c, pops in POPS.items() for p in pops)
            raise ValueError(f"no POP {text!r}: give CDN/POP, one of {known}")
        return cls(cdn=cdn, pop=pop)

    def serves(self, cdn: str, pop: str) -> bool:
        return (cdn, pop) == (self.cdn, self.pop)


def serving_pop(seed: int, session_id: str, cdn: str) -> str:
    """The POP of ``cdn`` that serves the session: the model (its stalls) and the CDN log
    (:mod:`vsa.simulate.cdn`) agree on it without sharing a random stream."""
    return random.Random(f"{seed}/pop/{session_id}").choice(POPS[cdn])


def cmcd_sid(seed: int, session_id: str, share: float) -> str | None:
    """The CMCD session id of a player whose sid differs from its analytics ``session_id``
    (a ``share`` of the sessions; it sends it as the event field ``cmcd_sid``), else None."""
    rng = random.Random(f"{seed}/cmcd-sid/{session_id}")
    return f"cmcd-{rng.getrandbits(64):016x}" if rng.random() < share else None


@dataclass(frozen=True)
class Population:
    viewers: int
    videos: int
    seed: int

    def viewer(self, n: int) -> dict:
        rng = random.Random(f"{self.seed}/viewer/{n}")
        player, version = rng.choice(PLAYERS)
        return {
            "viewer_id": f"viewer-{n}",
            "player_name": player,
            "player_version": version,
            "user_agent": USER_AGENTS[n % len(USER_AGENTS)],
            "client_ip": client_ip(rng),
        }

    def stream_type(self, video: int) -> str:
        return "live" if video % 4 == 3 else "vod"


def clock_skew(seed: int, session_id: str, share: float) -> int:
    """How far the device clock of a session runs ahead (negative: behind), in ms: for a
    ``share`` of the sessions, up to :data:`MAX_CLOCK_SKEW_MS` either way; else 0."""
    rng = random.Random(f"{seed}/clock/{session_id}")
    if rng.random() >= share:
        return 0
    return rng.choice((-1, 1)) * rng.randint(1_000, MAX_CLOCK_SKEW_MS)


class _Session:
    """Emits the events of one session; ``t`` is the true time, ``t + skew`` the device's."""

    def __init__(
        self, rng: random.Random, session_id: str, common: dict, ties: bool, skew: int = 0
    ) -> None:
        self.skew = skew
        self.rng = rng
        self.session_id = session_id
        self.common = common
        self.ties = ties
        self.video = 0
        self.stream_type = "vod"
        self.t = 0
        self.last_ts: int | None = None
        self.drop_next = False
        self.events: list[dict] = []
        # The display size and the ad failures draw from streams of their own, so the other
        # draws stay as they were.
        self.display_rng = random.Random(f"{session_id}/display")
        self.ad_rng = random.Random(f"{session_id}/ads")
        self.display = self.display_rng.choice(DISPLAY_SIZES)

    def display_fields(self) -> dict:
        width, height = self.display
        return {"player_width": width, "player_height": height}

    def resized(self) -> dict:
        """The display size fields when the player was resized just now, else none."""
        if self.display_rng.random() >= RESIZE_SHARE:
            return {}
        self.display = self.display_rng.choice(DISPLAY_SIZES)
        return self.display_fields()

    def emit(self, event_type: str, **fields: object) -> None:
        ts = self.t
        if self.last_ts is not None:
            if self.ties and self.rng.random() < 0.15:
                ts = self.last_ts
            else:
                ts = max(ts, self.last_ts + 1)
        self.t = ts
        self.last_ts = ts
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if self.drop_next:  # a lost start: the event happened, it never reached us
            self.drop_next = False
            return
        event = {
            "event_id": event_id,
            "event_type": event_type,
            "ts": ts + self.skew,
            "session_id": self.session_id,
            "viewer_id": self.common["viewer_id"],
            "video_id": f"video-{self.video}",
            "stream_type": self.stream_type,
            **{k: self.common[k] for k in FIELD_ORDER[7:]},
            **({"cmcd_sid": self.common["cmcd_sid"]} if self.common.get("cmcd_sid") else {}),
            **fields,
            "received_at": ts,
        }
        self.events.append(event)

    def wait(self, low_ms: int, high_ms: int) -> None:
        self.t += self.rng.randint(low_ms, high_ms)

    def heartbeats_for(self, duration_ms: int, playhead: int | None) -> None:
        """Heartbeats about every 10 s over ``duration_ms``."""
        end = self.t + duration_ms
        while True:
            step = self.rng.randint(9_000, 11_000)
            if self.t + step >= end:
                break
            self.t += step
            self.emit("heartbeat", playhead_ms=playhead if playhead is not None else 0)
        self.t = end

    def ad_break(self, duration_ms: int, playhead: int | None, failure: float) -> None:
        """An ad break of ``duration_ms`` with heartbeats; with chance ``failure`` an ad fails
        halfway through it (the player goes on with the break)."""
        self.emit("ad_break_start")
        if self.ad_rng.random() < failure:
            self.heartbeats_for(duration_ms // 2, playhead)
            self.emit("playback_fail", error_code="AD_ERROR", error_message="ad creative failed")
            self.heartbeats_for(duration_ms - duration_ms // 2, playhead)
        else:
            self.heartbeats_for(duration_ms, playhead)
        self.emit("ad_break_end")

    def rendition(self) -> None:
        bitrate = self.rng.choice(BITRATES_KBPS)
        height = {800: 360, 1600: 540, 3000: 720, 4500: 1080, 6000: 1080}[bitrate]
        self.emit(
            "rendition_update",
            bitrate_kbps=bitrate,
            video_width=height * 16 // 9,
            video_height=height,
        )


def session_events(
    rng: random.Random,
    session_id: str,
    begin_ms: int,
    population: Population,
    behaviour: Behaviour,
    view_timeout_ms: int,
    sid: str | None = None,
    faulty_pop: FaultyPop | None = None,
    skew_ms: int = 0,
) -> list[dict]:
    """The events of one session, in the order the player sends them; with ``sid`` (a CMCD
    session id other than ``session_id``) every event carries it as ``cmcd_sid``. A session
    that ``faulty_pop`` serves stalls more often. ``skew_ms``: how far the device clock (its
    ``ts``) runs ahead of the true time (``received_at``)."""
    viewer = rng.randrange(population.viewers)
    common = {**population.viewer(viewer), "cdn": rng.choice(CDNS), "cmcd_sid": sid}
    if faulty_pop is not None and (
        serving_pop(population.seed, session_id, faulty_pop.cdn) == faulty_pop.pop
    ):
        behaviour = replace(behaviour, stall=behaviour.stall * faulty_pop.stall_factor)
    s = _Session(rng, session_id, common, ties=rng.random() < behaviour.tie_session, skew=skew_ms)
    s.t = begin_ms
    video = rng.randrange(population.videos)
    ending = None
    first = True
    while True:
        if first or ending != "new_video":
            # a view not opened by a new-video request: its opening request may be lost
            s.drop_next = rng.random() < behaviour.lost_start
        more = rng.random() < behaviour.extra_views
        s.video = video
        s.stream_type = population.stream_type(video)
        ending = _view(s, behaviour, more)
        first = False
        if not more:
            break
        if ending == "silent":
            # the player comes back after the view timed out: same video or another one
            s.t += view_timeout_ms + rng.randint(1_000, 20 * 60_000)
            if rng.random() < 0.5:
                video = rng.randrange(population.videos)
        else:
            others = max(1, population.videos - 1)
            video = (video + 1 + rng.randrange(others)) % population.videos
            s.wait(300, 5_000)
    return s.events


def _view(s: _Session, b: Behaviour, more: bool) -> str:
    """One view from its request to its ending; returns how it ended."""
    rng = s.rng
    live = s.stream_type == "live"
    s.emit("playback_request", **s.display_fields())
    roll = rng.random()
    if roll < b.exit_before_start:
        s.wait(300, 8_000)
        if rng.random() < 0.8:
            s.emit("view_end")
            return "close"
        return "silent"
    if rng.random() < b.preroll_ad:
        s.wait(100, 800)
        s.ad_break(rng.randint(15_000, 35_000), None, b.ad_failure)
    if rng.random() < b.stall_before_start:
        s.wait(200, 1_500)
        s.emit("playback_stall")
    if rng.random() < b.pause_before_start:
        s.wait(200, 1_500)
        s.emit("playback_pause")
        s.wait(2_000, 20_000)
        s.emit("playback_request")
    if rng.random() < b.seek_before_start:
        s.wait(200, 1_500)
        s.emit("seek_start")
        s.wait(200, 2_000)
        s.emit("seek_end")
    s.t += int(rng.lognormvariate(6.9, 0.7))  # start-up, median about 1 s
    if roll < b.exit_before_start + b.fail_before_start:
        s.emit("playback_fail", error_code="MEDIA_ERR_SRC_NOT_SUPPORTED", error_message="no source")
        return "fail"
    s.rendition()
    s.wait(1, 30)
    s.emit("playback_start")
    # how long the viewer watches: a few long views, many short ones
    if live:
        duration = int(min(rng.lognormvariate(12.0, 0.9), 45 * 60_000))
    else:
        duration = int(min(rng.lognormvariate(11.4, 0.8), 25 * 60_000))
    end = s.t + max(duration, 5_000)
    playhead = 0
    while s.t < end:
        step = rng.randint(9_000, 11_000)
        s.t += step
        playhead += step
        s.emit("heartbeat", playhead_ms=playhead, **s.resized())
        roll = rng.random()
        if roll < b.stall:
            s.wait(50, 900)
            s.emit("playback_stall")
            # mostly short; a few longer than the gap cap
            if rng.random() < 0.9:
                s.wait(300, 8_000)
            else:
                s.wait(31_000, 50_000)
            s.emit("playback_start")
        elif (roll := roll - b.stall) < b.pause:
            s.wait(100, 900)
            s.emit("playback_pause")
            if rng.random() < 0.7:  # heartbeats go on while paused
                s.heartbeats_for(rng.randint(2_000, 90_000), playhead)
            else:  # a silent pause, longer than the gap cap, shorter than the timeout
                s.wait(35_000, 5 * 60_000)
            s.emit("playback_request")
            s.wait(50, 2_000)
            s.emit("playback_start")
        elif (roll := roll - b.pause) < b.seek:
            s.wait(100, 900)
            s.emit("seek_start")
            s.wait(150, 3_000)
            playhead = max(0, playhead + rng.randint(-120_000, 300_000))
            s.emit("seek_end")
            if rng.random() < 0.5:
                s.wait(10, 500)
                s.emit("playback_start")
        elif (roll := roll - b.seek) < b.switch:
            s.wait(10, 900)
            s.rendition()
        elif (roll := roll - b.switch) < b.midroll_ad:
            s.wait(10, 900)
            s.ad_break(rng.randint(15_000, 60_000), playhead, b.ad_failure)
        elif (roll := roll - b.midroll_ad) < b.silent_gap:
            s.wait(31_000, 4 * 60_000)  # the network drops out; the player keeps playing
    s.wait(100, 3_000)
    roll = rng.random()
    if roll < 0.04:
        s.emit("playback_fail", error_code="NETWORK_ERROR", error_message="segment 404")
        return "fail"
    if roll < 0.13:
        return "silent"  # the player goes quiet: the view times out
    if more and roll < 0.5:
        return "new_video"  # the next view's request ends this one
    if not live and roll < 0.75:
        s.emit("playback_finish")
        return "finish"
    s.emit("view_end")
    return "close"


def hour_edge(start_ms: int) -> int:
    """The first hour boundary at least a minute after ``start_ms``."""
    return (start_ms + 60_000 + HOUR_MS - 1) // HOUR_MS * HOUR_MS
