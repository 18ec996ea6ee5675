/** Loads user task modules (each calls `registerTask` when it is loaded). */
import path from 'node:path';

export function loadTaskModules(files: readonly string[]): void {
  for (const file of files) {
    try {
      // Loading the module is the point: it calls registerTask(). Paths come from the user at run time.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(path.resolve(file));
    } catch (err) {
      throw new Error(
        `could not load task module ${file}: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      );
    }
  }
}
