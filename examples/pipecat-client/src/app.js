// A minimal front end on Pipecat's own client SDKs, unchanged:
// @pipecat-ai/client-js (RTVI) + @pipecat-ai/websocket-transport (protobuf frames),
// talking to `wavewire serve` on its /pipecat route.
//
// Query parameters (all optional):
//   ws=ws://host:port/pipecat   the server (default: /pipecat on the page's own host)
//   token=T                     sent by the transport as ?token=T (wavewire serve --token)
//   media=wav|daily             wav (default): WavMediaManager, everything local;
//                               daily: the transport's default DailyMediaManager, which
//                               loads Daily's call-machine bundle from c.daily.co
//   autostart=1                 connect on load (the browser test uses it)
//
// window.pipecatDemo.status() returns what the page saw, for tests driving the page
// over the DevTools protocol: callbacks received, audio handed to the player, and audio
// actually rendered to the speakers (metered inside the AudioContext).

import { PipecatClient, LogLevel } from "@pipecat-ai/client-js";
import { WebSocketTransport, WavMediaManager } from "@pipecat-ai/websocket-transport";

const params = new URLSearchParams(location.search);
const scheme = location.protocol === "https:" ? "wss" : "ws";
const wsUrl = params.get("ws") || `${scheme}://${location.host}/pipecat`;
const token = params.get("token") || undefined;
const media = params.get("media") || "wav";

// --- what the page observed -------------------------------------------------------------

const seen = {
  transportStates: [],
  botReady: null,
  userTranscripts: [],
  botOutputs: [],
  botTranscripts: [],
  events: {},          // callback name -> count
  errors: [],
  serverMessages: [],
  receivedSamples: 0,  // bot audio handed to the player (samples)
};
const meters = [];     // one per AudioContext: what it rendered to its destination

function count(name) {
  seen.events[name] = (seen.events[name] || 0) + 1;
}

// --- metering played audio, without touching the packages --------------------------------
// Every AudioContext created on this page gets a tap on its destination: whatever a
// package connects to `context.destination` goes through a gain node that feeds the real
// destination and a small worklet counting the samples it renders.

const METER = `
class Meter extends AudioWorkletProcessor {
  constructor() {
    super();
    this.active = 0; this.audible = 0; this.energy = 0; this.crossings = 0;
    this.n = 0; this.last = 0;
  }
  process(inputs) {
    const ch = inputs[0] && inputs[0][0];
    if (ch) {
      this.active += ch.length;
      for (let i = 0; i < ch.length; i++) {
        const x = ch[i];
        if (x > 0.01 || x < -0.01) {
          this.audible++;
          if ((x > 0) !== (this.last > 0)) this.crossings++;
          this.last = x;
        }
        this.energy += x * x;
      }
    }
    if (++this.n % 40 === 0) {
      const { active, audible, energy, crossings } = this;
      this.port.postMessage({ active, audible, energy, crossings });
    }
    return true;
  }
}
registerProcessor("wavewire-meter", Meter);
`;
const meterUrl = URL.createObjectURL(new Blob([METER], { type: "application/javascript" }));
const NativeAudioContext = window.AudioContext;

class MeteredAudioContext extends NativeAudioContext {
  constructor(...args) {
    super(...args);
    const meter = { sampleRate: this.sampleRate, active: 0, audible: 0, energy: 0, crossings: 0 };
    meters.push(meter);
    this._tap = this.createGain();
    this._tap.connect(super.destination);
    this.audioWorklet.addModule(meterUrl).then(() => {
      const node = new AudioWorkletNode(this, "wavewire-meter");
      node.port.onmessage = (e) => Object.assign(meter, e.data);
      this._tap.connect(node);
      node.connect(super.destination); // a worklet only runs while it is pulled
    }).catch((e) => log(`meter: ${e}`));
  }
  get destination() {
    return this._tap || super.destination;
  }
}
window.AudioContext = MeteredAudioContext;

// Counts the bot audio the transport hands to its player (a public MediaManager method).
class CountingMediaManager extends WavMediaManager {
  bufferBotAudio(data, id) {
    seen.receivedSamples += data.byteLength / 2;
    return super.bufferBotAudio(data, id);
  }
}

// --- the page -------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function log(text) {
  const line = `${new Date().toISOString().slice(11, 23)} ${text}\n`;
  $("log").textContent += line;
  $("log").scrollTop = $("log").scrollHeight;
}

let interim = null;
function say(role, text, final = true) {
  if (role === "user" && interim) {
    interim.remove();
    interim = null;
  }
  const p = document.createElement("p");
  p.className = role + (final ? "" : " interim");
  p.textContent = text;
  $("transcript").appendChild(p);
  if (role === "user" && !final) interim = p;
}

function playedSeconds() {
  return meters.reduce((s, m) => s + m.audible / m.sampleRate, 0);
}
setInterval(() => { $("played").textContent = playedSeconds().toFixed(1); }, 250);

// --- the client -------------------------------------------------------------------------

function makeTransport() {
  if (media === "daily") return new WebSocketTransport();
  // 512 bytes = 16 ms of 16 kHz mono per message, as the transport's default manager;
  // the recorder's rate must match the transport's recorderSampleRate (16 kHz default).
  return new WebSocketTransport({ mediaManager: new CountingMediaManager(512, 16000) });
}

const client = new PipecatClient({
  transport: makeTransport(),
  enableMic: true,
  enableCam: false,
  callbacks: {
    onTransportStateChanged: (state) => {
      seen.transportStates.push(state);
      $("state").textContent = state;
    },
    onConnected: () => { count("connected"); log("connected"); },
    onDisconnected: () => { count("disconnected"); log("disconnected"); setButtons(false); },
    onBotReady: (data) => {
      count("botReady");
      seen.botReady = data;
      $("bot").textContent = `ready (RTVI ${data.version})`;
      log(`bot-ready ${JSON.stringify(data)}`);
    },
    onUserStartedSpeaking: () => { count("userStartedSpeaking"); log("user started speaking"); },
    onUserStoppedSpeaking: () => { count("userStoppedSpeaking"); log("user stopped speaking"); },
    onBotStartedSpeaking: () => {
      count("botStartedSpeaking");
      $("bot").textContent = "speaking";
      log("bot started speaking");
    },
    onBotStoppedSpeaking: () => {
      count("botStoppedSpeaking");
      $("bot").textContent = "listening";
      log("bot stopped speaking");
    },
    onUserTranscript: (data) => {
      count("userTranscript");
      seen.userTranscripts.push(data);
      say("user", data.text, data.final);
    },
    onBotOutput: (data) => {
      count("botOutput");
      seen.botOutputs.push(data);
      if (data.spoken_status !== "in-progress") say("bot", data.text);
    },
    onBotTranscript: (data) => { count("botTranscript"); seen.botTranscripts.push(data); },
    onBotLlmStarted: () => { count("botLlmStarted"); $("bot").textContent = "thinking"; },
    onBotTtsStarted: () => count("botTtsStarted"),
    onMetrics: () => count("metrics"),
    onServerMessage: (data) => { count("serverMessage"); seen.serverMessages.push(data); },
    onError: (message) => {
      count("error");
      seen.errors.push(message.data);
      log(`error ${JSON.stringify(message.data)}`);
    },
    onMessageError: (message) => {
      count("messageError");
      seen.errors.push(message.data);
      log(`message error ${JSON.stringify(message.data)}`);
    },
  },
});
client.setLogLevel(LogLevel.WARN);

function setButtons(connected) {
  $("connect").disabled = connected;
  $("disconnect").disabled = !connected;
  $("mute").disabled = !connected;
}

async function connect() {
  setButtons(true);
  log(`connecting to ${wsUrl} (media: ${media})`);
  try {
    await client.connect({ wsUrl, ...(token ? { token } : {}) });
  } catch (e) {
    seen.errors.push({ error: String(e) });
    log(`connect failed: ${e}`);
    setButtons(false);
  }
}

$("connect").onclick = connect;
$("disconnect").onclick = () => client.disconnect();
$("mute").onclick = () => {
  const on = !client.isMicEnabled;
  client.enableMic(on);
  $("mute").textContent = on ? "Mute" : "Unmute";
};

window.pipecatDemo = {
  client,
  status: () => ({
    ...seen,
    state: client.state,
    playedSeconds: playedSeconds(),
    meters: meters.map((m) => ({ ...m })),
  }),
};

if (params.get("autostart") === "1") connect();
