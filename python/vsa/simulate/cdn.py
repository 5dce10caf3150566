"""CDN access logs matching simulated sessions, and the ``cdn_qos_minute`` they must give.

:func:`cdn_requests` turns a simulation's player events into the requests their players made:
a manifest at each ``playback_request``, then a video segment (and now and then an audio one)
at each later event of the view, with CMCD (session id, bitrate, buffer, throughput, startup,
and ``bs`` after a stall) for the sessions whose player sends it. Only valid events count: a
malformed record is a beacon sent wrong, not a request made. :func:`log_line` writes a
request in any of the six formats. :func:`qos_truth` is an independent plain-Python
computation of ``cdn_qos_minute`` (kpis.md, "CDN quality of service") over the requests.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from vsa.simulate.faults import decode_objects
from vsa.simulate.model import POPS, FaultyPop, serving_pop
from vsa.simulate.truth import parse

__all__ = ["POPS", "Request", "cdn_requests", "log_line", "log_lines", "qos_truth"]

CMCD_SHARE = 0.7  # sessions whose player sends CMCD (all that report a cmcd_sid do)
# Of the other CMCD sessions: players whose sid differs from session_id and who do not
# report it (their requests name a session nobody knows).
UNREPORTED_SID_SHARE = 0.03
# CMCD sessions whose player fetches one more segment after its last view closed.
AFTER_CLOSE_SHARE = 0.05
ENDS = ("view_end", "playback_fail", "playback_finish")  # the player fetches nothing more

CACHE_RESULTS = {  # vendor value → normalized
    "cloudfront": (("Hit", "HIT"), ("RefreshHit", "HIT"), ("Miss", "MISS"), ("Error", "OTHER")),
    "akamai": (("1", "HIT"), ("0", "MISS")),
    "fastly": (("HIT", "HIT"), ("MISS", "MISS"), ("PASS", "OTHER")),
    "edgecast": (("TCP_HIT", "HIT"), ("TCP_MISS", "MISS"), ("CONFIG_NOCACHE", "OTHER")),
    "nginx": (("HIT", "HIT"), ("MISS", "MISS"), ("BYPASS", "OTHER")),
}
VENDOR = {
    "cloudfront": "cloudfront",
    "cloudfront-realtime": "cloudfront",
    "akamai-ds2": "akamai",
    "edgecast": "edgecast",
    "fastly": "fastly",
    "nginx": "nginx",
}


@dataclass
class Request:
    """One request as the CDN saw it (times in ms; ``cache`` is the vendor's own value)."""

    ts_ms: int
    client_ip: str
    user_agent: str | None
    host: str
    path: str
    object_type: str  # manifest, video, audio
    status: int
    bytes: int
    ttfb_ms: int
    download_ms: int
    cache: str
    cache_status: str  # HIT, MISS, OTHER
    pop: str
    cmcd: dict[str, object] = field(default_factory=dict)

    def cmcd_text(self) -> str:
        """The CMCD dictionary (keys sorted, as CTA-5004 recommends)."""
        parts = []
        for key in sorted(self.cmcd):
            value = self.cmcd[key]
            if value is True:
                parts.append(key)
            elif isinstance(value, str) and key not in ("ot", "sf", "st"):
                parts.append(f'{key}="{value}"')
            else:
                parts.append(f"{key}={value}")
        return ",".join(parts)

    def query(self) -> str | None:
        return f"CMCD={quote(self.cmcd_text(), safe='')}" if self.cmcd else None

    def attribution_fields(self, cdn: str) -> dict:
        """This request as :func:`vsa.simulate.fusion_truth.fuse` takes it, logged by ``cdn``."""
        return {
            "ts": self.ts_ms,
            "sid": self.cmcd.get("sid"),
            "cdn": cdn,
            "pop": self.pop,
            "status": self.status,
            "bytes": self.bytes,
            "ttfb_ms": self.ttfb_ms,
            "download_ms": self.download_ms,
            "cache_status": self.cache_status,
            "bs": bool(self.cmcd.get("bs")),
        }


def cdn_requests(
    events: Iterable[dict], vendor: str, seed: int = 1, faulty_pop: FaultyPop | None = None
) -> list[Request]:
    """The requests behind the player events (dicts of the event model) of every session,
    served by ``vendor`` from the session's POP (:func:`vsa.simulate.model.serving_pop`);
    records the pipeline rejects as malformed add none.

    A request made at an event is timed before the session's next event, so it falls in the
    view of that event (docs/kpis.md, attribution); the few that fall outside any view come
    after the session's last view closed. ``faulty_pop``, when it is one of ``vendor``'s,
    answers slowly and with 5xx errors."""
    rng = random.Random(f"{seed}/cdn")
    by_session: dict[str, list[dict]] = {}
    for e in events:
        event = _valid(e)
        if event is not None and event.get("client_ip"):
            by_session.setdefault(event["session_id"], []).append(event)
    out = []
    for session_id in sorted(by_session):
        session = sorted(by_session[session_id], key=lambda e: e["ts"])
        sid = _cmcd_sid(rng, session_id, session)
        pop = serving_pop(seed, session_id, vendor)
        faulty = faulty_pop if faulty_pop is not None and faulty_pop.serves(vendor, pop) else None
        stalled = started = False
        bitrate = 800
        for n, e in enumerate(session):
            kind = e["event_type"]
            if kind == "playback_stall":
                stalled = True
            bitrate = e.get("bitrate_kbps") or bitrate
            last = n + 1 == len(session)
            latest = e["ts"] + 999 if last else max(e["ts"], session[n + 1]["ts"] - 1)
            if kind == "playback_request":
                made = [_request(rng, e, latest, vendor, pop, "manifest", "/live/master.m3u8", 0)]
                started = False
            elif kind in ENDS:
                if not (last and sid and rng.random() < AFTER_CLOSE_SHARE):
                    continue
                path = f"/live/{bitrate}k/seg_{n:05d}.m4s"
                after = {**e, "ts": e["ts"] + 1}  # a segment fetched after the view closed
                made = [_request(rng, after, latest, vendor, pop, "video", path, bitrate)]
            else:
                path = f"/live/{bitrate}k/seg_{n:05d}.m4s"
                made = [_request(rng, e, latest, vendor, pop, "video", path, bitrate)]
                if rng.random() < 0.3:
                    audio = f"/live/audio/seg_{n:05d}.aac"
                    made.append(_request(rng, e, latest, vendor, pop, "audio", audio, 128))
            for r in made:
                if faulty is not None:
                    _degrade(rng, r, faulty)
                if sid is None:
                    continue
                r.cmcd = {"sid": sid, "ot": {"manifest": "m", "audio": "a"}.get(r.object_type, "v")}
                if r.object_type != "manifest":
                    r.cmcd.update(
                        br=bitrate,
                        bl=rng.randrange(0, 300) * 100,
                        mtp=rng.randrange(5, 500) * 100,
                    )
                if not started:
                    r.cmcd["su"] = True
                    started = kind != "playback_request"
                if stalled and r.object_type != "manifest":
                    r.cmcd["bs"] = True
                    stalled = False
            out.extend(made)
    return out


def _cmcd_sid(rng: random.Random, session_id: str, session: list[dict]) -> str | None:
    """The sid the session's player puts in CMCD, or None when it sends no CMCD: the
    ``cmcd_sid`` its events report, else mostly ``session_id``, now and then one it never
    reported."""
    reported = next((e["cmcd_sid"] for e in session if e.get("cmcd_sid")), None)
    if reported is not None:
        return str(reported)
    if rng.random() >= CMCD_SHARE:
        return None
    if rng.random() < UNREPORTED_SID_SHARE:
        return f"unreported-{rng.getrandbits(48):012x}"
    return session_id


def _degrade(rng: random.Random, r: Request, fault: FaultyPop) -> None:
    """``r`` as the faulty POP serves it: slow to its first byte, and now and then a 5xx."""
    r.ttfb_ms = rng.randint(fault.slow_ttfb_ms, 5 * fault.slow_ttfb_ms)
    r.download_ms = r.ttfb_ms + rng.randint(0, 4000)
    if rng.random() < fault.error_share:
        r.status = rng.choice((500, 502, 503, 504))
        r.bytes = 0


def _valid(e: dict) -> dict | None:
    """``e`` as the pipeline accepts it (``ts`` in epoch ms, ``bitrate_kbps`` an int), or None
    when the pipeline rejects it as malformed (:func:`vsa.simulate.truth.parse`)."""
    # A request carries no event id, and events made for CDN logs alone (bench/cdn.py) lack it.
    event = parse(json.dumps({"event_id": "-", **e}))
    if event is not None and event.get("bitrate_kbps") is not None:
        event["bitrate_kbps"] = int(float(event["bitrate_kbps"]))  # whole, maybe as text
    return event


def _request(
    rng: random.Random,
    e: dict,
    latest: int,
    vendor: str,
    pop: str,
    kind: str,
    path: str,
    kbps: int,
) -> Request:
    """A request made at event ``e``, within a second of it and at ``latest`` ms."""
    size = 900 if kind == "manifest" else kbps * 4000 // 8 + rng.randrange(1000)
    status = rng.choices((200, 206, 304, 403, 404, 500, 503), (80, 6, 4, 2, 4, 2, 2))[0]
    cache, normalized = rng.choice(CACHE_RESULTS[vendor])
    ttfb = rng.randint(1, 120)
    return Request(
        ts_ms=min(e["ts"] + rng.randint(0, 999), latest),
        client_ip=e["client_ip"],
        user_agent=e.get("user_agent"),
        host="video.example.com",
        path=path,
        object_type=kind,
        status=status,
        bytes=0 if status >= 300 else size,
        ttfb_ms=ttfb,
        download_ms=ttfb + rng.randint(0, 2000),
        cache=cache,
        cache_status=normalized,
        pop=pop,
    )


# --- one line per request, in each format -----------------------------------------------------

CLOUDFRONT_HEADER = (
    "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
    "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) "
    "x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken "
    "x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version "
    "fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type "
    "sc-content-type sc-content-len sc-range-start sc-range-end"
)


def log_line(r: Request, fmt: str) -> str:
    """``r`` as one line of ``fmt`` (CloudFront real-time: vsa's default field list)."""
    return _WRITERS[fmt](r)


def log_lines(
    records: Iterable[tuple[str | None, str]],
    fmt: str,
    seed: int = 1,
    faulty_pop: FaultyPop | None = None,
) -> list[str]:
    """The ``fmt`` log lines of the requests behind player ``records`` as sent (key, JSON
    text), served by ``fmt``'s vendor (:func:`cdn_requests`)."""
    events = decode_objects(records)
    return [log_line(r, fmt) for r in cdn_requests(events, VENDOR[fmt], seed, faulty_pop)]


def _utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def _dash(v: object) -> str:
    return "-" if v is None or v == "" else str(v)


def _cloudfront(r: Request) -> str:
    t = _utc(r.ts_ms)
    ua = quote(r.user_agent, safe="/;:,()") if r.user_agent else None
    values = [t.strftime("%Y-%m-%d"), t.strftime("%H:%M:%S"), r.pop, r.bytes, r.client_ip]
    values += ["GET", r.host, r.path, r.status, None, ua, r.query(), None, r.cache]
    values += ["req-id", r.host, "https", 200, r.download_ms / 1000, None, "TLSv1.3"]
    values += ["TLS_AES_128_GCM_SHA256", r.cache, "HTTP/2.0", None, None, 50123]
    values += [r.ttfb_ms / 1000, r.cache, "video/mp4", r.bytes, None, None]
    return "\t".join(map(_dash, values))


def _cloudfront_realtime(r: Request) -> str:
    from vsa.normalize.cdn import CLOUDFRONT_REALTIME_FIELDS

    known = {
        "timestamp": f"{r.ts_ms / 1000:.3f}",
        "c-ip": r.client_ip,
        "time-to-first-byte": r.ttfb_ms / 1000,
        "sc-status": r.status,
        "sc-bytes": r.bytes,
        "cs-method": "GET",
        "cs-host": r.host,
        "cs-uri-stem": r.path,
        "x-edge-location": r.pop,
        "time-taken": r.download_ms / 1000,
        "cs-user-agent": quote(r.user_agent, safe="/;:,()") if r.user_agent else None,
        "x-edge-result-type": r.cache,
        "cmcd-session-id": r.cmcd.get("sid"),
        "cmcd-encoded-bitrate": r.cmcd.get("br"),
        "cmcd-buffer-length": r.cmcd.get("bl"),
        "cmcd-measured-throughput": r.cmcd.get("mtp"),
        "cmcd-object-type": r.cmcd.get("ot"),
        "cmcd-buffer-starvation": "true" if r.cmcd.get("bs") else None,
        "cmcd-startup": "true" if r.cmcd.get("su") else None,
    }
    return "\t".join(_dash(known.get(f)) for f in CLOUDFRONT_REALTIME_FIELDS)


def _akamai(r: Request) -> str:
    log = {
        "reqTimeSec": f"{r.ts_ms / 1000:.3f}",
        "cliIP": r.client_ip,
        "UA": quote(r.user_agent, safe="") if r.user_agent else None,
        "reqHost": r.host,
        "reqPath": r.path,
        "queryStr": r.query(),
        "statusCode": str(r.status),
        "bytes": str(r.bytes),
        "timeToFirstByte": str(r.ttfb_ms),
        "turnAroundTimeMSec": str(r.ttfb_ms),
        "transferTimeMSec": str(r.download_ms - r.ttfb_ms),
        "cacheStatus": r.cache,
        "serverCountry": r.pop,
    }
    return json.dumps({k: v for k, v in log.items() if v is not None})  # DS2 omits empty fields


def _edgecast(r: Request) -> str:
    q = r.query()
    return json.dumps(
        {
            "timestamp": r.ts_ms / 1000,
            "client_ip": r.client_ip,
            "user_agent": r.user_agent or "",
            "host": r.host,
            "path": r.path,
            "query": f"?{q}" if q else "",
            "status_code": r.status,
            "bytes_out": r.bytes,
            # Edgio RTLD: total_time is the whole request, prewrite_time the time to first byte.
            "total_time": r.download_ms / 1000,
            "prewrite_time": r.ttfb_ms / 1000,
            "cache_status": r.cache,
            "pop": r.pop,
        }
    )


def _fastly(r: Request) -> str:
    q = r.query()
    return json.dumps(
        {
            "timestamp": _utc(r.ts_ms).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "client_ip": r.client_ip,
            "user_agent": r.user_agent,
            "host": r.host,
            "url": r.path + (f"?{q}" if q else ""),
            "status": r.status,
            "bytes": r.bytes,
            "time_elapsed": r.download_ms * 1000,
            "time_to_first_byte": f"{r.ttfb_ms / 1000:.3f}",
            "fastly_info_state": r.cache,
            "pop": r.pop,
        }
    )


def _nginx(r: Request) -> str:
    t = _utc(r.ts_ms).strftime("%d/%b/%Y:%H:%M:%S +0000")
    q = r.query()
    target = r.path + (f"?{q}" if q else "")
    return (
        f'{r.client_ip} - - [{t}] "GET {target} HTTP/1.1" {r.status} {r.bytes} "-" '
        f'"{r.user_agent or "-"}" rt={r.download_ms / 1000:.3f} ut="{r.ttfb_ms / 1000:.3f}" '
        f"cs={r.cache}"
    )


_WRITERS: dict[str, Callable[[Request], str]] = {
    "cloudfront": _cloudfront,
    "cloudfront-realtime": _cloudfront_realtime,
    "akamai-ds2": _akamai,
    "edgecast": _edgecast,
    "fastly": _fastly,
    "nginx": _nginx,
}


# --- the truth ---------------------------------------------------------------------------------


def percentile(values: list[float], rank: float) -> float | None:
    """Linear interpolation between the closest ranks (as Spark's ``percentile``)."""
    if not values:
        return None
    v = sorted(values)
    pos = rank * (len(v) - 1)
    low, high = math.floor(pos), math.ceil(pos)
    return v[low] + (v[high] - v[low]) * (pos - low)


def qos_truth(
    requests: list[Request],
    cdn: str,
    country_of: Callable[[str], str | None],
    window_ms: int = 60_000,
    download_floor_ms: int = 0,
) -> dict[tuple, dict]:
    """``cdn_qos_minute`` rows keyed by (window_start_ms, cdn, pop, country, object_type).

    ``country_of`` maps a client address to its country (the GeoIP lookup is not what this
    checks). Times as the log carries them: CloudFront standard logs have whole seconds.
    """
    groups: dict[tuple, list[Request]] = {}
    for r in requests:
        window = r.ts_ms // window_ms * window_ms
        key = (window, cdn, r.pop or "unknown", country_of(r.client_ip) or "unknown", r.object_type)
        groups.setdefault(key, []).append(r)
    out = {}
    for key, rs in groups.items():
        hits = sum(r.cache_status == "HIT" for r in rs)
        misses = sum(r.cache_status == "MISS" for r in rs)
        cmcd = [r for r in rs if r.cmcd]
        out[key] = {
            "requests": len(rs),
            "bytes": sum(r.bytes for r in rs),
            "errors_4xx": sum(400 <= r.status < 500 for r in rs),
            "errors_5xx": sum(r.status >= 500 for r in rs),
            "error_pct": 100.0 * sum(r.status >= 400 for r in rs) / len(rs),
            "cache_hits": hits,
            "cache_misses": misses,
            "cache_hit_ratio": hits / (hits + misses) if hits + misses else None,
            "ttfb_p50_ms": percentile([r.ttfb_ms for r in rs], 0.5),
            "ttfb_p95_ms": percentile([r.ttfb_ms for r in rs], 0.95),
            "download_p50_ms": percentile([r.download_ms for r in rs], 0.5),
            "download_p95_ms": percentile([r.download_ms for r in rs], 0.95),
            "throughput_p50_kbps": percentile(
                [r.bytes * 8 / r.download_ms for r in rs if r.download_ms > 0], 0.5
            ),
            "cmcd_requests": len(cmcd),
            "buffer_starvation_rate": (
                sum(bool(r.cmcd.get("bs")) for r in cmcd) / len(cmcd) if cmcd else None
            ),
            "cmcd_mtp_p50_kbps": percentile([r.cmcd["mtp"] for r in cmcd if "mtp" in r.cmcd], 0.5),
            "cmcd_bl_p50_ms": percentile([r.cmcd["bl"] for r in cmcd if "bl" in r.cmcd], 0.5),
        }
    return out
