// wavewire browser client: microphone -> 16 kHz s16le over WebSocket /ws -> bot -> speakers.
// /ws speaks RTVI in its text messages: conversation.js shows the conversation, page.js
// the log, hint, meters and other transcripts; this file runs the audio and the socket.
//
// Query parameters of the page:
//   token=T       passed on to /ws as ?token=T
//   autostart=1   start without waiting for the Start button (needs autoplay permission)
//   aec=0         turn off the browser's echo cancellation / noise suppression / AGC
//   jitter=MS     playback jitter buffer depth (default 80 ms)
//   selftest=1    keep the first seconds of what was sent and played, for automated tests
//                 (read back with `await wavewire.dump()`; nothing is sent anywhere)
"use strict";

(() => {
  const WIRE_RATE = 16000;
  const FRAME_SAMPLES = 320; // 20 ms
  const MAX_BACKLOG_BYTES = 32000; // 1 s of audio waiting in the socket: drop instead
  const params = new URLSearchParams(location.search);
  const selftest = params.get("selftest") === "1";
  const recordSeconds = selftest ? Number(params.get("record") || 12) : 0;
  const jitterMs = clampNumber(params.get("jitter"), 20, 1000, 80);

  const $ = (id) => document.getElementById(id);
  const ui = {
    state: $("state"),
    start: $("start"),
    reconnect: $("reconnect"),
    processing: $("processing"),
    hint: $("hint"),
    inLevel: $("in-level"),
    inDb: $("in-db"),
    outLevel: $("out-level"),
    outDb: $("out-db"),
    stats: $("stats"),
    transcript: $("transcript"),
    log: $("log"),
    botState: $("bot-state"),
    latency: $("latency"),
    mute: $("mute"),
  };
  let muted = false;
  const page = window.createPage(ui, { selftest });
  const { log, setHint } = page;
  const conversation = window.createConversation(ui, {
    log: (text, cls) => log(text, cls),
    clearPlayback: () => audio && audio.player && audio.player.port.postMessage({ type: "clear" }),
  });

  let audio = null; // {ctx, stream, capture, player}
  let ws = null;
  let running = false;
  let state = "idle";
  const stats = {
    sentFrames: 0,
    droppedFrames: 0,
    receivedBytes: 0,
    textMessages: 0,
    player: { rms: 0, peak: 0, depthMs: 0, underruns: 0, droppedMs: 0, playedMs: 0, receivedMs: 0 },
  };
  const levels = { in: 0, out: 0 };
  const pendingDumps = new Map(); // "capture" | "player" -> resolve

  if (params.get("aec") === "0" || selftest) ui.processing.checked = false;

  function clampNumber(text, lo, hi, fallback) {
    const v = Number(text);
    return text !== null && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback;
  }

  // ---- connection state -------------------------------------------------------------

  function setState(name, detail) {
    state = name;
    ui.state.className = "state " + name;
    ui.state.textContent = detail ? `${name} (${detail})` : name;
    ui.reconnect.hidden = !(running && (name === "closed" || name === "error"));
  }

  function wsUrl() {
    const url = new URL("/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const token = params.get("token");
    if (token) url.searchParams.set("token", token);
    return url;
  }

  function connect() {
    if (ws) {
      ws.onclose = null;
      ws.close(1000);
      ws = null;
    }
    setState("connecting");
    const url = wsUrl();
    const shown = new URL(url);
    if (shown.searchParams.has("token")) shown.searchParams.set("token", "***");
    log(`connecting to ${shown}`);
    const sock = new WebSocket(url);
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.onopen = () => {
      if (ws !== sock) return;
      setState("connected");
      log("connected");
      sock.send(JSON.stringify(conversation.ready()));
    };
    sock.onmessage = (e) => {
      if (ws !== sock) return;
      if (typeof e.data === "string") onText(e.data);
      else onAudio(e.data);
    };
    sock.onerror = () => {
      if (ws === sock) log("WebSocket error", "error");
    };
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      const why = e.code === 1000 ? "" : `code ${e.code}${e.reason ? ": " + e.reason : ""}`;
      setState("closed", why);
      log(`closed${why ? " (" + why + ")" : ""}`, e.code === 1000 ? "" : "error");
    };
  }

  // ---- audio --------------------------------------------------------------------------

  async function start() {
    if (running) return;
    running = true;
    ui.start.disabled = true;
    setHint("Starting…");
    try {
      const ctx = new AudioContext({ latencyHint: "interactive" });
      audio = { ctx, stream: null, capture: null, player: null };
      await ctx.audioWorklet.addModule("worklet.js");
      const processing = ui.processing.checked;
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          channelCount: 1,
          echoCancellation: processing,
          noiseSuppression: processing,
          autoGainControl: processing,
        },
      });
      audio.stream = stream;
      if (!running) return stop(); // Stop pressed while the permission prompt was up
      const capture = new AudioWorkletNode(ctx, "ww-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { rate: WIRE_RATE, frameSamples: FRAME_SAMPLES, record: recordSeconds },
      });
      const player = new AudioWorkletNode(ctx, "ww-playback", {
        numberOfInputs: 0,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { rate: WIRE_RATE, jitterMs, maxMs: jitterMs + 320, record: recordSeconds },
      });
      capture.port.onmessage = (e) => onCaptured(e.data);
      player.port.onmessage = (e) => onPlayer(e.data);
      ctx.createMediaStreamSource(stream).connect(capture);
      capture.connect(ctx.destination); // silent; keeps the capture node pulled
      player.connect(ctx.destination);
      audio.capture = capture;
      audio.player = player;
      log(`audio: context ${ctx.sampleRate} Hz, wire ${WIRE_RATE} Hz mono, jitter buffer ${jitterMs} ms`);
      await resumeAudio(ctx);
      ui.start.textContent = "Stop";
      ui.start.classList.add("stop");
      ui.start.disabled = false;
      connect();
    } catch (err) {
      const refused = err && (err.name === "NotAllowedError" || err.name === "SecurityError");
      const msg = refused
        ? "Microphone access was refused. Allow it in the browser and press Start again."
        : `Could not start audio: ${err && err.message ? err.message : err}`;
      log(msg, "error");
      stop();
      setHint(msg, true);
    }
  }

  async function resumeAudio(ctx) {
    if (ctx.state === "running") return setHint("");
    // Without a user gesture resume() waits for one; do not block on it.
    const resumed = await Promise.race([
      ctx.resume().then(() => true),
      new Promise((r) => setTimeout(() => r(false), 500)),
    ]);
    if (resumed || ctx.state === "running") return setHint("");
    setHint("The browser is holding audio back: click anywhere on the page to enable it.");
    const unlock = () => ctx.resume().then(() => setHint(""));
    document.addEventListener("click", unlock, { once: true });
  }

  function stop() {
    running = false;
    if (ws) {
      const sock = ws;
      ws = null;
      sock.onclose = null;
      sock.close(1000);
    }
    if (audio) {
      const { ctx, stream, capture, player } = audio;
      audio = null;
      if (capture) capture.port.postMessage({ type: "stop" });
      if (player) player.port.postMessage({ type: "stop" });
      if (stream) stream.getTracks().forEach((t) => t.stop());
      ctx.close().catch(() => {});
    }
    levels.in = levels.out = 0;
    ui.start.textContent = "Start";
    ui.start.classList.remove("stop");
    ui.start.disabled = false;
    setState("idle");
    setHint("");
  }

  function onCaptured(m) {
    if (m.type === "dump") return settleDump("capture", m);
    if (m.type !== "frame") return;
    const pcm = new Int16Array(m.pcm);
    let sumSq = 0;
    for (let i = 0; i < pcm.length; i++) sumSq += pcm[i] * pcm[i];
    const rms = Math.sqrt(sumSq / pcm.length) / 32768;
    levels.in = Math.max(levels.in * 0.8, rms);
    if (muted) return;
    conversation.micLevel(rms);
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > MAX_BACKLOG_BYTES) {
      stats.droppedFrames++;
      return;
    }
    ws.send(m.pcm);
    stats.sentFrames++;
  }

  function onAudio(buf) {
    stats.receivedBytes += buf.byteLength;
    conversation.audioArrived();
    if (!audio || !audio.player || buf.byteLength < 2) return;
    const even = buf.byteLength & 1 ? buf.slice(0, buf.byteLength - 1) : buf;
    audio.player.port.postMessage({ type: "pcm", pcm: even }, [even]);
  }

  function onPlayer(m) {
    if (m.type === "dump") return settleDump("player", m);
    if (m.type !== "stats") return;
    stats.player = m;
    levels.out = Math.max(levels.out * 0.8, m.rms);
  }

  // ---- text messages ------------------------------------------------------------------

  const CLEAR_TYPES = new Set(["clear", "interrupt", "interruption", "bot-interrupted"]);

  function onText(text) {
    stats.textMessages++;
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return log(`text: ${text}`);
    }
    const type = msg && typeof msg === "object" && typeof msg.type === "string" ? msg.type : "";
    if (msg && msg.label === "rtvi-ai") {
      conversation.handle(msg);
      return;
    }
    if (CLEAR_TYPES.has(type)) {
      if (audio && audio.player) audio.player.port.postMessage({ type: "clear" });
      return log(`${type}: playback cleared`);
    }
    const t = page.transcriptOf(msg, type);
    if (t) return page.showTranscript(t);
    log(text.length > 500 ? text.slice(0, 500) + "…" : text);
  }

  // ---- self-test hook (see the header) ----------------------------------------------------

  function settleDump(which, m) {
    const resolve = pendingDumps.get(which);
    pendingDumps.delete(which);
    if (resolve) resolve(m);
  }

  function askDump(which, node) {
    return new Promise((resolve, reject) => {
      pendingDumps.set(which, resolve);
      node.port.postMessage({ type: "dump" });
      setTimeout(() => reject(new Error(`no ${which} recording`)), 3000);
    });
  }

  function base64(buffer) {
    const bytes = new Uint8Array(buffer);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  window.wavewire = {
    status() {
      return {
        state,
        running,
        audio: audio ? audio.ctx.state : "none",
        contextRate: audio ? audio.ctx.sampleRate : 0,
        sentFrames: stats.sentFrames,
        droppedFrames: stats.droppedFrames,
        receivedBytes: stats.receivedBytes,
        textMessages: stats.textMessages,
        player: stats.player,
        muted,
        ...conversation.status(),
      };
    },
    async dump() {
      if (!selftest || !audio || !audio.capture) throw new Error("start with ?selftest=1");
      const [mic, play] = await Promise.all([
        askDump("capture", audio.capture),
        askDump("player", audio.player),
      ]);
      const side = (d) => ({ rate: d.rate, startFrame: d.startFrame, pcm: base64(d.samples) });
      return { contextRate: audio.ctx.sampleRate, mic: side(mic), play: side(play), ...this.status() };
    },
  };

  // ---- wiring ---------------------------------------------------------------------------

  ui.start.addEventListener("click", () => (running ? stop() : start()));
  ui.reconnect.addEventListener("click", () => running && connect());
  ui.mute.addEventListener("click", () => {
    muted = !muted;
    ui.mute.setAttribute("aria-pressed", String(muted));
    ui.mute.textContent = muted ? "Unmute" : "Mute";
  });
  page.startMeters(levels, stats);
  if (!window.isSecureContext) {
    setHint("This page is not a secure context (use https or localhost): the microphone may be unavailable.", true);
  }
  if (params.get("autostart") === "1") start();
})();
