// Audio tiles on the TV screens: the clip loops, drawn as the original drew it
// (audioMotion-analyzer's radial, rainbow, mirrored spectrum, spinning at a
// random speed, 24 frames a second): here a third-octave spectrum, mirrored
// round a circle, each bar's hue its angle. prefers-reduced-motion: no spin.
// One AudioContext is shared by every tile. When the browser blocks autoplay
// (a kiosk nobody has touched) every blocked tile says "tap or click to
// enable sound", and the first tap or key anywhere starts them all.
// A failed load retries after 5 s; hidden tabs pause.
const MAX_FPS = 24;
const BANDS_PER_OCTAVE = 3;
const LOWEST_HZ = 40;
const HIGHEST_HZ = 16000;
const SPIN_RPM = [1, 5];  // random speed and direction (the original's could be ~0: never still here)
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
let context = null;
const blocked = new Set();  // start functions of tiles waiting for a gesture

function sharedContext() {
  if (!context) context = new AudioContext();
  return context;
}

function unblock() {
  const waiting = [...blocked];
  blocked.clear();
  for (const start of waiting) start();
}
// The operator's "enable sound" (the phone remote): try every blocked tile again.
// Without a tap on this screen a browser may still refuse (a kiosk started with
// --autoplay-policy=no-user-gesture-required never does); the cue then stays.
export function retrySound() {
  unblock();
}
document.addEventListener("pointerdown", unblock);
document.addEventListener("keydown", unblock);

// Band edges in FFT bins: third-octave bands from LOWEST_HZ to HIGHEST_HZ.
function bandBins(analyser) {
  const binHz = analyser.context.sampleRate / analyser.fftSize;
  const bands = [];
  for (let low = LOWEST_HZ; low < HIGHEST_HZ; low *= 2 ** (1 / BANDS_PER_OCTAVE)) {
    const high = low * 2 ** (1 / BANDS_PER_OCTAVE);
    const from = Math.max(1, Math.floor(low / binHz));
    const to = Math.min(analyser.frequencyBinCount - 1, Math.max(from, Math.ceil(high / binHz)));
    bands.push([from, to]);
  }
  return bands;
}

export function attachVisualiser(box, src) {
  const canvas = document.createElement("canvas");
  canvas.className = "visualiser";
  const cue = document.createElement("button");
  cue.type = "button";
  cue.className = "sound-cue";
  cue.textContent = "tap or click to enable sound";
  cue.hidden = true;
  const audio = new Audio();
  audio.loop = true;
  audio.crossOrigin = "anonymous";
  audio.src = src;
  box.append(canvas, cue);
  const [slowest, fastest] = SPIN_RPM;
  const speed = slowest + Math.random() * (fastest - slowest);
  const spin = reducedMotion.matches ? 0 : (Math.random() < 0.5 ? -speed : speed);
  canvas.dataset.spin = spin.toFixed(2);
  let analyser = null;
  let bands = [];
  let levels = null;
  let angle = 0;
  let last = 0;

  function connectGraph() {
    if (analyser) return;
    try {
      const ctx = sharedContext();
      const source = ctx.createMediaElementSource(audio);
      analyser = ctx.createAnalyser();
      analyser.fftSize = 2048;
      analyser.smoothingTimeConstant = 0.5;
      source.connect(analyser);
      analyser.connect(ctx.destination);
      bands = bandBins(analyser);
      levels = new Uint8Array(analyser.frequencyBinCount);
    } catch { analyser = null; }
  }

  function draw(now) {
    if (!box.isConnected) { audio.pause(); audio.src = ""; blocked.delete(play); return; }
    requestAnimationFrame(draw);
    if (now - last < 1000 / MAX_FPS) return;
    const elapsed = last ? (now - last) / 1000 : 0;
    last = now;
    angle += (spin / 60) * 2 * Math.PI * elapsed;
    canvas.dataset.angle = angle.toFixed(3);
    const g = canvas.getContext("2d");
    const { width, height } = canvas.getBoundingClientRect();
    if (canvas.width !== Math.round(width)) canvas.width = Math.round(width);
    if (canvas.height !== Math.round(height)) canvas.height = Math.round(height);
    const w = canvas.width;
    const h = canvas.height;
    g.clearRect(0, 0, w, h);
    g.fillStyle = "rgba(0, 0, 0, 0.3)";  // bgAlpha 0.7 over the tile's green
    g.fillRect(0, 0, w, h);
    const inner = Math.min(w, h) * 0.18;
    const room = Math.min(w, h) * 0.5 - inner;
    const values = [];
    if (analyser && !audio.paused) {
      analyser.getByteFrequencyData(levels);
      for (const [from, to] of bands) {
        let peak = 0;
        for (let i = from; i <= to; i += 1) peak = Math.max(peak, levels[i]);
        values.push(peak / 255);
      }
    }
    const count = Math.max(values.length, 30);
    const bars = count * 2;  // mirrored: low to high and back round the circle
    const step = (2 * Math.PI) / bars;
    g.save();
    g.translate(w / 2, h / 2);
    g.rotate(angle);
    for (let i = 0; i < bars; i += 1) {
      const band = i < count ? i : bars - 1 - i;
      const value = values[band] ?? 0;
      const length = 2 + value * room;
      g.fillStyle = `hsl(${(i / bars) * 360}, 95%, ${45 + value * 25}%)`;
      g.save();
      g.rotate(i * step);
      g.fillRect(inner, -Math.max(1, inner * step * 0.42), length, Math.max(2, inner * step * 0.84));
      g.restore();
    }
    g.restore();
  }

  function play() {
    connectGraph();
    sharedContext().resume().catch(() => {});
    audio.play().then(() => {
      cue.hidden = true;
      box.dataset.sound = "on";
    }).catch((error) => {
      if (error && error.name === "NotAllowedError") {  // autoplay blocked: say so
        cue.hidden = false;
        box.dataset.sound = "blocked";
        blocked.add(play);
      }
    });
  }

  cue.addEventListener("click", unblock);
  audio.addEventListener("error", () => {
    if (box.isConnected) setTimeout(() => { audio.load(); play(); }, 5000);
  });
  document.addEventListener("visibilitychange", () => {
    if (!box.isConnected) return;
    if (document.hidden) audio.pause(); else play();
  });
  play();
  requestAnimationFrame(draw);
}
