// wavewire page: its own views, apart from the conversation and the audio.
//
// createPage(ui, {selftest}) returns {log(text, cls), setHint(text, error),
// showTranscript({role, text, final}), transcriptOf(msg, type), startMeters(levels, stats)}:
// the log list, the hint line under the controls, transcripts of messages that are not
// RTVI (conversation.js shows RTVI's), and the level meters and stats line, redrawn every
// animation frame from the `levels` and `stats` objects app.js keeps up to date.
"use strict";

window.createPage = (ui, { selftest }) => {
  function log(text, cls = "") {
    const li = document.createElement("li");
    if (cls) li.className = cls;
    const time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString();
    li.append(time, document.createTextNode(text));
    ui.log.append(li);
    trim(ui.log, 300);
    ui.log.scrollTop = ui.log.scrollHeight;
    if (selftest) console.log(`[wavewire] ${text}`);
  }

  function trim(list, max) {
    while (list.children.length > max) list.firstElementChild.remove();
  }

  function setHint(text, error = false) {
    ui.hint.textContent = text;
    ui.hint.classList.toggle("error", error);
  }

  // ---- transcripts of other message shapes ------------------------------------------------

  // Recognises the usual shapes: {type:"transcript", role, text, final}, Pipecat RTVI
  // {type:"user-transcription", data:{text, final}}, {type:"bot-transcription", ...}.
  function transcriptOf(msg, type) {
    if (!msg || typeof msg !== "object") return null;
    const data = msg.data && typeof msg.data === "object" ? msg.data : {};
    const text = [msg.text, msg.transcript, data.text, data.transcript].find(
      (v) => typeof v === "string",
    );
    const looksLike = /transcri|^(user|bot|assistant)[-_]?(text|speech|message)$/i.test(type);
    if (text === undefined || !(looksLike || msg.transcript !== undefined)) return null;
    const who = String(msg.role || msg.speaker || data.role || data.speaker || "").toLowerCase();
    const bot = /bot|assistant|agent|tts|llm/.test(who || type.toLowerCase());
    const finalFlag = [msg.final, msg.is_final, msg.isFinal, data.final, data.is_final].find(
      (v) => typeof v === "boolean",
    );
    return { role: bot ? "bot" : "user", text, final: finalFlag !== false };
  }

  const interim = { user: null, bot: null };

  function showTranscript({ role, text, final }) {
    let li = interim[role];
    if (!li) {
      li = document.createElement("li");
      li.className = role;
      const who = document.createElement("span");
      who.className = "who";
      who.textContent = role === "bot" ? "Bot" : "You";
      li.append(who, document.createElement("span"));
      ui.transcript.append(li);
    }
    li.lastChild.textContent = text;
    li.classList.toggle("interim", !final);
    interim[role] = final ? null : li;
    trim(ui.transcript, 200);
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
  }

  // ---- meters -------------------------------------------------------------------------------

  function showLevel(fill, label, level) {
    const db = level > 0 ? 20 * Math.log10(level) : -Infinity;
    const pct = Math.max(0, Math.min(100, ((db + 60) / 60) * 100));
    fill.style.width = `${pct.toFixed(1)}%`;
    label.textContent = Number.isFinite(db) && db > -90 ? `${db.toFixed(0)} dB` : "–∞ dB";
  }

  function startMeters(levels, stats) {
    function frameLoop() {
      showLevel(ui.inLevel, ui.inDb, levels.in);
      showLevel(ui.outLevel, ui.outDb, levels.out);
      levels.in *= 0.92;
      levels.out *= 0.92;
      const p = stats.player;
      ui.stats.textContent =
        `sent ${stats.sentFrames} frames` +
        (stats.droppedFrames ? ` (${stats.droppedFrames} dropped)` : "") +
        ` · received ${(p.receivedMs / 1000).toFixed(1)} s` +
        ` · buffer ${Math.round(p.depthMs)} ms · underruns ${p.underruns}` +
        (p.droppedMs ? ` · trimmed ${Math.round(p.droppedMs)} ms` : "");
      requestAnimationFrame(frameLoop);
    }
    requestAnimationFrame(frameLoop);
  }

  return { log, setHint, showTranscript, transcriptOf, startMeters };
};
