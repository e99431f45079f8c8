// Audio tiles: the clip plays in a loop with a simple spectrum visualiser.
// One AudioContext is shared by every tile; autoplay blocked → play on the
// next click. A failed load retries after 5 s; hidden tabs pause.
let context = null;

function sharedContext() {
  if (!context) context = new AudioContext();
  return context;
}

export function attachVisualiser(box, src) {
  const canvas = document.createElement("canvas");
  canvas.className = "visualiser";
  const audio = new Audio();
  audio.loop = true;
  audio.crossOrigin = "anonymous";
  audio.src = src;
  box.append(canvas);
  let analyser = null;
  let frame = 0;

  function connectGraph() {
    if (analyser) return;
    try {
      const ctx = sharedContext();
      const source = ctx.createMediaElementSource(audio);
      analyser = ctx.createAnalyser();
      analyser.fftSize = 256;
      source.connect(analyser);
      analyser.connect(ctx.destination);
    } catch { analyser = null; }
  }

  function draw() {
    if (!box.isConnected) { audio.pause(); audio.src = ""; return; }
    frame = requestAnimationFrame(draw);
    const g = canvas.getContext("2d");
    const { width, height } = canvas.getBoundingClientRect();
    if (canvas.width !== Math.round(width)) canvas.width = Math.round(width);
    if (canvas.height !== Math.round(height)) canvas.height = Math.round(height);
    g.clearRect(0, 0, canvas.width, canvas.height);
    if (!analyser) return;
    const bins = new Uint8Array(analyser.frequencyBinCount);
    analyser.getByteFrequencyData(bins);
    const bar = canvas.width / bins.length;
    bins.forEach((value, i) => {
      const h = (value / 255) * canvas.height;
      g.fillStyle = `hsl(${(i / bins.length) * 300}, 90%, 60%)`;
      g.fillRect(i * bar, canvas.height - h, Math.max(1, bar - 1), h);
    });
  }

  function play() {
    connectGraph();
    sharedContext().resume().catch(() => {});
    audio.play().catch(() => {
      document.addEventListener("click", play, { once: true });
    });
  }

  audio.addEventListener("error", () => {
    if (box.isConnected) setTimeout(() => { audio.load(); play(); }, 5000);
  });
  document.addEventListener("visibilitychange", () => {
    if (!box.isConnected) return;
    if (document.hidden) audio.pause(); else play();
  });
  play();
  cancelAnimationFrame(frame);
  draw();
}
