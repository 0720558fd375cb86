/**
 * stages.ts — a multi-stage Dockerfile: which stages there are, and which ones a build needs.
 *
 * Every FROM starts a stage (`FROM golang AS build`); a later stage can start FROM an earlier one
 * or `COPY --from=build` files out of it. Only the last stage (or `--target NAME`) becomes the
 * image: the compilers and sources of the build stages stay behind — the lesson of multi-stage
 * builds, a small image. Stages the target does not need, directly or through another stage,
 * are not built at all.
 *
 * Try: a Dockerfile with stages `build`, `test` and a final one that copies only from `build` →
 * `minibox build .` never runs `test`'s steps.
 */
import { DockerfileError, type Dockerfile, type Instruction } from './dockerfile.js';

export interface Stage {
  index: number;
  /** `AS name`, lower-cased as Docker compares them. */
  name?: string;
  from: Instruction;
  /** The instructions after FROM. */
  steps: Instruction[];
}

export interface StagePlan {
  /** ARGs before the first FROM: usable in FROM lines only. */
  globalArgs: Instruction[];
  stages: Stage[];
  /** Indexes of the stages to build, in order; the last is the target. */
  needed: number[];
}

/** `FROM image [AS name]` → the image (unsubstituted) and the stage name. */
export function fromParts(from: Instruction): { image: string; name?: string } {
  const words = from.args.split(/\s+/);
  if (words.length === 3 && words[1]!.toLowerCase() === 'as') return { image: words[0]!, name: words[2]!.toLowerCase() };
  if (words.length !== 1) throw new DockerfileError('Dockerfile', from.line, `FROM requires either one or three arguments (image [AS name]), got "${from.args}"`);
  return { image: words[0]! };
}

export function planStages(dockerfile: Dockerfile, target: string | undefined): StagePlan {
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const instruction of dockerfile.instructions) {
    if (instruction.name === 'FROM') {
      const { name } = fromParts(instruction);
      stages.push({ index: stages.length, ...(name ? { name } : {}), from: instruction, steps: [] });
    } else if (stages.length === 0) {
      globalArgs.push(instruction);
    } else {
      stages.at(-1)!.steps.push(instruction);
    }
  }
  const byRef = (ref: string): Stage | undefined => stages.find((s) => s.name === ref.toLowerCase()) ?? (/^\d+$/.test(ref) ? stages[Number(ref)] : undefined);
  let last = stages.at(-1)!;
  if (target !== undefined) {
    const found = byRef(target);
    if (!found) throw new DockerfileError(dockerfile.file, 1, `target stage "${target}" could not be found`);
    last = found;
  }
  const needed = new Set<number>();
  const visit = (stage: Stage): void => {
    if (needed.has(stage.index)) return;
    needed.add(stage.index);
    const base = byRef(fromParts(stage.from).image);
    if (base && base.index < stage.index) visit(base);
    for (const step of stage.steps) {
      const from = step.flags.from;
      if ((step.name === 'COPY' || step.name === 'ADD') && from !== undefined) {
        const source = byRef(from);
        if (source && source.index >= stage.index) throw new DockerfileError(dockerfile.file, step.line, `COPY --from=${from}: a stage can only copy from an earlier stage`);
        if (source) visit(source);
      }
    }
  };
  visit(last);
  return { globalArgs, stages, needed: [...needed].sort((a, b) => a - b) };
}

/** The earlier stage an image name or `--from` refers to, if any. */
export function stageNamed(plan: StagePlan, ref: string, before: number): Stage | undefined {
  const lower = ref.toLowerCase();
  const stage = plan.stages.find((s) => s.name === lower) ?? (/^\d+$/.test(ref) ? plan.stages[Number(ref)] : undefined);
  return stage && stage.index < before ? stage : undefined;
}
