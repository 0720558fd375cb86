import type { Command } from 'commander';

/** Image commands: pull, images, rmi, image inspect/mount/unmount/prune, history, tag. */
export function registerImageCommands(program: Command): void {
  void program;
}
