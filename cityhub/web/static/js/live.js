// Live video in the browser: one WebSocket per page (LiveSocket), one MediaSource per tile
// (Player). The protocol is the hub's /api/live: JSON "watch"/"unwatch" ops per channel;
// binary messages are a 2-byte channel then an fMP4 chunk (init segment, the cached GOP from
// its keyframe, then one fragment per frame).

import { getJson } from "./api.js";

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

/** The page's one live WebSocket, shared by every tile; reconnects with backoff. */
export class LiveSocket {
  constructor() {
    this.handlers = new Map(); // channel -> Player
    this.wanted = new Map(); // channel -> watch message, sent again after a reconnect
    this.ws = null;
    this.delay = RECONNECT_MIN_MS;
    this.timer = null;
    this.closed = false;
  }

  /** Watch ``camera`` (``profile`` or its first stream) on ``channel``; ``player`` gets it. */
  watch(channel, camera, profile, player) {
    const message = { op: "watch", channel, camera };
    if (profile) message.profile = profile;
    this.handlers.set(channel, player);
    this.wanted.set(channel, message);
    this.send(message);
  }

  /** Stop the stream on ``channel``. */
  unwatch(channel) {
    this.handlers.delete(channel);
    if (this.wanted.delete(channel)) this.send({ op: "unwatch", channel });
  }

  send(message) {
    if (this.closed) return;
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
    } else {
      this.connect();
    }
  }

  connect() {
    if (this.closed || this.timer !== null) return;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/api/live`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.delay = RECONNECT_MIN_MS;
      for (const message of this.wanted.values()) ws.send(JSON.stringify(message));
    });
    ws.addEventListener("message", (event) => this.dispatch(event.data));
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.closed) return;
      for (const player of this.handlers.values()) player.disconnected();
      // A refused handshake looks like any close: ask the API whether the session ended
      // (a 401 there sends the page back to login).
      getJson("/api/auth/me").catch(() => {});
      this.timer = setTimeout(() => {
        this.timer = null;
        if (this.wanted.size) this.connect();
      }, this.delay);
      this.delay = Math.min(this.delay * 2, RECONNECT_MAX_MS);
    });
  }

  dispatch(data) {
    if (typeof data === "string") {
      let message;
      try {
        message = JSON.parse(data);
      } catch (err) {
        return;
      }
      const player = this.handlers.get(message.channel);
      if (player) player.message(message);
      return;
    }
    if (data.byteLength < 2) return;
    const channel = new DataView(data).getUint16(0);
    const player = this.handlers.get(channel);
    if (player) player.chunk(new Uint8Array(data, 2));
  }

  /** Close for good (logout). */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.handlers.clear();
    this.wanted.clear();
    if (this.ws) this.ws.close();
    this.ws = null;
  }
}

// Latency control: Chromium never catches up with the live edge by itself.
const CATCH_UP_ABOVE_S = 0.1; // play faster when further than this behind the buffered end
const CAUGHT_UP_BELOW_S = 0.05; // back to normal speed below this
const SEEK_ABOVE_S = 1.5; // jump to the live edge when further behind than this
const CATCH_UP_RATE = 1.1;
const LIVE_EDGE_S = 0.02; // where a seek to the live edge lands, before the buffered end
const KEEP_BEHIND_S = 4; // buffered seconds kept behind the playhead
const TRIM_ABOVE_S = 8; // trim once this much is buffered behind the playhead
const STALL_MS = 6000; // no chunk for this long while live: the stream is dead, watch again
const CONTROL_MS = 250;

/**
 * One tile's player: feeds the chunks of its channel into a MediaSource and keeps the
 * <video> near the live edge. ``onStatus(kind, detail)`` tells the tile what happens:
 * "playing", "ended", "refused" (detail: the hub's error), "failed", "disconnected".
 */
export class Player {
  constructor(video, onStatus) {
    this.video = video;
    this.onStatus = onStatus;
    this.socket = null;
    this.channel = null;
    this.session = null;
    this.timer = null;
    this.firstFrameAt = null;
    video.muted = true;
    video.playsInline = true;
    video.addEventListener("playing", () => this.session && this.onStatus("playing"));
    video.addEventListener("error", () => this.session && this.fail("the video decoder failed"));
  }

  /** Start watching ``camera``/``profile`` on ``channel`` of ``socket``. */
  start(socket, channel, camera, profile) {
    this.stop();
    this.socket = socket;
    this.channel = channel;
    socket.watch(channel, camera, profile, this);
    this.timer = setInterval(() => this.control(), CONTROL_MS);
  }

  /** Stop watching and release the MediaSource. */
  stop() {
    if (this.socket !== null && this.channel !== null) this.socket.unwatch(this.channel);
    this.socket = null;
    this.channel = null;
    clearInterval(this.timer);
    this.timer = null;
    this.reset();
  }

  reset() {
    const session = this.session;
    this.session = null;
    if (!session) return;
    if (session.mediaSource.readyState === "open") {
      try {
        session.mediaSource.endOfStream();
      } catch (err) {
        // already closing
      }
    }
    this.video.removeAttribute("src");
    this.video.load();
  }

  /** A JSON message of the channel. */
  message(message) {
    if (message.type === "init") {
      this.reset();
      this.open(message);
    } else if (message.type === "ended") {
      this.reset();
      this.onStatus("ended", message);
    } else if (message.type === "error") {
      this.reset();
      this.onStatus("refused", message);
    }
  }

  /** The socket closed; it will send the watch again when it reconnects. */
  disconnected() {
    this.reset();
    this.onStatus("disconnected");
  }

  open(init) {
    if (!("MediaSource" in window) || !MediaSource.isTypeSupported(init.mime)) {
      this.onStatus("refused", {
        error: "unsupported",
        message: `this browser cannot play ${init.mime}`,
      });
      return;
    }
    const mediaSource = new MediaSource();
    const session = {
      mediaSource,
      buffer: null,
      queue: [],
      appending: false,
      appended: 0, // chunks appended, the init segment included
      cached: init.cached,
      live: false,
      lastChunk: performance.now(),
    };
    this.session = session;
    mediaSource.addEventListener(
      "sourceopen",
      () => {
        if (this.session !== session) return;
        URL.revokeObjectURL(this.video.src);
        try {
          session.buffer = mediaSource.addSourceBuffer(init.mime);
          session.buffer.mode = "segments";
        } catch (err) {
          this.fail(`cannot open the stream: ${err.message}`);
          return;
        }
        session.buffer.addEventListener("updateend", () => this.updated(session));
        session.buffer.addEventListener("error", () => {
          if (this.session === session) this.fail("the stream could not be decoded");
        });
        this.pump(session);
      },
      { once: true },
    );
    this.video.src = URL.createObjectURL(mediaSource);
  }

  /** A binary chunk of the channel. */
  chunk(bytes) {
    const session = this.session;
    if (!session) return;
    session.queue.push(bytes);
    session.lastChunk = performance.now();
    this.pump(session);
  }

  pump(session) {
    const buffer = session.buffer;
    if (!buffer || buffer.updating || session.queue.length === 0) return;
    const bytes = session.queue.shift();
    try {
      session.appending = true;
      buffer.appendBuffer(bytes);
    } catch (err) {
      session.appending = false;
      if (err.name === "QuotaExceededError") {
        session.queue.unshift(bytes);
        if (!this.trim(session, 0.5)) this.fail("the browser's video buffer is full");
      } else {
        this.fail(`cannot append video: ${err.message}`);
      }
    }
  }

  updated(session) {
    if (this.session !== session) return;
    if (session.appending) {
      session.appending = false;
      session.appended += 1;
      if (!session.live && session.appended >= 1 + Math.max(session.cached, 1)) {
        this.goLive(session);
      }
    }
    this.pump(session);
  }

  goLive(session) {
    const buffered = this.video.buffered;
    if (!buffered.length) return; // wait for the next fragment
    session.live = true;
    this.video.currentTime = Math.max(buffered.start(buffered.length - 1),
      buffered.end(buffered.length - 1) - LIVE_EDGE_S);
    const playing = this.video.play();
    if (playing) playing.catch(() => {});
  }

  /** Remove what lies more than ``keep`` seconds behind the playhead; true if it could. */
  trim(session, keep) {
    const buffer = session.buffer;
    const buffered = this.video.buffered;
    if (!buffer || buffer.updating || !buffered.length) return false;
    const until = this.video.currentTime - keep;
    if (until <= buffered.start(0)) return false;
    buffer.remove(buffered.start(0), until);
    return true;
  }

  control() {
    const session = this.session;
    const video = this.video;
    if (!session) return;
    if (session.live && performance.now() - session.lastChunk > STALL_MS) {
      this.fail("no video for several seconds");
      return;
    }
    if (!session.live) return;
    const buffered = video.buffered;
    if (!buffered.length) return;
    const last = buffered.length - 1;
    const end = buffered.end(last);
    const lag = end - video.currentTime;
    if (lag > SEEK_ABOVE_S || video.currentTime < buffered.start(last)) {
      // far behind, or left in an older range after the hub skipped to a keyframe
      video.currentTime = Math.max(buffered.start(last), end - LIVE_EDGE_S);
      video.playbackRate = 1;
    } else if (lag > CATCH_UP_ABOVE_S) {
      video.playbackRate = CATCH_UP_RATE;
    } else if (lag < CAUGHT_UP_BELOW_S) {
      video.playbackRate = 1;
    }
    if (video.paused) {
      const playing = video.play();
      if (playing) playing.catch(() => {});
    }
    if (video.currentTime - buffered.start(0) > TRIM_ABOVE_S) this.trim(session, KEEP_BEHIND_S);
  }

  fail(reason) {
    this.reset();
    this.onStatus("failed", { message: reason });
  }
}
