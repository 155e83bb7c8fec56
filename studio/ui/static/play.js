// The Play tab's game, run in the visitor's browser: onnxruntime-web steps the bundle's predictor and decoder
// here, so a step costs the server nothing and Run mode keeps its pace however many people play at once.
//
// The server hands the page a start (studio/ui/page_play.py `page_start`: the context latents, the codebook and
// any vectors taken from the clip, where the graphs and the reference latents are); the page fetches each file once, keeps it by its sha256,
// and from then on steps, decodes, judges familiarity and draws by itself. The Play tab's own buttons, keys,
// Undo and Run box drive it: while the page plays, their clicks stop here and never reach the server.
// Switching to "On the server" hands the present context back (`handOver`); a browser that cannot run the
// model falls back to the server the same way, saying why.

const ORT_MODULE = new URL("./ort/ort.wasm.min.mjs", import.meta.url).href;
const ORT_FILES = new URL("./ort/", import.meta.url).href;
const FILE_CACHE = "world-model-studio-files"; // Cache API store of graphs and reference latents, by sha256
const IN_THE_PAGE = "In this browser";
const ON_THE_SERVER = "On the server";
const MAX_HISTORY = 2000; // steps kept for undo, as on the server (studio/play.py)
const PACE_WINDOW = 20; // steps over which the pace of play is measured
const LATENCY_WINDOW = 50; // steps over which the step time is summarised
const IDLE_MS = 2000; // a pause this long ends a run of steps: the pace is not measured across it
const STATUS_PERIOD_MS = 250; // Run mode rewrites the status line at most this often
const RECENT_CODES = 12; // codes the status line lists
// Run mode runs late steps at once to keep its pace, up to this far behind (a game loop's usual clamp): a step
// of the model slowed by the machine's other work (here 20-30 ms instead of 12, a few times a second) is made up
const CATCH_UP_MS = 250;
const MAX_UNDRAWN = 3; // steps Run mode may leave undrawn in a row while it makes up for lost time
const OVERLOADED_MS = 1000; // since the page last failed to make up lost time: it draws every step meanwhile
const WITHIN_BLOCK = 64; // latent values summed between looks at whether a reference is out of reach
const MAX_THREADS = 4; // a step of a few-MB model gains little from more (benchmarks/RESULTS.md, play in the browser)

let ort = null; // the onnxruntime-web module, imported on the first game
const sessions = new Map(); // sha256 -> onnxruntime-web InferenceSession
const references = new Map(); // sha256 -> Reference
let game = null; // the game this page plays, or null when the server plays (or nobody)
let starting = null; // when Start or Reset was pressed in page mode, until the page's game begins: presses wait
let opening = 0; // starts being opened in this page right now
const held = []; // the controls pressed meanwhile, pressed again once the game has begun
const START_WAIT_MS = 60_000; // a start that has not arrived by then (the server refused it) frees the controls

// ---- the model in the page ------------------------------------------------------------------------------------

class Unable extends Error {} // the browser cannot run the model: the server plays instead, and says why

async function loadRuntime() {
  if (typeof WebAssembly !== "object") throw new Unable("this browser has no WebAssembly");
  if (!ort) {
    try {
      ort = await import(ORT_MODULE);
    } catch (error) {
      throw new Unable(`onnxruntime-web did not load in this browser (${error.message})`);
    }
    ort.env.wasm.wasmPaths = ORT_FILES;
    ort.env.wasm.numThreads = self.crossOriginIsolated ? modelThreads(navigator.hardwareConcurrency || 1) : 1;
  }
  return ort;
}

// Threads share memory, which only a cross-origin-isolated page may (studio/ui/isolation.py sends the headers; a
// page framed by another site is not isolated). There the model steps on half the machine's logical cores, up to
// MAX_THREADS: the rest is left to the page's drawing and the browser's other pages, which threads waiting on a
// busy core would slow (two cores: one thread; five pages on them ran 20 steps/s each so, 10 on two threads each).
export function modelThreads(cores) {
  return Math.max(1, Math.min(MAX_THREADS, Math.floor(cores / 2)));
}

function fileUrl(path) {
  const root = (window.gradio_config && window.gradio_config.root) || location.href;
  return new URL(path, root.endsWith("/") ? root : root + "/").href;
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// The bytes of a served file {url, sha256}: from the page's cache when it holds them, else fetched, checked
// against the hash and kept. Where the Cache API is missing (a page served over plain http from afar) every
// start fetches again.
async function fetchOnce(file) {
  const key = fileUrl(`studio-file-cache/${file.sha256}`);
  const store = typeof caches === "object" ? await caches.open(FILE_CACHE).catch(() => null) : null;
  const kept = store && (await store.match(key));
  if (kept) return kept.arrayBuffer();
  const response = await fetch(fileUrl(file.url));
  if (!response.ok) throw new Unable(`the model's files could not be fetched (HTTP ${response.status})`);
  const bytes = await response.arrayBuffer();
  if (crypto.subtle && (await sha256Hex(bytes)) !== file.sha256) {
    throw new Unable("a fetched file does not match its sha256: the bundle changed on the server");
  }
  if (store) await store.put(key, new Response(bytes.slice(0))).catch(() => {}); // a full disk only costs a fetch
  return bytes;
}

async function openGraph(file, role) {
  if (!sessions.has(file.sha256)) {
    const bytes = await fetchOnce(file);
    try {
      const session = await ort.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ["wasm"] });
      sessions.set(file.sha256, session);
    } catch (error) {
      throw new Unable(`onnxruntime-web cannot open this bundle's ${role} graph (${error.message})`);
    }
  }
  return sessions.get(file.sha256);
}

function float32(tensor) {
  // {shape, data: base64 of little-endian float32} -> Float32Array
  const raw = atob(tensor.data);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return new Float32Array(bytes.buffer);
}

function base64(array) {
  const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  let raw = "";
  for (let i = 0; i < bytes.length; i += 0x8000) raw += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(raw);
}

function halfToFloat(half) {
  // IEEE float16 bits -> number
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const fraction = half & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

// The bundle's reference latents [M, F] (F = N*D), and the distance beyond which a frame is unfamiliar
// (studio/familiarity.py: the calibration's limit).
async function openReference(spec) {
  if (!references.has(spec.sha256)) {
    const halves = new Uint16Array(await fetchOnce(spec));
    const [count, ...each] = spec.shape;
    const latents = new Float32Array(halves.length);
    for (let i = 0; i < halves.length; i++) latents[i] = halfToFloat(halves[i]);
    references.set(spec.sha256, { latents, count, size: each.reduce((a, b) => a * b, 1) });
  }
  return { ...references.get(spec.sha256), limit: spec.limit };
}

// Which reference latent lies within the limit of latents [F], or -1 for none: studio/familiarity.py's verdict on
// one frame (familiar: its nearest reference is within the limit), exact, and cheap on the path a game takes.
// The references are tried from `first` on (the one that held the last frame: a game's frames change little from
// step to step), and one is dropped as soon as its running squared distance passes the limit's square.
export function referenceWithin(latents, reference, first = 0) {
  const { count, size } = reference;
  const all = reference.latents; // [M * F]
  const bound = reference.limit * reference.limit;
  for (let i = 0; i < count; i++) {
    const m = (first + i) % count;
    const row = m * size;
    let sum = 0;
    for (let f = 0; f < size && sum <= bound;) {
      for (const end = Math.min(f + WITHIN_BLOCK, size); f < end; f++) {
        const d = latents[f] - all[row + f];
        sum += d * d;
      }
    }
    if (sum <= bound) return m;
  }
  return -1;
}

// A bundle's model as the page runs it: one step is context [1, C, N, D] + action [1, Da] -> latents [1, N, D]
// -> frame [1, 3, H, W]. A bundle that re-anchors (its manifest's `predictor.reanchor`) passes each prediction
// through its decoder and encoder before keeping it, as studio/runtime.py `next_latents` does.
export async function openModel(start) {
  const runtime = await loadRuntime();
  const [predictor, decoder, encoder] = await Promise.all([
    openGraph(start.graphs.predictor, "predictor"),
    openGraph(start.graphs.decoder, "decoder"),
    start.graphs.encoder ? openGraph(start.graphs.encoder, "encoder") : null,
  ]);
  const reference = start.reference ? await openReference(start.reference) : null;
  const [contextLength, tokens, dim] = start.context.shape;
  const [codes, actionDim] = start.codebook.shape;
  // what a press applies: code k is row k, and a continuous model's vector taken from the clip's transition t is
  // row first_press + t (first_press = K), as on the server (studio/clip_actions.py)
  const fromClip = start.from_clip;
  const presses = fromClip ? fromClip.first_press + fromClip.vectors.shape[0] : codes;
  const actions = new Float32Array(presses * actionDim); // [A * Da]
  actions.set(float32(start.codebook));
  if (fromClip) actions.set(float32(fromClip.vectors), fromClip.first_press * actionDim);
  return {
    runtime, predictor, decoder, encoder, reference, contextLength, tokens, dim, codes, actionDim, actions,
    fromClip: fromClip ? {
      clip: fromClip.clip,
      firstPress: fromClip.first_press,
      transitions: fromClip.vectors.shape[0],
      representatives: fromClip.representatives, // [cluster, transition] per button of the clip's
    } : null,
    height: start.frame.height,
    width: start.frame.width,
  };
}

// latents [N*D] -> frame [3*H*W] float in the decoder's range
export async function decode(model, latents) {
  const input = new model.runtime.Tensor("float32", latents, [1, model.tokens, model.dim]);
  const { frames } = await model.decoder.run({ latents: input });
  return frames.data;
}

// frame [3*H*W] in the decoder's range -> its latents [N*D], the frame clipped to [0, 1] first as the server's
// decode clips it
export async function encode(model, frame) {
  const pixels = frame.map((value) => Math.min(Math.max(value, 0), 1));
  const input = new model.runtime.Tensor("float32", pixels, [1, 3, model.height, model.width]);
  const { latents } = await model.encoder.run({ frames: input });
  return latents.data;
}

// context [C*N*D] and a press -> the latents [N*D] a game keeps: the prediction, re-anchored where the bundle asks
export async function nextLatents(model, context, code) {
  const latents = await predict(model, context, code);
  return model.encoder ? encode(model, await decode(model, latents)) : latents;
}

// context [C*N*D] and a press (a code, or a vector taken from the clip) -> the next latents [N*D]
export async function predict(model, context, code) {
  const action = model.actions.slice(code * model.actionDim, (code + 1) * model.actionDim); // [Da]
  const feeds = {
    context: new model.runtime.Tensor("float32", context, [1, model.contextLength, model.tokens, model.dim]),
    action: new model.runtime.Tensor("float32", action, [1, model.actionDim]),
  };
  const { latents_next } = await model.predictor.run(feeds);
  return latents_next.data;
}

// frame [3*H*W] float -> RGBA pixels, rounded as studio/runtime.py `to_uint8_frames` rounds them
export function toPixels(frame, height, width) {
  const plane = height * width;
  const pixels = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      pixels[p * 4 + c] = Math.floor(Math.min(Math.max(frame[c * plane + p], 0), 1) * 255 + 0.5);
    }
    pixels[p * 4 + 3] = 255;
  }
  return pixels;
}

// ---- one game -------------------------------------------------------------------------------------------------

class PageGame {
  constructor(model, start) {
    this.model = model;
    const size = model.tokens * model.dim;
    const context = float32(start.context); // [C*N*D]
    this.latents = []; // each [N*D]: the start's C frames, then one per step
    for (let c = 0; c < this.model.contextLength; c++) this.latents.push(context.slice(c * size, (c + 1) * size));
    this.codes = [];
    // whether the frame after each step (and the start's) is familiar; once a step is not, the ones after it are
    // not judged (null): the step it left at is all the status says, and undoing past it drops them
    this.familiar = [true];
    this.dropped = start.steps; // steps before this page's history: the server's, or ones dropped for memory
    this.droppedUnfamiliarAt = start.left_familiar_at ?? null;
    this.latencies = [];
    this.nearby = 0; // the reference latent the last judged frame was found near
    this.pressedAt = [];
    this.running = false;
  }

  get steps() { return this.dropped + this.codes.length; }

  get context() {
    const size = this.model.tokens * this.model.dim;
    const context = new Float32Array(this.model.contextLength * size);
    this.latents.slice(-this.model.contextLength).forEach((latents, c) => context.set(latents, c * size));
    return context;
  }

  get leftFamiliarAt() {
    if (this.droppedUnfamiliarAt !== null && this.droppedUnfamiliarAt !== undefined) return this.droppedUnfamiliarAt;
    const index = this.familiar.indexOf(false);
    return index < 0 ? null : this.dropped + index;
  }

  // the next latents under `code`, kept and judged -> their frame, or null when not `shown` (nothing decoded)
  async step(code, shown = true) {
    const began = performance.now();
    const latents = await nextLatents(this.model, this.context, code);
    const frame = shown ? await decode(this.model, latents) : null;
    if (shown) this.latencies = [...this.latencies.slice(1 - LATENCY_WINDOW), performance.now() - began];
    this.pressedAt = [...this.pressedAt.slice(1 - PACE_WINDOW), performance.now()];
    this.latents.push(latents);
    this.codes.push(code);
    const reference = this.model.reference;
    let familiar = true; // a bundle without a reference cannot judge: all its frames count as familiar
    if (reference && this.leftFamiliarAt === null) {
      const near = referenceWithin(latents, reference, this.nearby);
      familiar = near >= 0;
      if (familiar) this.nearby = near;
    } else if (reference) familiar = null;
    this.familiar.push(familiar);
    if (this.codes.length > MAX_HISTORY) {
      if (this.familiar[0] === false && this.droppedUnfamiliarAt === null) this.droppedUnfamiliarAt = this.dropped;
      this.latents.shift();
      this.codes.shift();
      this.familiar.shift();
      this.dropped += 1;
    }
    return frame;
  }

  async undo() {
    if (this.codes.length) {
      this.latents.pop();
      this.codes.pop();
      this.familiar.pop();
    }
    return this.frame();
  }

  frame() { // -> the frame of the last latents
    return decode(this.model, this.latents[this.latents.length - 1]);
  }

  stepsPerSecond() {
    const times = this.pressedAt;
    if (times.length < 3 || performance.now() - times[times.length - 1] > IDLE_MS) return null;
    let first = 0;
    for (let i = 1; i < times.length; i++) if (times[i] - times[i - 1] > IDLE_MS) first = i;
    const span = times.length - 1 - first;
    return span >= 2 ? (1000 * span) / (times[times.length - 1] - times[first]) : null;
  }

  medianLatency() {
    if (!this.latencies.length) return null;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }

  // what the server needs to carry the game on (studio/ui/page_play.py `game_from_page`)
  handover(reason) {
    return {
      context: { shape: [this.model.contextLength, this.model.tokens, this.model.dim], data: base64(this.context) },
      steps: this.steps,
      left_familiar_at: this.leftFamiliarAt,
      reason: reason || null,
    };
  }
}

// ---- the page -------------------------------------------------------------------------------------------------

const byId = (id) => document.getElementById(id);
const escapeHtml = (text) => String(text).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

function where() {
  const checked = document.querySelector("#play-where input:checked");
  return checked ? checked.value : IN_THE_PAGE;
}

function showScreen(inPage) {
  const page = byId("play-page-block");
  const server = byId("play-screen");
  if (page) page.classList.toggle("in-page", inPage);
  if (server) server.style.display = inPage ? "none" : "";
}

function draw(frame) {
  const canvas = byId("play-canvas");
  if (!canvas) return;
  const { height, width } = game.model;
  if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
  canvas.getContext("2d").putImageData(new ImageData(toPixels(frame, height, width), width, height), 0, 0);
  canvas.dataset.step = String(game.steps); // which step the canvas shows
}

// The page's status line: an element of its own inside #play-status, shown instead of the server's (Gradio
// redraws its own markdown, and an element it did not make would be lost on its next update).
function setStatus(html) {
  const status = byId("play-status");
  if (!status) return;
  let line = byId("play-page-status");
  if (!line) {
    line = document.createElement("div");
    line.id = "play-page-status";
    line.className = "prose";
    status.appendChild(line);
  }
  line.innerHTML = html;
  line.hidden = false;
  showServerStatus(false);
}

function showServerStatus(shown) {
  const server = document.querySelector("#play-status [data-testid='markdown-wrapper']");
  if (server) server.style.display = shown ? "" : "none";
  const line = byId("play-page-status");
  if (line && shown) line.hidden = true;
}

function threadsWord() {
  const threads = ort ? ort.env.wasm.numThreads : 1;
  return threads === 1 ? "1 thread" : `${threads} threads`;
}

function statusLine() {
  const latency = game.medianLatency();
  const timing = latency
    ? ` · step time <strong>${latency.toFixed(1)} ms</strong> (model, median)`
      + ` → up to ${Math.round(1000 / latency)} frames/s`
    : "";
  const rate = game.stepsPerSecond();
  const pace = rate ? ` · playing at <strong>${rate.toFixed(1)} steps/s</strong>` : "";
  const recent = game.codes.slice(-RECENT_CODES).map((code) => pressName(game.model, code)).join(" ") || "—";
  const left = game.leftFamiliarAt;
  const ground = left === null
    ? " · on familiar ground"
    : ` · <strong>left familiar ground at step ${left}</strong>: the frames since look unlike any the model knows`;
  return `<p><strong>${game.steps} step${game.steps === 1 ? "" : "s"} played</strong> <strong>in this browser</strong> (WebAssembly, ${threadsWord()}) · `
    + `last codes: ${recent}${ground}${timing}${pace}</p>`;
}

// How the status lists a press: a code's number, or the clip's transition its vector was taken from ("12→13").
function pressName(model, code) {
  if (!model.fromClip || code < model.fromClip.firstPress) return String(code);
  const t = code - model.fromClip.firstPress;
  return `${t}→${t + 1}`;
}

function setRunBox(on) {
  const box = document.querySelector("#play-run input");
  if (box) box.checked = on;
}

function fillPace(start) {
  const pace = byId("play-pace");
  if (!pace) return;
  const gameRate = start.steps_per_second;
  pace.innerHTML = "";
  pace.add(new Option(`the game's pace (${+gameRate.toFixed(1)} steps/s)`, String(gameRate)));
  if (start.max_steps_per_second > gameRate) {
    pace.add(new Option(`as fast as the screen (up to ${start.max_steps_per_second} steps/s)`,
      String(start.max_steps_per_second)));
  }
}

function runPace() {
  const pace = byId("play-pace");
  return Number(pace && pace.value) || 60;
}

let queue = Promise.resolve(); // steps and undos run one after another, in the order pressed
let pending = 0; // how many are queued or running
let told = 0; // when the status line was last written

function act(work) {
  pending += 1;
  queue = queue
    .then(() => perform(work))
    .catch((error) => setStatus(`<p>The model failed in this browser: ${escapeHtml(error.message)}</p>`))
    .finally(() => { pending -= 1; });
  return queue;
}

async function perform(work) {
  const playing = game;
  if (!playing) return;
  const frame = await work(playing);
  if (game !== playing) return; // the game ended, or another began, while the step ran
  if (frame) draw(frame);
  const now = performance.now();
  if (!game.running || now - told >= STATUS_PERIOD_MS) {
    told = now;
    setStatus(statusLine());
  }
}

// `callback` as a task of its own, at once: after the page has drawn what is due, without a timer's clamp
const taskChannel = new MessageChannel();
const dueTasks = [];
taskChannel.port1.onmessage = () => dueTasks.shift()();
function nextTask(callback) {
  dueTasks.push(callback);
  taskChannel.port2.postMessage(null);
}

// Run mode: press the last code again at the chosen pace. A step starts once the one before it has landed and its
// time has come (at once, when steps are slower than the pace); its frame shows at the screen's next refresh. A
// timer paces it rather than requestAnimationFrame, which would hold every step until a refresh. A hidden tab's
// timers slow to one a second, so a game nobody watches all but stops.
function runLoop() {
  const playing = game;
  const loop = (playing.loop = {}); // a loop started later (Run off and on again) takes over from this one
  let due = performance.now(); // when the next step is due, on the pace's own timeline
  let undrawn = 0; // steps in a row not drawn
  let movedAt = -Infinity; // when the timeline last moved: the page could not make up the time it had lost
  const tick = async () => {
    if (game !== playing || !playing.running || playing.loop !== loop) return;
    const period = 1000 / runPace();
    // a step whose successor is due already is not decoded: its frame would be replaced before a screen could show
    // it, so steps that make up for a moment's hold-up cost a prediction alone (up to MAX_UNDRAWN in a row). A page
    // that cannot keep the pace at all (the timeline moved within OVERLOADED_MS) draws every step: its game slows,
    // and the screen shows each step rather than one in a few
    const started = performance.now();
    const shown = started < due + period || undrawn >= MAX_UNDRAWN || started - movedAt < OVERLOADED_MS;
    undrawn = shown ? 0 : undrawn + 1;
    await act((g) => g.step(g.codes.length ? g.codes[g.codes.length - 1] : 0, shown));
    const now = performance.now();
    // a timer that fires late, or a step held up by the page, does not slow the game: the steps after it keep to
    // the timeline, at once until they are back on it (a game loop's fixed time step); behind by more than
    // CATCH_UP_MS (a busy machine, a hidden tab), the timeline moves rather than the game bursting to catch up
    if (now - CATCH_UP_MS > due + period) movedAt = now;
    due = Math.max(due + period, now - CATCH_UP_MS);
    const wait = due - now;
    // late already, a step follows at once: a chain of zero timers would be held 4 ms each by the browser (a
    // hidden tab keeps its timers, which the browser slows)
    if (wait > 0 || document.hidden) setTimeout(tick, Math.max(0, wait));
    else nextTask(tick);
  };
  tick();
}

// The server handed the page a game (after Start, Reset, or the switch to "In this browser"); null: nothing to
// hand (the server refused the start, or another of the events that hand a game already did), and what was
// pressed meanwhile goes to the server, unless a game is being opened here.
export async function begin(start) {
  if (!start) {
    if (!opening) {
      starting = null;
      held.length = 0;
    }
    return;
  }
  end();
  starting = performance.now();
  opening += 1;
  setStatus(`<p>Opening the model in this browser: <strong>${start.bundle}</strong>, ${start.description}…</p>`);
  try {
    const model = await openModel(start);
    game = new PageGame(model, start);
    fillPace(start);
    setRunBox(false);
    draw(await game.frame());
    showScreen(true);
    setStatus(game.steps ? statusLine()
      : `<p>Started from ${start.description}, <strong>in this browser</strong>. Press a code.</p>`);
  } catch (error) {
    game = null;
    const reason = error instanceof Unable ? error.message : `the model failed in this browser (${error.message})`;
    fallBack(start, reason);
  } finally {
    starting = null;
    opening -= 1;
  }
  held.splice(0).forEach(press); // what was pressed while the game was on its way
}

// The game ends in the page (another bundle picked, another clip analyzed, or it went to the server).
export function end() {
  if (game) game.running = false;
  game = null;
  setRunBox(false);
  showScreen(false);
  showServerStatus(true);
}

let pendingHandover = null; // what the switch to the server carries, when the page itself made it

// Called by the switch's change event before it reaches the server: the game the server should carry on.
export function handOver(choice) {
  if (choice !== ON_THE_SERVER) return null;
  const handover = pendingHandover || (game ? game.handover(null) : null);
  pendingHandover = null;
  end();
  return handover;
}

// This browser cannot play: the switch goes to the server, which carries the game on from its start.
function fallBack(start, reason) {
  const context = { shape: start.context.shape, data: start.context.data };
  pendingHandover = { context, steps: start.steps, left_familiar_at: start.left_familiar_at, reason };
  const server = Array.from(document.querySelectorAll("#play-where input")).find((i) => i.value === ON_THE_SERVER);
  if (server) server.click();
  else setStatus(`<p>This browser cannot play the model: ${escapeHtml(reason)}.</p>`);
}

const CODE_BUTTON = /^play-code-(\d+)$/;
const CLIP_BUTTON = /^play-clip-vector-(\d+)$/; // the clip's transition nearest a display cluster's centre
const PICKED_BUTTON = "play-clip-vector-picked"; // the transition chosen on #play-clip-transition

// While the page plays, the Play tab's codes, Undo and Run act here; their clicks never reach the server. (Reset
// does: the server starts the game again from the start frame and hands it to the page, as Start does.)
function intercept(event) {
  if (where() !== IN_THE_PAGE || !event.target.closest) return;
  if (event.target.closest("#play-start, #play-reset")) starting = performance.now(); // the server starts it
  if (starting !== null && performance.now() - starting > START_WAIT_MS) starting = null;
  if (!game && starting === null) return;
  const control = event.target.closest("[id^='play-code-'], [id^='play-clip-vector-'], #play-undo, #play-run");
  if (!control) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  if (!game || starting !== null) held.push(control);
  else press(control);
}

function press(control) {
  if (!game) return;
  const code = CODE_BUTTON.exec(control.id);
  const representative = CLIP_BUTTON.exec(control.id);
  if (code) act((g) => g.step(Number(code[1])));
  else if (representative || control.id === PICKED_BUTTON) pressFromClip(representative);
  else if (control.id === "play-undo") act((g) => g.undo());
  else {
    game.running = !game.running;
    setTimeout(() => setRunBox(game ? game.running : false)); // after the browser undoes the cancelled toggle
    if (game.running) runLoop();
    else act((g) => g.frame()); // the last step drawn (Run may have left it undrawn), and the steps' count
  }
}

// A vector taken from the clip: a representative's button (`representative`: its id's match), or the transition
// chosen on the slider.
function pressFromClip(representative) {
  const fromClip = game.model.fromClip;
  if (!fromClip) {
    setStatus("<p>This game has no vectors taken from a clip: analyze one on the Clip tab, then press Start.</p>");
    return;
  }
  const picked = document.querySelector("#play-clip-transition input[type='number']");
  const t = representative
    ? fromClip.representatives[Number(representative[1])]?.[1]
    : Number(picked && picked.value);
  if (!Number.isInteger(t) || t < 0 || t >= fromClip.transitions) {
    setStatus(`<p>${escapeHtml(fromClip.clip)}'s transitions leave frames 0 to ${fromClip.transitions - 1}.</p>`);
    return;
  }
  act((g) => g.step(fromClip.firstPress + t));
}

document.addEventListener("click", intercept, true);
window.studioPlay = { begin, end, handOver, where };
