/**
 * Kubernetes command/args semantics and the launcher wrap. See src/shared/injection-contract.ts for
 * why the template (not the expanded argv) is what the webhook writes and signs. Pure.
 */
import {
  LAUNCHER_PATH,
  LAUNCHER_SEPARATOR,
  escapeKubernetesReferences,
  expandKubernetesReferences,
} from '../shared/injection-contract.ts';
import type { Container } from './pod.ts';

export interface ImageEntrypoint {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
}

const present = (list: readonly string[] | undefined): list is readonly string[] => list !== undefined && list.length > 0;

/** Already `command: [/piggy/piggy-env]`, `args: [--, …]` (by us, or by hand as in Piggy's docs). */
export function isWrapped(container: Container): boolean {
  return container.command?.length === 1 && container.command[0] === LAUNCHER_PATH && container.args?.[0] === LAUNCHER_SEPARATOR;
}

/** The container runs its image's ENTRYPOINT, so the image config must be read to wrap it. */
export function needsImageEntrypoint(container: Container): boolean {
  return !isWrapped(container) && !present(container.command);
}

/**
 * The template of a container: its final argv before `$(VAR)` expansion, spec strings verbatim,
 * image strings escaped so the launcher's expansion leaves them literal (Kubernetes never expands
 * the image's ENTRYPOINT/CMD). command → command+args; only args → ENTRYPOINT+args; neither →
 * ENTRYPOINT+CMD.
 */
export function buildTemplate(container: Container, image: ImageEntrypoint | undefined): string[] {
  const literal = (list: readonly string[]) => list.map(escapeKubernetesReferences);
  if (present(container.command)) return [...container.command, ...(container.args ?? [])];
  const entrypoint = literal(image?.entrypoint ?? []);
  if (present(container.args)) return [...entrypoint, ...container.args];
  return [...entrypoint, ...literal(image?.cmd ?? [])];
}

/** The template a wrapped container carries: its args after `--`, with the kubelet's `$$` → `$`. */
export function readWrappedTemplate(container: Container): string[] {
  return (container.args ?? []).slice(1).map((part) => expandKubernetesReferences(part, () => undefined));
}

/** `command: [/piggy/piggy-env]`, `args: [--, …template]`, every `$` doubled so the kubelet passes it through. */
export function buildWrappedCommand(template: readonly string[]): { command: string[]; args: string[] } {
  return { command: [LAUNCHER_PATH], args: [LAUNCHER_SEPARATOR, ...template.map(escapeKubernetesReferences)] };
}
