// wavewire page: the conversation as RTVI tells it (Pipecat's client protocol on /ws).
//
// createConversation(ui, hooks) returns {ready(), handle(msg), audioArrived(), micLevel(),
// status()}: it sends nothing itself (ready() gives the client-ready message to send),
// shows both sides' live transcript, the bot's state (listening / thinking / speaking)
// and the latency of each turn: from the end of the user's speech (the last loud
// microphone frame before the turn ended) to the first bot audio that reached the page.
"use strict";

window.createConversation = (ui, hooks) => {
  const SPEECH_LEVEL = 0.01; // -40 dBFS: a microphone frame above this counts as speech
  let botState = "waiting";
  let lastSpeechAt = 0; // performance.now() of the last loud microphone frame
  let turnEndedAt = 0; // when the user's turn ended (0: no turn waiting for a reply)
  const latencies = [];
  const lines = { user: null, bot: null }; // the open (interim) line of each side
  const transcript = [];
  let reply = null; // the bot's last response: {li, index, heard, cut}

  function setBotState(name) {
    botState = name;
    ui.botState.className = "bot-state " + name;
    ui.botState.textContent = name;
  }

  function line(role, text, final) {
    let entry = lines[role];
    if (!entry) {
      const li = document.createElement("li");
      li.className = role;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = role === "bot" ? "Bot" : "You";
      li.append(who, document.createElement("span"));
      ui.transcript.append(li);
      entry = { li, index: transcript.length };
      transcript.push({ role, text: "", final: false });
      lines[role] = entry;
    }
    entry.li.lastChild.textContent = text;
    entry.li.classList.toggle("interim", !final);
    transcript[entry.index] = { role, text, final };
    if (final) lines[role] = null;
    while (ui.transcript.children.length > 200) ui.transcript.firstElementChild.remove();
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  function showLatency(ms) {
    latencies.push(Math.round(ms));
    const recent = latencies.slice(-5).map((v) => `${v} ms`).join(" · ");
    ui.latency.textContent = `Turn latency (end of your speech → bot's voice): ${recent}`;
  }

  function handle(msg) {
    const data = msg.data && typeof msg.data === "object" ? msg.data : {};
    switch (msg.type) {
      case "bot-ready":
        setBotState("listening");
        hooks.log(`bot ready (RTVI ${data.version || "?"})`);
        break;
      case "user-started-speaking":
        // The server interrupts the bot when the user speaks: drop what is queued here too.
        if (botState === "speaking") {
          hooks.clearPlayback();
          if (reply) reply.cut = true;
        }
        turnEndedAt = 0;
        setBotState("listening");
        break;
      case "user-stopped-speaking":
        turnEndedAt = performance.now();
        setBotState("thinking");
        break;
      case "user-transcription":
        if (typeof data.text === "string" && data.text) line("user", data.text, data.final !== false);
        break;
      case "bot-llm-started":
        if (botState !== "speaking") setBotState("thinking");
        if (!lines.bot) line("bot", "…", false);
        break;
      case "bot-llm-text": {
        const open = lines.bot;
        const before = open ? transcript[open.index].text.replace(/^…$/, "") : "";
        line("bot", before + (data.text || ""), false);
        break;
      }
      case "bot-llm-stopped":
        if (lines.bot) {
          const text = transcript[lines.bot.index].text;
          if (text === "…") {
            lines.bot.li.remove();
            transcript[lines.bot.index] = null;
            lines.bot = null;
          } else {
            reply = { li: lines.bot.li, index: lines.bot.index, heard: "", cut: false };
            line("bot", text, true);
          }
        }
        break;
      case "bot-output":
        // What was played of an utterance: an interrupted reply shows only that.
        if (reply && data.spoken_status === "completed" && typeof data.text === "string") {
          reply.heard = `${reply.heard} ${data.text}`.trim();
          if (reply.cut) {
            const text = reply.heard ? `${reply.heard} —` : "—";
            reply.li.lastChild.textContent = text;
            reply.li.classList.add("cut");
            transcript[reply.index] = { role: "bot", text, final: true, interrupted: true };
          }
        }
        return false;
      case "bot-started-speaking":
        setBotState("speaking");
        break;
      case "bot-stopped-speaking":
        setBotState("listening");
        break;
      case "llm-function-call-in-progress":
        hooks.log(`tool ${data.function_name}(${JSON.stringify(data.arguments || {})})`);
        break;
      case "llm-function-call-stopped":
        hooks.log(`tool ${data.function_name} → ${JSON.stringify(data.result)}`);
        break;
      case "error":
      case "error-response":
        hooks.log(`error: ${data.error}`, "error");
        break;
      default:
        return false; // not shown: bot-tts-*, metrics, vad-*
    }
    return true;
  }

  function audioArrived() {
    if (!turnEndedAt) return;
    const from = lastSpeechAt && lastSpeechAt <= turnEndedAt ? lastSpeechAt : turnEndedAt;
    showLatency(performance.now() - from);
    turnEndedAt = 0;
  }

  function micLevel(rms) {
    if (rms >= SPEECH_LEVEL) lastSpeechAt = performance.now();
  }

  function ready() {
    return {
      label: "rtvi-ai",
      type: "client-ready",
      id: `page-${Date.now()}`,
      data: { version: "2.2.0", about: { library: "wavewire-page", library_version: "1" } },
    };
  }

  setBotState("waiting");
  return {
    ready,
    handle,
    audioArrived,
    micLevel,
    status: () => ({ botState, latencies: latencies.slice(), transcript: transcript.filter(Boolean) }),
  };
};
