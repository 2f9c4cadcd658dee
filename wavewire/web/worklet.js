// wavewire audio worklets: microphone capture and bot playback.
//
// Both run on the audio rendering thread, at the AudioContext's own rate, and talk to the
// page through their message ports:
//
//   ww-capture   input: the microphone. Resamples to the wire rate (16 kHz), converts to
//                signed 16-bit, and posts one {type: "frame", pcm: ArrayBuffer} per 20 ms.
//   ww-playback  input: {type: "pcm", pcm: ArrayBuffer} messages of s16le at the wire rate.
//                Keeps a small jitter buffer, plays gaplessly, resamples up to the context
//                rate, and posts {type: "stats", ...} about 20 times a second.
//
// With processorOptions.record > 0 (the page's ?selftest=1), both keep what they sent or
// played for that many seconds and return it on {type: "dump"} (a test hook: nothing
// leaves the page unless the page's own code asks for it).

"use strict";

// A streaming windowed-sinc resampler for one channel of float samples.
// The kernel is tabulated once; each output sample is a normalised dot product over
// about 2 * halfTaps samples of the slower of the two rates.
class Resampler {
  constructor(inRate, outRate, halfTaps = 8) {
    this.step = inRate / outRate; // input samples advanced per output sample
    const scale = Math.max(1, this.step); // widen the kernel when downsampling
    this.cutoff = 0.45 / scale; // cycles per input sample, a little below Nyquist
    this.half = Math.ceil(halfTaps * scale); // kernel half-width in input samples
    this.res = 64; // table points per input sample
    const n = this.half * this.res + 2;
    this.table = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = i / this.res;
      const t = 2 * this.cutoff * x;
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * t) / (Math.PI * t);
      const r = Math.min(1, x / (this.half + 1));
      const w = 0.42 + 0.5 * Math.cos(Math.PI * r) + 0.08 * Math.cos(2 * Math.PI * r); // Blackman
      this.table[i] = sinc * w;
    }
    this.buf = new Float32Array(8192);
    this.len = this.half; // start with half a kernel of silence (that is the whole delay)
    this.pos = this.half; // where the next output sample sits, in buffer samples
  }

  // Resample `input` (Float32Array); write into `out` from 0; return how many were written.
  // `out` must hold at least input.length / step + 2 samples.
  process(input, out) {
    if (this.len + input.length > this.buf.length) {
      const bigger = new Float32Array(2 * (this.len + input.length));
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    this.buf.set(input, this.len);
    this.len += input.length;
    const { buf, table, res, half, step } = this;
    let pos = this.pos;
    let n = 0;
    while (Math.floor(pos) + half < this.len) {
      const i0 = Math.floor(pos);
      let acc = 0;
      let wsum = 0;
      for (let k = i0 - half + 1; k <= i0 + half; k++) {
        const x = Math.abs(k - pos) * res;
        const j = x | 0;
        const w = table[j] + (table[j + 1] - table[j]) * (x - j);
        acc += buf[k] * w;
        wsum += w;
      }
      out[n++] = acc / wsum;
      pos += step;
    }
    const drop = Math.floor(pos) - half; // samples no future output will touch
    if (drop > 0) {
      buf.copyWithin(0, drop, this.len);
      this.len -= drop;
      pos -= drop;
    }
    this.pos = pos;
    return n;
  }
}

// Grows by chunks; keeps at most `limit` samples (a test recording, never on by default).
class Recorder {
  constructor(limit) {
    this.limit = limit;
    this.chunks = [];
    this.count = 0;
    this.startFrame = -1;
  }
  add(samples, n, frame) {
    if (this.count >= this.limit || n <= 0) return;
    if (this.startFrame < 0) this.startFrame = frame;
    const take = Math.min(n, this.limit - this.count);
    const chunk = new Int16Array(take);
    for (let i = 0; i < take; i++) chunk[i] = toInt16(samples[i]);
    this.chunks.push(chunk);
    this.count += take;
  }
  dump() {
    const all = new Int16Array(this.count);
    let at = 0;
    for (const c of this.chunks) {
      all.set(c, at);
      at += c.length;
    }
    return { startFrame: this.startFrame, samples: all.buffer };
  }
}

function toInt16(x) {
  const v = Math.round(x * 32767);
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.rate = o.rate || 16000;
    this.frameSamples = o.frameSamples || Math.round(this.rate * 0.02);
    this.resampler = new Resampler(sampleRate, this.rate);
    this.scratch = new Float32Array(256);
    this.mono = new Float32Array(128);
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.recorder = o.record > 0 ? new Recorder(Math.round(o.record * this.rate)) : null;
    this.running = true;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "stop") this.running = false;
      else if (m.type === "dump" && this.recorder) {
        const d = this.recorder.dump();
        this.port.postMessage({ type: "dump", rate: this.rate, ...d }, [d.samples]);
      }
    };
  }

  process(inputs) {
    if (!this.running) return false;
    const input = inputs[0];
    if (!input || input.length === 0) return true; // not connected yet
    let mono = input[0];
    if (input.length > 1) {
      if (this.mono.length < mono.length) this.mono = new Float32Array(mono.length);
      const m = this.mono;
      for (let i = 0; i < mono.length; i++) {
        let s = 0;
        for (let c = 0; c < input.length; c++) s += input[c][i];
        m[i] = s / input.length;
      }
      mono = m.subarray(0, input[0].length);
    }
    const need = Math.ceil(mono.length / this.resampler.step) + 4;
    if (this.scratch.length < need) this.scratch = new Float32Array(need);
    const n = this.resampler.process(mono, this.scratch);
    if (this.recorder) this.recorder.add(this.scratch, n, currentFrame);
    for (let i = 0; i < n; i++) {
      this.frame[this.filled++] = toInt16(this.scratch[i]);
      if (this.filled === this.frameSamples) {
        const buf = this.frame.buffer;
        this.port.postMessage({ type: "frame", pcm: buf }, [buf]);
        this.frame = new Int16Array(this.frameSamples);
        this.filled = 0;
      }
    }
    return true;
  }
}

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.rate = o.rate || 16000;
    this.target = Math.round(((o.jitterMs || 80) / 1000) * this.rate); // start when this deep
    this.max = Math.round(((o.maxMs || 400) / 1000) * this.rate); // trim back to target above
    this.queue = new Float32Array(this.rate * 4); // ring of wire-rate samples
    this.head = 0; // read index
    this.size = 0; // samples queued
    this.playing = false;
    this.lastPush = 0; // currentFrame of the last received chunk
    this.resampler = new Resampler(this.rate, sampleRate);
    this.pull = new Float32Array(64);
    this.out = new Float32Array(1024); // resampled, not yet played
    this.outLen = 0;
    this.underruns = 0;
    this.droppedSamples = 0;
    this.receivedSamples = 0;
    this.playedFrames = 0; // context frames that carried bot audio
    this.sumSq = 0;
    this.peak = 0;
    this.blocks = 0;
    this.recorder = o.record > 0 ? new Recorder(Math.round(o.record * sampleRate)) : null;
    this.running = true;
    this.port.onmessage = (e) => this.onMessage(e.data);
  }

  onMessage(m) {
    if (m.type === "pcm") this.push(new Int16Array(m.pcm));
    else if (m.type === "clear") this.clear();
    else if (m.type === "stop") this.running = false;
    else if (m.type === "dump" && this.recorder) {
      const d = this.recorder.dump();
      this.port.postMessage({ type: "dump", rate: sampleRate, ...d }, [d.samples]);
    }
  }

  push(pcm) {
    const cap = this.queue.length;
    this.receivedSamples += pcm.length;
    this.lastPush = currentFrame;
    for (let i = 0; i < pcm.length; i++) {
      if (this.size === cap) {
        // Full: forget the oldest sample (never happens below maxMs, which trims first).
        this.head = (this.head + 1) % cap;
        this.size--;
        this.droppedSamples++;
      }
      this.queue[(this.head + this.size) % cap] = pcm[i] / 32768;
      this.size++;
    }
    if (this.size > this.max) {
      // Too far behind (the bot sent faster than real time, or we stalled): drop the
      // oldest audio down to the target depth rather than keep the extra delay forever.
      const drop = this.size - this.target;
      this.head = (this.head + drop) % cap;
      this.size -= drop;
      this.droppedSamples += drop;
    }
  }

  clear() {
    this.droppedSamples += this.size;
    this.size = 0;
    this.outLen = 0;
    this.playing = false;
  }

  // Move up to `want` queued samples through the resampler into this.out.
  refill(want) {
    const cap = this.queue.length;
    while (this.outLen < want && this.size > 0) {
      const n = Math.min(this.size, this.pull.length);
      for (let i = 0; i < n; i++) this.pull[i] = this.queue[(this.head + i) % cap];
      this.head = (this.head + n) % cap;
      this.size -= n;
      const room = this.outLen + Math.ceil(n / this.resampler.step) + 4;
      if (room > this.out.length) {
        const bigger = new Float32Array(2 * room);
        bigger.set(this.out.subarray(0, this.outLen));
        this.out = bigger;
      }
      this.outLen += this.resampler.process(this.pull.subarray(0, n), this.out.subarray(this.outLen));
    }
  }

  process(_inputs, outputs) {
    if (!this.running) return false;
    const channels = outputs[0];
    const block = channels[0].length;
    if (!this.playing) {
      // Prime the jitter buffer; play a short tail at once if the bot went quiet.
      const quiet = currentFrame - this.lastPush > 0.1 * sampleRate;
      if (this.size >= this.target || (this.size > 0 && quiet)) this.playing = true;
    }
    let n = 0;
    if (this.playing) {
      this.refill(block);
      n = Math.min(block, this.outLen);
      const dst = channels[0];
      for (let i = 0; i < n; i++) {
        const s = this.out[i];
        dst[i] = s;
        this.sumSq += s * s;
        const a = s < 0 ? -s : s;
        if (a > this.peak) this.peak = a;
      }
      this.out.copyWithin(0, n, this.outLen);
      this.outLen -= n;
      this.playedFrames += n;
      if (n < block) {
        // Ran dry: silence for the rest, and prime again before resuming.
        this.playing = false;
        if (this.receivedSamples > 0) this.underruns++;
      }
    }
    for (let c = 1; c < channels.length; c++) channels[c].set(channels[0]);
    if (this.recorder) this.recorder.add(channels[0], block, currentFrame);
    if (++this.blocks % 20 === 0) this.report(block * 20);
    return true;
  }

  report(frames) {
    this.port.postMessage({
      type: "stats",
      rms: Math.sqrt(this.sumSq / frames),
      peak: this.peak,
      depthMs: ((this.size + this.outLen / this.resampler.step) / this.rate) * 1000,
      playing: this.playing,
      underruns: this.underruns,
      droppedMs: (this.droppedSamples / this.rate) * 1000,
      receivedMs: (this.receivedSamples / this.rate) * 1000,
      playedMs: (this.playedFrames / sampleRate) * 1000,
    });
    this.sumSq = 0;
    this.peak = 0;
  }
}

registerProcessor("ww-capture", CaptureProcessor);
registerProcessor("ww-playback", PlaybackProcessor);
