/**
 * The little ELF reading the launcher needs: where PT_INTERP (the program interpreter, the dynamic
 * loader) is and what it says. Used to check an app before exec, and by `install` to point a
 * copied launcher at the loader in its new folder. Pure (buffers in, plain objects out).
 */
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const PT_INTERP = 3;

export interface ElfInterpreter {
  /** File offset and size (with the terminating NUL) of the PT_INTERP string. */
  readonly offset: number;
  readonly size: number;
}

export type ElfHead =
  | { readonly kind: 'not-elf' }
  /** Program headers lie beyond `head`: read `needed` bytes and ask again. */
  | { readonly kind: 'short'; readonly needed: number }
  | { readonly kind: 'elf'; readonly interpreter: ElfInterpreter | undefined };

export function isElf(head: Buffer): boolean {
  return head.length >= 4 && head.subarray(0, 4).equals(ELF_MAGIC);
}

/** Finds PT_INTERP in the program headers (little-endian ELF32/ELF64; others report no interpreter). */
export function readElfHead(head: Buffer): ElfHead {
  if (!isElf(head)) return { kind: 'not-elf' };
  const is64 = head[4] === 2;
  const littleEndian = head[5] === 1;
  if (!littleEndian || head.length < (is64 ? 64 : 52)) return { kind: 'elf', interpreter: undefined };
  const phoff = is64 ? Number(head.readBigUInt64LE(32)) : head.readUInt32LE(28);
  const phentsize = head.readUInt16LE(is64 ? 54 : 42);
  const phnum = head.readUInt16LE(is64 ? 56 : 44);
  const end = phoff + phentsize * phnum;
  if (end > head.length) return { kind: 'short', needed: end };
  for (let index = 0; index < phnum; index += 1) {
    const at = phoff + index * phentsize;
    if (head.readUInt32LE(at) !== PT_INTERP) continue;
    const offset = is64 ? Number(head.readBigUInt64LE(at + 8)) : head.readUInt32LE(at + 4);
    const size = is64 ? Number(head.readBigUInt64LE(at + 32)) : head.readUInt32LE(at + 16);
    return { kind: 'elf', interpreter: { offset, size } };
  }
  return { kind: 'elf', interpreter: undefined };
}

/** The interpreter path held by the PT_INTERP bytes. */
export function readInterpreterPath(bytes: Buffer): string {
  const nul = bytes.indexOf(0);
  return bytes.subarray(0, nul === -1 ? bytes.length : nul).toString('utf8');
}

/**
 * The bytes that replace a PT_INTERP string of `size` bytes so that it names `path`: the path,
 * then NULs. The kernel and the loader read it as a C string. Undefined when it does not fit.
 */
export function buildInterpreterBytes(path: string, size: number): Buffer | undefined {
  const text = Buffer.from(path, 'utf8');
  if (text.length + 1 > size || text.includes(0)) return undefined;
  const bytes = Buffer.alloc(size, 0);
  text.copy(bytes);
  return bytes;
}

/** `#!/bin/sh -e` → `/bin/sh`; undefined when the head is not a script. */
export function readShebang(head: Buffer): string | undefined {
  if (head.length < 2 || head[0] !== 0x23 || head[1] !== 0x21) return undefined;
  const newline = head.indexOf(0x0a);
  const line = head.subarray(2, newline === -1 ? head.length : newline).toString('utf8');
  return line.trim().split(/[ \t]/)[0] ?? '';
}
