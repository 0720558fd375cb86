/**
 * builder.ts — `minibox build`: a Dockerfile, step by step, becomes an image.
 *
 * A build is a chain of images. Each instruction takes the image so far and makes the next one —
 * the way Docker's classic builder works, and what `docker build` prints:
 *   Step 3/7 : RUN make
 *    ---> <the new image's ID>
 *   FROM      the first image: pulled if it is not here (or a previous stage, or `scratch`)
 *   RUN       a container from the image so far (its Env, User, WorkingDir; the build args as
 *             environment; ENTRYPOINT ignored), the command under the stage's SHELL; its upper dir
 *             becomes the next layer (lifecycle/commit.ts) — a failing RUN stops the build with
 *             its exit code, and the container is removed either way
 *   COPY/ADD  files laid out in a scratch dir and written as a layer (copy-files.ts)
 *   WORKDIR   the directory, made as a layer when the image lacks it
 *   ARG       a variable for the steps after it (not kept in the image)
 *   the rest  config only (config-instructions.ts): a history line, no layer
 * Every step is looked up in the build cache first (build-cache.ts). The intermediate images are
 * recorded only while the build needs them (a RUN runs from one); at the end the last one is the
 * image, tagged with every `-t`, and the others are forgotten — their layers stay in the store,
 * shared with the final image and remembered by the cache.
 *
 * Try: `printf 'FROM busybox\nRUN echo hello-from-build > /hi\nCMD ["cat", "/hi"]\n' > Dockerfile &&
 * minibox build -q -t hello . >/dev/null && minibox run --rm hello && minibox rmi hello >/dev/null`
 * → `hello-from-build`
 */
import fs from 'node:fs';
import path from 'node:path';
import { MiniboxError, describeError } from '../errors.js';
import { STORE_LOCK, withLock } from '../lock.js';
import type { StateRoot } from '../state-root.js';
import { LayerStack } from '../bundle/layer-view.js';
import { resolveUser } from '../bundle/user.js';
import { shortId } from '../image/digest.js';
import type { ImageConfig } from '../image/oci.js';
import { parsePlatform } from '../image/platform.js';
import { parseReference } from '../image/reference.js';
import { ImageStore, type ImageRecord, type LayerRecord } from '../image/store/images.js';
import { writeLayerBlob } from '../image/pack/layer-blob.js';
import { storeNewImage } from '../image/pack/new-image.js';
import { findImageForRun } from '../lifecycle/image-source.js';
import { lookup, remember, stepKey } from './build-cache.js';
import { runBuildContainer, type BuildOutput } from './build-container.js';
import { explainCacheHit, explainCopy, explainResult, explainRun } from './explain-build.js';
import { applyConfigInstruction, commandOf, DEFAULT_SHELL, type StageMeta } from './config-instructions.js';
import { contextSource, hashSources, rootSource, stageCopy, expandSource, type CopySource } from './copy-files.js';
import { DockerfileError, parseDockerfile, type Instruction } from './dockerfile.js';
import { fromParts, planStages, stageNamed, type StagePlan } from './stages.js';
import { EXPANDING, keyValuePairs, substitute } from './substitute.js';

export interface BuildRequest {
  context: string;
  /** Path of the Dockerfile (default: CONTEXT/Dockerfile). */
  dockerfile?: string;
  tags: string[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  network?: string;
  labels?: Record<string, string>;
  insecureRegistries?: string[];
  /** Narrate what each step does to layers and config (stderr). */
  explain?: boolean;
  /** Where RUN output and base-image pulls go (the API's build stream); minibox's stdout/stderr otherwise. */
  output?: BuildOutput;
  /** Aborted (the API's client went away): the build stops at the next step, a RUN is killed. */
  signal?: AbortSignal;
}

export interface BuildResult {
  image: ImageRecord;
  /** Steps taken from the cache, and containers run for RUN steps. */
  cachedSteps: number;
  containersRun: number;
}

/** Proxy variables every build accepts without an ARG (Docker's predefined ARGs). */
const PREDEFINED_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

/** One stage in progress: the image so far and what the Dockerfile said about it. */
interface StageState {
  /** The image the next step starts from ('scratch' for none yet). */
  imageId: string;
  config: ImageConfig;
  layers: LayerRecord[];
  meta: StageMeta;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string>;
}

export class Builder {
  private readonly store: ImageStore;
  private readonly say: (line: string) => void;
  /** `--explain`: sentences on stderr (explain-build.ts). */
  private readonly explain: (line: string) => void;
  private readonly intermediate = new Set<string>();
  private readonly usedArgs = new Set<string>();
  /** Where a base image's pull progress goes, when not stderr. */
  private readonly pullProgress: { progress?: NodeJS.WritableStream };
  private step = 0;
  private totalSteps = 0;
  private cachedSteps = 0;
  private containersRun = 0;

  constructor(private readonly root: StateRoot, private readonly request: BuildRequest, out: (line: string) => void) {
    this.store = new ImageStore(root);
    this.pullProgress = request.output ? { progress: request.output.stdout } : {};
    this.say = request.quiet ? () => undefined : out;
    this.explain = request.explain ? (line) => process.stderr.write(`minibox: ${line}\n`) : () => undefined;
  }

  async build(): Promise<BuildResult> {
    const file = this.request.dockerfile ?? path.join(this.request.context, 'Dockerfile');
    if (!fs.existsSync(file)) throw new MiniboxError(`unable to prepare context: no Dockerfile at ${file}`, 1);
    if (!fs.statSync(this.request.context).isDirectory()) throw new MiniboxError(`unable to prepare context: ${this.request.context} is not a directory`, 1);
    const dockerfile = parseDockerfile(fs.readFileSync(file, 'utf8'), path.basename(file));
    const plan = planStages(dockerfile, this.request.target);
    this.totalSteps = plan.needed.reduce((sum, index) => sum + 1 + plan.stages[index]!.steps.length, 0);
    const globalArgs = this.declareArgs(new Map(), plan.globalArgs);
    const finished = new Map<number, StageState>();
    try {
      for (const index of plan.needed) finished.set(index, await this.buildStage(plan, index, globalArgs, finished, dockerfile.escape));
      const last = finished.get(plan.needed.at(-1)!)!;
      const image = await this.finish(last);
      const unused = Object.keys(this.request.buildArgs).filter((name) => !this.usedArgs.has(name) && !PREDEFINED_ARGS.includes(name));
      if (unused.length > 0) this.say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed`);
      return { image, cachedSteps: this.cachedSteps, containersRun: this.containersRun };
    } finally {
      await this.forgetIntermediates();
    }
  }

  /** ARG instructions: declared names get --build-arg values, else their defaults. */
  private declareArgs(into: Map<string, string>, instructions: Instruction[], visible: ReadonlyMap<string, string> = into): Map<string, string> {
    for (const instruction of instructions) {
      for (const [name, fallback] of keyValuePairs(instruction.args)) {
        this.usedArgs.add(name);
        const given = this.request.buildArgs[name];
        const inherited = visible.get(name);
        const value = given ?? (instruction.args.includes('=') ? substitute(fallback, visible) : inherited);
        if (value !== undefined) into.set(name, value);
      }
    }
    return into;
  }

  private async buildStage(plan: StagePlan, index: number, globalArgs: Map<string, string>, finished: Map<number, StageState>, escape: string): Promise<StageState> {
    const stage = plan.stages[index]!;
    const { image: rawImage } = fromParts(stage.from);
    const imageName = substitute(rawImage, globalArgs, escape);
    this.announce(stage.from);
    const state = await this.startStage(plan, index, imageName, stage.from, finished);
    if (state.imageId !== 'scratch') this.say(` ---> ${shortId(state.imageId)}`);
    // A stage sees the global ARGs only if it declares them again (`ARG NAME` without a value).
    const triggers = (state.config.config?.OnBuild ?? []).map((text, i) => ({ ...parseDockerfile(`FROM scratch\n${text}`).instructions[1]!, line: stage.from.line, original: `${text} (ONBUILD ${i + 1})` }));
    if (state.config.config) state.config.config.OnBuild = null;
    for (const instruction of [...triggers, ...stage.steps]) {
      if (!triggers.includes(instruction as never)) this.announce(instruction);
      await this.runStep(plan, index, state, instruction, globalArgs, finished, escape);
    }
    return state;
  }

  private announce(instruction: Instruction): void {
    this.request.signal?.throwIfAborted();
    this.step += 1;
    this.say(`Step ${this.step}/${this.totalSteps} : ${instruction.original}`);
  }

  private async startStage(plan: StagePlan, index: number, imageName: string, from: Instruction, finished: Map<number, StageState>): Promise<StageState> {
    const meta: StageMeta = { cmdSet: false };
    const previous = stageNamed(plan, imageName, index);
    if (previous) {
      const base = finished.get(previous.index)!;
      return { imageId: base.imageId, config: structuredClone(base.config), layers: [...base.layers], meta, args: new Map() };
    }
    if (imageName.toLowerCase() === 'scratch') {
      const platform = parsePlatform(from.flags.platform);
      return { imageId: 'scratch', config: { architecture: platform.architecture, os: platform.os, config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, layers: [], meta, args: new Map() };
    }
    let image;
    try {
      image = await findImageForRun(this.root, imageName, {
        pull: this.request.pull ? 'always' : 'missing', quiet: this.request.quiet ?? false, ...this.pullProgress,
        ...(from.flags.platform ? { platform: from.flags.platform } : {}), insecureRegistries: this.request.insecureRegistries ?? [],
      });
    } catch (error) {
      throw new DockerfileError('Dockerfile', from.line, `FROM ${imageName}: ${describeError(error)}`);
    }
    const record = this.store.get(image.id);
    return { imageId: record.id, config: structuredClone(this.store.config(record)), layers: [...record.layers], meta, args: new Map() };
  }

  /** Variables a step sees: this stage's ARGs, then its ENV (ENV wins). */
  private variables(state: StageState): Map<string, string> {
    const vars = new Map(state.args);
    for (const entry of state.config.config?.Env ?? []) {
      const equals = entry.indexOf('=');
      vars.set(entry.slice(0, equals), entry.slice(equals + 1));
    }
    return vars;
  }

  private async runStep(plan: StagePlan, index: number, state: StageState, instruction: Instruction, globalArgs: Map<string, string>, finished: Map<number, StageState>, escape: string): Promise<void> {
    const args = EXPANDING.has(instruction.name) ? substitute(instruction.args, this.variables(state), escape) : instruction.args;
    switch (instruction.name) {
      case 'ARG':
        this.declareArgs(state.args, [instruction], new Map([...globalArgs, ...state.args]));
        return await this.commitStep(state, `/bin/sh -c #(nop)  ARG ${args}`, '', async () => undefined, true);
      case 'RUN':
        return await this.runInstruction(state, instruction);
      case 'COPY':
      case 'ADD':
        return await this.copyInstruction(plan, index, state, instruction, args, finished);
      case 'WORKDIR':
        return await this.workdirInstruction(state, args);
      case 'FROM':
        throw new DockerfileError('Dockerfile', instruction.line, 'FROM inside a stage');
      default: {
        const config = state.config.config ??= {};
        applyConfigInstruction(config, state.meta, instruction, args);
        if (state.meta.author !== undefined) state.config.author = state.meta.author;
        const shown = instruction.json ? JSON.stringify(commandOf(instruction, args, config.Shell ?? DEFAULT_SHELL)) : args;
        return await this.commitStep(state, `/bin/sh -c #(nop)  ${instruction.name} ${shown}`, JSON.stringify(config), async () => undefined, true);
      }
    }
  }

  /**
   * One step: from the cache, or by `produce` (which returns the new layer, or none). Either way
   * the result is recorded as the stage's new image.
   */
  private async commitStep(state: StageState, createdBy: string, extraKey: string, produce: () => Promise<LayerRecord | undefined>, metadataOnly = false): Promise<void> {
    const key = stepKey(state.imageId, createdBy, extraKey);
    const hit = this.request.noCache ? undefined : lookup(this.root, this.store, key);
    if (hit) {
      const image = await this.store.record(hit, undefined);
      this.cachedSteps += 1;
      this.adopt(state, image);
      this.say(' ---> Using cache');
      this.explain(explainCacheHit(image.id));
      this.say(` ---> ${shortId(image.id)}`);
      return;
    }
    const layer = await produce();
    this.explain(explainResult(layer));
    const created = new Date().toISOString();
    state.config = {
      ...state.config,
      created,
      rootfs: { type: 'layers', diff_ids: [...state.config.rootfs.diff_ids, ...(layer ? [layer.diffId] : [])] },
      history: [...(state.config.history ?? []), { created, created_by: createdBy, ...(layer ? {} : { empty_layer: true }) }],
    };
    if (layer) state.layers = [...state.layers, layer];
    const image = await withLock(this.root.locks, STORE_LOCK, async () => await storeNewImage(this.store, state.config, state.layers), 'shared');
    this.adopt(state, image);
    if (!metadataOnly || !this.request.noCache) await remember(this.root, key, image);
    this.say(` ---> ${shortId(image.id)}`);
  }

  private adopt(state: StageState, image: ImageRecord): void {
    state.imageId = image.id;
    state.config = this.store.config(image);
    state.layers = [...image.layers];
    if (image.repoTags.length === 0) this.intermediate.add(image.id);
  }

  private async runInstruction(state: StageState, instruction: Instruction): Promise<void> {
    const shell = state.config.config?.Shell ?? DEFAULT_SHELL;
    const argv = commandOf(instruction, instruction.args, shell);
    const argEnv = [...state.args].map(([name, value]) => `${name}=${value}`);
    for (const name of PREDEFINED_ARGS) if (this.request.buildArgs[name] !== undefined) argEnv.push(`${name}=${this.request.buildArgs[name]}`);
    // Docker's classic builder writes the build args into RUN's history line: `|1 V=2 /bin/sh -c …`.
    const createdBy = `${argEnv.length > 0 ? `|${argEnv.length} ${argEnv.join(' ')} ` : ''}${instruction.json ? JSON.stringify(argv) : argv.join(' ')}`;
    await this.commitStep(state, createdBy, '', async () => {
      if (state.imageId === 'scratch') throw new DockerfileError('Dockerfile', instruction.line, 'RUN in a stage FROM scratch with no files: there is no shell to run');
      this.explain(explainRun(state.imageId, argv));
      this.containersRun += 1;
      return await runBuildContainer(this.root, {
        imageId: state.imageId, argv, env: argEnv, quiet: this.request.quiet ?? false,
        ...(this.request.network ? { network: this.request.network } : {}),
        ...(this.request.output ? { output: this.request.output } : {}), ...(this.request.signal ? { signal: this.request.signal } : {}),
      }, (id) => this.say(`Removing intermediate container ${id.slice(0, 12)}`));
    });
  }

  /** The root a COPY reads from: the context, a finished stage's image, or any image. */
  private async copySource(plan: StagePlan, index: number, from: string | undefined, finished: Map<number, StageState>, instruction: Instruction): Promise<{ source: CopySource; release: () => void }> {
    if (from === undefined) return { source: contextSource(this.request.context), release: () => undefined };
    const stage = stageNamed(plan, from, index);
    let imageId = stage ? finished.get(stage.index)?.imageId : undefined;
    if (!imageId) {
      try {
        parseReference(from);
        imageId = (await findImageForRun(this.root, from, { pull: 'missing', quiet: true, ...this.pullProgress, insecureRegistries: this.request.insecureRegistries ?? [] })).id;
      } catch (error) {
        throw new DockerfileError('Dockerfile', instruction.line, `COPY --from=${from}: no build stage or image of that name (${describeError(error)})`);
      }
    }
    if (imageId === 'scratch') throw new DockerfileError('Dockerfile', instruction.line, `COPY --from=${from}: that stage has no files`);
    const { mountImage, unmountImage } = await import('../image/image-mount.js');
    const target = fs.mkdtempSync(path.join(this.root.tmp, `build-from-${process.pid}-`));
    const dir = mountImage(this.root, imageId!, target);
    return { source: rootSource(dir, `stage or image ${from}`), release: () => { unmountImage(this.root, dir); fs.rmdirSync(dir); } };
  }

  private async copyInstruction(plan: StagePlan, index: number, state: StageState, instruction: Instruction, args: string, finished: Map<number, StageState>): Promise<void> {
    const words = instruction.json ?? args.split(/\s+/);
    const sources = words.slice(0, -1);
    const dest = words.at(-1)!;
    const { source, release } = await this.copySource(plan, index, instruction.flags.from, finished, instruction);
    try {
      const image = new LayerStack(state.layers.map((layer) => this.store.layers.dir(layer.diffId)).reverse());
      const chown = instruction.flags.chown !== undefined ? this.ownerFor(instruction.flags.chown, image, instruction) : undefined;
      const chmod = instruction.flags.chmod !== undefined ? Number.parseInt(instruction.flags.chmod, 8) : undefined;
      if (chmod !== undefined && (Number.isNaN(chmod) || chmod > 0o7777)) throw new DockerfileError('Dockerfile', instruction.line, `--chmod=${instruction.flags.chmod}: not an octal mode`);
      const expanded = sources.flatMap((src) => expandSource(source, src));
      const sourcesHash = hashSources(source, expanded);
      const createdBy = `/bin/sh -c #(nop) ${instruction.name} ${instruction.flags.from ? `--from=${instruction.flags.from} ` : ''}${instruction.flags.chown ? `--chown=${instruction.flags.chown} ` : ''}${instruction.flags.chmod ? `--chmod=${instruction.flags.chmod} ` : ''}dir:${sourcesHash} in ${dest}`;
      await this.commitStep(state, createdBy, `${state.config.config?.WorkingDir ?? ''}`, async () => {
        this.explain(explainCopy(instruction.name, instruction.flags.from));
        return await this.scratchLayer('copy', (scratch) => stageCopy(source, {
          sources, dest, workdir: state.config.config?.WorkingDir ?? '/', extractArchives: instruction.name === 'ADD',
          ...(chown ? { chown } : {}), ...(chmod !== undefined ? { chmod } : {}),
        }, scratch, image));
      });
    } finally {
      release();
    }
  }

  private ownerFor(spec: string, image: LayerStack, instruction: Instruction): { uid: number; gid: number } {
    try {
      const user = resolveUser(spec, image);
      return { uid: user.uid, gid: user.gid };
    } catch (error) {
      throw new DockerfileError('Dockerfile', instruction.line, `--chown=${spec}: ${describeError(error)}`);
    }
  }

  private async workdirInstruction(state: StageState, args: string): Promise<void> {
    const config = state.config.config ??= {};
    const dir = path.posix.resolve(config.WorkingDir || '/', args);
    config.WorkingDir = dir;
    const image = new LayerStack(state.layers.map((layer) => this.store.layers.dir(layer.diffId)).reverse());
    const exists = image.lookup(dir, true)?.stats.isDirectory() ?? false;
    await this.commitStep(state, `/bin/sh -c #(nop) WORKDIR ${dir}`, '', async () => {
      if (exists) return undefined;
      return await this.scratchLayer('workdir', (scratch) => fs.mkdirSync(path.join(scratch, dir), { recursive: true, mode: 0o755 }));
    });
  }

  /** A layer of what `fill` lays out in a scratch directory (tmp/build-KIND-<pid>-…, owned by this process). */
  private async scratchLayer(kind: 'copy' | 'workdir', fill: (scratch: string) => void): Promise<LayerRecord> {
    const scratch = fs.mkdtempSync(path.join(this.root.tmp, `build-${kind}-${process.pid}-`));
    try {
      fs.chmodSync(scratch, 0o755);
      fill(scratch);
      return await withLock(this.root.locks, STORE_LOCK, async () => await writeLayerBlob(this.store, scratch, { overlayUpper: false }), 'shared');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** The last stage's image, with `--label`s, tagged. */
  private async finish(state: StageState): Promise<ImageRecord> {
    const labels = this.request.labels ?? {};
    if (Object.keys(labels).length > 0) {
      const config = state.config.config ??= {};
      config.Labels = { ...(config.Labels ?? {}), ...labels };
      const image = await withLock(this.root.locks, STORE_LOCK, async () => await storeNewImage(this.store, state.config, state.layers), 'shared');
      this.adopt(state, image);
    }
    if (state.imageId === 'scratch') {
      const image = await withLock(this.root.locks, STORE_LOCK, async () => await storeNewImage(this.store, state.config, state.layers), 'shared');
      this.adopt(state, image);
    }
    this.intermediate.delete(state.imageId);
    this.say(`Successfully built ${shortId(state.imageId)}`);
    for (const tag of this.request.tags) {
      const ref = parseReference(tag);
      await this.store.tag(state.imageId, `${ref.name}:${ref.tag ?? 'latest'}`);
      this.say(`Successfully tagged ${ref.familiar}${ref.tag ? '' : ':latest'}`);
    }
    return this.store.get(state.imageId);
  }

  /** Intermediate images leave `images`: their layers stay, in the store and the cache. */
  private async forgetIntermediates(): Promise<void> {
    for (const id of this.intermediate) {
      const image = this.store.resolve(id);
      if (image && image.repoTags.length === 0) await this.store.untagOrDelete(id, undefined);
    }
  }
}

export async function buildImage(root: StateRoot, request: BuildRequest, out: (line: string) => void): Promise<BuildResult> {
  return await new Builder(root, request, out).build();
}
