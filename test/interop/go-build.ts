// Builds one of the Go interop programs into a temporary directory; `remove` deletes it again.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function buildGoProgram(moduleDir: string, timeoutMs: number): { bin: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), `xdsim-${path.basename(moduleDir)}-`));
  const bin = path.join(dir, 'program');
  const cwd = fileURLToPath(new URL(`./${moduleDir}/`, import.meta.url));
  const build = spawnSync('go', ['build', '-o', bin, '.'], { cwd, encoding: 'utf8', timeout: timeoutMs });
  const remove = () => rmSync(dir, { recursive: true, force: true });
  if (build.status !== 0) {
    remove();
    throw new Error(`go build in test/interop/${moduleDir} failed (${build.error?.message ?? `exit ${build.status}`}):\n${build.stderr}`);
  }
  return { bin, remove };
}
