// The real player of tests/test_real_player.py: dash.js plays the manifest given in the query,
// with CMCD v2 on every segment request (query mode) and CMCD v2 event reports POSTed to the
// event targets given in the query. The page measures what a viewer saw from the <video>
// element's own events (not from dash.js) and publishes it as window.result; `done` turns true
// when the video ended or the player gave up.
//
// Query: mpd (manifest URL), target (a CMCD event target's URL; repeat it for several), sid
// (CMCD session id), cid (content id), batch (reports per POST, default 1), interval (seconds
// between e=t heartbeats, default 5).
'use strict';

const query = new URLSearchParams(location.search);
const video = document.getElementById('video');

// Keys of the CMCD v2 request (segment query) and event reports: those vsa reads, plus the
// ones that describe the request for the CDN's side.
const REQUEST_KEYS = ['bl', 'br', 'bs', 'cid', 'd', 'dl', 'ec', 'msd', 'mtp', 'nor', 'ot', 'pr',
  'pt', 'sf', 'sid', 'sn', 'st', 'sta', 'su', 'tb', 'v'];
const EVENT_KEYS = ['bl', 'br', 'bs', 'cid', 'e', 'ec', 'msd', 'mtp', 'pr', 'pt', 'sf', 'sid',
  'sn', 'st', 'sta', 'su', 'tb', 'ts', 'v'];

const result = {
  done: false,
  dashjs: dashjs.Version || null,
  sid: query.get('sid'),
  cid: query.get('cid'),
  // Wall-clock epoch milliseconds (the clock CMCD's ts and nginx's log use), and durations
  // in milliseconds measured on the page's monotonic clock.
  intent_epoch_ms: null,
  first_playing_epoch_ms: null,
  startup_ms: null,
  watch_ms: 0,
  played_s: 0,
  stalls: [],
  errors: [],
  ended: false,
  gave_up: false,
  gave_up_position_s: null,
  end_epoch_ms: null,
  events: [],
};
window.result = result;

let intentAt = null;      // performance.now() of the play intent
let playingSince = null;  // performance.now() while the video plays
let stallSince = null;    // the open stall: {at, epoch, position}

function epochAt(now) {
  return Math.round(performance.timeOrigin + now);
}

function stopWatching(now) {
  if (playingSince !== null) {
    result.watch_ms += now - playingSince;
    playingSince = null;
  }
}

function playedSeconds() {
  let total = 0;
  for (let i = 0; i < video.played.length; i++) total += video.played.end(i) - video.played.start(i);
  return total;
}

// The figures are final at `now`; `done` follows a moment later, once dash.js's own handlers of
// the same video event have sent their reports (the test closes the page when `done`).
let finished = false;
function finish(now, then = () => {}) {
  if (finished) return;
  finished = true;
  stopWatching(now);
  // A stall still open is where the player gave up: the failure, not a stall.
  stallSince = null;
  result.watch_ms = Math.round(result.watch_ms);
  result.played_s = playedSeconds();
  result.end_epoch_ms = epochAt(now);
  setTimeout(() => {
    then();
    result.done = true;
  }, 500);
}

function record(type, now) {
  result.events.push({type, epoch_ms: epochAt(now), position_s: video.currentTime});
}

video.addEventListener('playing', () => {
  const now = performance.now();
  record('playing', now);
  if (result.startup_ms === null) {
    result.startup_ms = Math.round(now - intentAt);
    result.first_playing_epoch_ms = epochAt(now);
  }
  if (stallSince !== null) {
    result.stalls.push({
      start_epoch_ms: stallSince.epoch, duration_ms: Math.round(now - stallSince.at),
      position_s: stallSince.position, ended_by: 'playing',
    });
    stallSince = null;
  }
  playingSince = now;
});

// The app's policy, as a viewer sees it: once dash.js reported an error (a segment it could
// not get after its retries) and the video has run dry, the player gives up. dash.js itself
// would go on asking for the next segments.
function giveUp(now) {
  result.gave_up = true;
  result.gave_up_position_s = video.currentTime;
  record('give-up', now);
  // The app tears the player down, after dash.js reported the video's last state (rebuffering).
  finish(now, () => player.reset());
}

video.addEventListener('waiting', () => {
  const now = performance.now();
  record('waiting', now);
  if (result.errors.length) {
    giveUp(now);
    return;
  }
  // A 'waiting' before the first frame is startup, not a stall.
  if (result.startup_ms !== null && stallSince === null) {
    stallSince = {at: now, epoch: epochAt(now), position: video.currentTime};
  }
  stopWatching(now);
});

video.addEventListener('pause', () => {
  const now = performance.now();
  record('pause', now);
  stopWatching(now);
});

video.addEventListener('ended', () => {
  const now = performance.now();
  record('ended', now);
  result.ended = true;
  finish(now);
});

video.addEventListener('error', () => {
  const now = performance.now();
  const error = video.error;
  record('error', now);
  result.errors.push({source: 'video', code: error ? error.code : null,
    message: error ? error.message : '', epoch_ms: epochAt(now)});
  finish(now);
});

const player = dashjs.MediaPlayer().create();
player.updateSettings({
  debug: {logLevel: dashjs.Debug.LOG_LEVEL_WARNING},
  streaming: {
    cmcd: {
      enabled: true,
      version: 2,
      mode: 'query',
      sid: result.sid,
      cid: result.cid,
      enabledKeys: REQUEST_KEYS,
      includeInRequests: ['segment', 'mpd'],
      eventTargets: query.getAll('target').map((url) => ({
        enabled: true,
        url,
        events: ['ps', 'e', 't', 'bc'],
        enabledKeys: EVENT_KEYS,
        batchSize: Number(query.get('batch') || 1),
        interval: Number(query.get('interval') || 5),
      })),
    },
  },
});

// dash.js's own errors (a segment that cannot be had after its retries, ...): the player gives
// up on the first one, as a viewer would see it.
player.on(dashjs.MediaPlayer.events.ERROR, (event) => {
  const now = performance.now();
  const error = event.error || {};
  record('dashjs-error', now);
  result.errors.push({source: 'dashjs', code: error.code ?? null,
    message: String(error.message || ''), epoch_ms: epochAt(now)});
  if (!finished && result.startup_ms !== null && stallSince !== null) giveUp(now);
});

intentAt = performance.now();
result.intent_epoch_ms = epochAt(intentAt);
player.initialize(video, query.get('mpd'), true);
