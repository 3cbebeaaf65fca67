// The playground page (runs in a browser; bundled by build.ts with the packages' browser entries).
// It loads a model folder and an optional adapter folder (by URL from playground.json, by
// ?model= / ?adapter= URLs, or picked from disk), then generates with sampled exits, token by
// token, colouring each token by the layer it exited at. Nothing is fetched from elsewhere.
import { initBrowserBackend, memoryFileSource, tf, urlFileSource, type BrowserBackendChoice, type FileSource } from "@eecot/tensor-core";
import { disposeModel, loadQwenModelFrom, loadTokenizerFrom, type QwenModel, type Tokenizer } from "@eecot/transformer";
import { accountCompute, EarlyExitModel, loadEarlyExitAdaptersFrom, replayInputs, type StreamedToken, type TokenTrace } from "@eecot/early-exit";

/** playground.json, written by `eecot playground`. */
interface Manifest {
  readonly model: string;
  readonly adapter: string | null;
  readonly defaults: { readonly prompt: string; readonly maxNewTokens: number; readonly temperature: number; readonly seed: number };
}

/** One generated token as the page shows it. */
interface ShownToken {
  readonly token: number;
  readonly piece: string;
  readonly exitLayer: number;
  readonly headProbabilities: readonly number[];
  /** Per exitable layer (then the final layer): the logit lens's top tokens, filled in after the run. */
  lens?: { layer: number; top: { piece: string; probability: number }[] }[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);

let base: QwenModel | null = null;
let tokenizer: Tokenizer | null = null;
let model: EarlyExitModel | null = null;
let adapterLabel = "none";
let running: AbortController | null = null;
/** Every adapter-side token of this page's runs: the running averages. */
const session: TokenTrace[] = [];

function showError(context: string, error: unknown): void {
  const box = $("error");
  box.textContent = `${context}: ${error instanceof Error ? error.message : String(error)}`;
  box.hidden = false;
  $("status").dataset.state = "error";
}

function clearError(): void {
  $("error").hidden = true;
  $("error").textContent = "";
}

/** Colour of exit layer `layer` of L: early exits warm, full depth cool. */
function depthColour(layer: number, L: number): string {
  const hue = 20 + (200 * (layer - 1)) / Math.max(1, L - 1);
  return `hsl(${hue.toFixed(0)} 75% 82%)`;
}

// ---------------------------------------------------------------------------------------------
// Loading

async function load(modelSource: FileSource, adapterSource: FileSource | null): Promise<void> {
  clearError();
  $("status").dataset.state = "loading";
  $("status").textContent = `loading ${modelSource.label}…`;
  model?.dispose();
  if (base) disposeModel(base);
  model = null;
  base = null;
  const started = performance.now();
  const loadedBase = await loadQwenModelFrom(modelSource);
  try {
    tokenizer = await loadTokenizerFrom(modelSource);
    model = adapterSource ? await loadEarlyExitAdaptersFrom(adapterSource, loadedBase, { allowMissingHeads: true }) : EarlyExitModel.create(loadedBase);
  } catch (error) {
    disposeModel(loadedBase);
    throw error;
  }
  base = loadedBase;
  adapterLabel = adapterSource ? adapterSource.label : "none (untrained exit heads: below the gate nothing exits until the offset is raised)";
  session.length = 0;
  $<HTMLInputElement>("offset").value = String(model.config.exitOffset);
  $<HTMLInputElement>("gate").value = String(model.config.minExitProb);
  showOffset();
  drawLegend();
  const L = base.config.numLayers;
  $("status").dataset.state = "ready";
  $("status").textContent =
    `${tf.getBackend()} · model ${modelSource.label} (${L} layers, exits at ${model.exitLayers.join(", ")}) · adapter ${adapterLabel} · loaded in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  updateAverages();
}

function drawLegend(): void {
  const legend = $("legend");
  legend.replaceChildren();
  if (!model) return;
  const L = model.numLayers;
  for (const layer of [...model.exitLayers, L]) {
    const item = document.createElement("span");
    item.className = "swatch";
    item.style.background = depthColour(layer, L);
    item.textContent = layer === L ? `layer ${L} (full depth)` : `exit at layer ${layer}`;
    legend.append(item);
  }
}

/** Files dropped or picked, by file name (a folder's relative paths are dropped). */
async function filesOf(list: Iterable<File>): Promise<Map<string, File>> {
  const files = new Map<string, File>();
  for (const file of list) files.set(file.name, file);
  return files;
}

/** Every file under dropped items, folders walked. */
async function droppedFiles(items: DataTransferItemList): Promise<File[]> {
  const out: File[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) out.push(await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)));
    else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
        if (batch.length === 0) break;
        for (const child of batch) await walk(child);
      }
    }
  };
  const entries = Array.from(items).map((item) => item.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  for (const entry of entries) await walk(entry);
  return out;
}

let pickedModel: Map<string, File> | null = null;

async function usePicked(files: File[]): Promise<void> {
  const byName = await filesOf(files);
  try {
    if (byName.has("adapter_config.json")) {
      if (!base && !pickedModel) throw new Error("pick or drop the model folder first (config.json, model.safetensors, tokenizer.json)");
      const modelSource = pickedModel ? memoryFileSource(pickedModel, "picked model") : urlSourceOfModel();
      await load(modelSource, memoryFileSource(byName, "picked adapter"));
    } else if (byName.has("config.json")) {
      pickedModel = byName;
      await load(memoryFileSource(byName, "picked model"), null);
    } else {
      throw new Error(`the picked files (${[...byName.keys()].slice(0, 5).join(", ")}) are neither a model folder (config.json) nor an adapter folder (adapter_config.json)`);
    }
  } catch (error) {
    showError("Could not load the picked folder", error);
  }
}

let manifest: Manifest | null = null;
const urlSourceOfModel = () => urlFileSource(new URL(params.get("model") ?? manifest!.model, location.href).href);

// ---------------------------------------------------------------------------------------------
// Generation

function tokenSpan(shown: ShownToken, index: number, L: number): HTMLSpanElement {
  const span = document.createElement("span");
  span.className = "token";
  span.textContent = shown.piece;
  span.dataset.index = String(index);
  span.dataset.token = String(shown.token);
  span.dataset.layer = String(shown.exitLayer);
  span.style.background = depthColour(shown.exitLayer, L);
  span.title = "";
  span.addEventListener("mouseenter", () => showCard(span, shown));
  span.addEventListener("mouseleave", () => ($("card").hidden = true));
  return span;
}

function showCard(span: HTMLElement, shown: ShownToken): void {
  if (!model) return;
  const card = $("card");
  const L = model.numLayers;
  const rows = model.exitLayers.map((layer, k) => {
    const p = shown.headProbabilities[k];
    const value = p === undefined || Number.isNaN(p) ? "not evaluated (already exited)" : p.toFixed(3);
    const lens = shown.lens?.find((entry) => entry.layer === layer);
    const top = lens ? lens.top.map((t) => `${JSON.stringify(t.piece)} ${(100 * t.probability).toFixed(0)}%`).join(", ") : "…";
    return `<tr${layer === shown.exitLayer ? ' class="taken"' : ""}><td>${layer}</td><td>${value}</td><td>${escapeHtml(top)}</td></tr>`;
  });
  const finalLens = shown.lens?.find((entry) => entry.layer === L);
  const finalTop = finalLens ? finalLens.top.map((t) => `${JSON.stringify(t.piece)} ${(100 * t.probability).toFixed(0)}%`).join(", ") : "…";
  rows.push(`<tr${shown.exitLayer === L ? ' class="taken"' : ""}><td>${L}</td><td>—</td><td>${escapeHtml(finalTop)}</td></tr>`);
  card.innerHTML =
    `<div><b>${escapeHtml(JSON.stringify(shown.piece))}</b> exited at layer <b>${shown.exitLayer}</b> of ${L}</div>` +
    `<table><thead><tr><th>layer</th><th>exit prob.</th><th>logit lens top tokens</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
  const box = span.getBoundingClientRect();
  card.style.left = `${Math.round(box.left + window.scrollX)}px`;
  card.style.top = `${Math.round(box.bottom + window.scrollY + 4)}px`;
  card.hidden = false;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

const numberInput = (id: string) => Number(($(id) as HTMLInputElement).value);

function showOffset(): void {
  const value = numberInput("offset");
  $("offset-value").textContent = `${value > 0 ? "+" : ""}${value.toFixed(1)}`;
}

function updateAverages(): void {
  if (!base) return;
  const account = accountCompute(base.config, session);
  const early = session.filter((t) => t.exitLayer < base!.config.numLayers).length;
  $("exit-rate").textContent = session.length ? `${((100 * early) / session.length).toFixed(1)} %` : "–";
  $("als").textContent = session.length ? `${(100 * account.averageLayerSavings).toFixed(1)} %` : "–";
  $("flops-saved").textContent = session.length ? `${(100 * account.savedFraction).toFixed(1)} %` : "–";
  $("token-count").textContent = String(session.length);
}

/** One column of output: generates into `column`, streaming; returns the tokens. */
async function generateInto(column: HTMLElement, promptIds: number[], side: "adapter" | "base", signal: AbortSignal): Promise<ShownToken[]> {
  const current = model!;
  const L = current.numLayers;
  const shown: ShownToken[] = [];
  const started = performance.now();
  let firstTokenMs: number | null = null;
  const stopTokenIds = tokenizer!.eosTokenIds.length > 0 ? tokenizer!.eosTokenIds : base!.config.eosTokenIds;
  const onToken = async (streamed: StreamedToken) => {
    firstTokenMs ??= performance.now() - started;
    const item: ShownToken = { token: streamed.token, piece: tokenizer!.decodeTokens([streamed.token])[0]!, exitLayer: streamed.exitLayer, headProbabilities: streamed.headProbabilities };
    shown.push(item);
    column.append(tokenSpan(item, shown.length - 1, L));
    if (side === "adapter") {
      session.push({ exitLayer: item.exitLayer, contextLength: promptIds.length + streamed.index, headsEvaluated: item.headProbabilities.filter((p) => !Number.isNaN(p)).length });
      updateAverages();
      $("ttft").textContent = `${firstTokenMs.toFixed(0)} ms`;
    }
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the page paint the token
  };
  await current.generate([promptIds], {
    maxNewTokens: numberInput("max-tokens"),
    temperature: numberInput("temperature"),
    seed: numberInput("seed"),
    stopTokenIds,
    padTokenId: tokenizer!.padTokenId ?? 0,
    mode: side === "base" ? "none" : "sample",
    loraEnabled: side !== "base",
    exitOffset: numberInput("offset"),
    minExitProb: numberInput("gate"),
    onToken,
    signal,
  });
  if (side === "adapter") {
    const seconds = (performance.now() - started) / 1000;
    $("speed").textContent = `${(shown.length / seconds).toFixed(1)} tok/s`;
  }
  if (shown.length > 0) addLens(promptIds, shown, side === "base");
  const mean = shown.reduce((sum, t) => sum + t.exitLayer, 0) / Math.max(1, shown.length);
  column.dataset.meanExitLayer = mean.toFixed(4);
  return shown;
}

/** The logit lens of every token at every exitable layer: one teacher-forced replay of the run. */
function addLens(promptIds: number[], shown: ShownToken[], baseSide: boolean): void {
  const current = model!;
  const L = current.numLayers;
  const { ids, exits } = replayInputs(promptIds, shown.map((t) => t.token), shown.map((t) => t.exitLayer), L);
  const result = current.forwardPrescribed([ids], [exits], { returnLens: true, loraEnabled: !baseSide });
  try {
    const layers = [...current.exitLayers, L];
    const tables = [...result.lensLogits, result.logits!].map((logits) => {
      const probabilities = tf.softmax(logits);
      const values = probabilities.arraySync() as number[][][]; // [1, T, V]
      probabilities.dispose();
      return values;
    });
    shown.forEach((item, i) => {
      const position = promptIds.length - 1 + i;
      item.lens = layers.map((layer, k) => {
        const probabilities = tables[k]![0]![position]!;
        const top = probabilities.map((p, id) => [p, id] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
        return { layer, top: top.map(([probability, id]) => ({ piece: tokenizer!.decodeTokens([id])[0]!, probability })) };
      });
    });
  } finally {
    tf.dispose([result.hidden, result.exitLogits, ...result.lensLogits, ...(result.logits ? [result.logits] : [])]);
  }
}

async function generate(): Promise<void> {
  if (!model || !tokenizer || !base) return;
  if (running) {
    running.abort();
    return;
  }
  clearError();
  const output = $("output");
  output.replaceChildren();
  output.dataset.state = "running";
  const compare = ($("compare") as HTMLInputElement).checked;
  output.classList.toggle("compare", compare);
  const prompt = ($("prompt") as HTMLTextAreaElement).value;
  const text = tokenizer.hasChatTemplate ? tokenizer.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true }) : prompt;
  const promptIds = tokenizer.encode(text);
  running = new AbortController();
  $("generate").textContent = "Stop";
  try {
    const columns = compare ? (["base", "adapter"] as const) : (["adapter"] as const);
    for (const side of columns) {
      const column = document.createElement("div");
      column.className = "column";
      column.dataset.side = side;
      const heading = document.createElement("h3");
      heading.textContent = side === "base" ? "base model (no adapter, all layers)" : `early exit (adapter: ${adapterLabel === "none" || adapterLabel.startsWith("none") ? "none" : adapterLabel})`;
      const text = document.createElement("div");
      text.className = "text";
      column.append(heading, text);
      output.append(column);
      await generateInto(text, promptIds, side, running.signal);
    }
    output.dataset.state = "done";
  } catch (error) {
    output.dataset.state = "error";
    showError("Generation failed", error);
  } finally {
    running = null;
    $("generate").textContent = "Generate";
  }
}

// ---------------------------------------------------------------------------------------------
// Start

async function main(): Promise<void> {
  $("offset").addEventListener("input", showOffset);
  $("generate").addEventListener("click", () => void generate());
  $("reset").addEventListener("click", () => {
    session.length = 0;
    updateAverages();
  });
  $("pick-model").addEventListener("change", (event) => void usePicked(Array.from((event.target as HTMLInputElement).files ?? [])));
  $("pick-adapter").addEventListener("change", (event) => void usePicked(Array.from((event.target as HTMLInputElement).files ?? [])));
  document.body.addEventListener("dragover", (event) => event.preventDefault());
  document.body.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer) void droppedFiles(event.dataTransfer.items).then(usePicked, (error) => showError("Could not read the dropped files", error));
  });
  try {
    const backend = await initBrowserBackend({ backend: (params.get("backend") ?? "auto") as BrowserBackendChoice, wasmPaths: new URL("wasm/", location.href).href });
    $("backend").textContent = `${backend.name}${backend.name === "wasm" ? ` (${backend.threads} thread${backend.threads === 1 ? "" : "s"})` : ""}${backend.fallbackReason ? `; ${backend.fallbackReason}` : ""}`;
    const response = await fetch("playground.json");
    if (!response.ok) throw new Error(`playground.json: HTTP ${response.status}`);
    manifest = (await response.json()) as Manifest;
    ($("prompt") as HTMLTextAreaElement).value = manifest.defaults.prompt;
    ($("max-tokens") as HTMLInputElement).value = String(manifest.defaults.maxNewTokens);
    ($("temperature") as HTMLInputElement).value = String(manifest.defaults.temperature);
    ($("seed") as HTMLInputElement).value = String(manifest.defaults.seed);
    const adapter = params.get("adapter") ?? manifest.adapter;
    await load(urlSourceOfModel(), adapter && adapter !== "none" ? urlFileSource(new URL(adapter, location.href).href) : null);
  } catch (error) {
    showError("Could not load the model", error);
  }
}

void main();
