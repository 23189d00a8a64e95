import {
  isAlias,
  isMap,
  isScalar,
  parseAllDocuments,
  Scalar,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';

/** The two refs of an AWSSecret, in the order piggy reports them. */
export const REF_FIELDS = ['stringDataFrom', 'dataFrom'] as const;
export type RefField = (typeof REF_FIELDS)[number];

/** The quoting a versionId scalar was written with; the rewrite keeps it. */
export type ScalarStyle = 'PLAIN' | 'QUOTE_SINGLE' | 'QUOTE_DOUBLE';

/**
 * Where a new versionId goes in the file's text: replace an existing scalar (source offsets), or
 * insert a whole `versionId: …` entry when the key is missing.
 */
export type VersionSite =
  | {
      readonly kind: 'replace';
      readonly start: number;
      readonly end: number;
      readonly style: ScalarStyle;
      /** An empty plain value right after `:` needs a space before it. */
      readonly spaceBefore: boolean;
      /** A `#` right after an empty plain value must stay a comment. */
      readonly spaceAfter: boolean;
    }
  | { readonly kind: 'insert'; readonly offset: number; readonly prefix: string; readonly suffix: string };

/** One `secretsManagerSecretRef` of an AWSSecret document. */
export interface VersionRef {
  readonly documentIndex: number;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly field: RefField;
  readonly secretId: string;
  /** spec.region, when the document sets it. */
  readonly region: string | undefined;
  /** The versionId as written; undefined when missing, null or empty. */
  readonly versionId: string | undefined;
  readonly site: VersionSite;
}

export interface DocumentProblem {
  readonly code: string;
  readonly message: string;
  /** 1-based line, when the problem has a place. */
  readonly line?: number;
}

export interface ParsedFile {
  readonly refs: readonly VersionRef[];
  readonly problems: readonly DocumentProblem[];
  /** How many documents are AWSSecrets piggy bumps. */
  readonly awsSecrets: number;
}

const API_GROUPS = ['piggysec.com/', 'mumoshu.github.io/'];

/** Whether a document is an AWSSecret of piggy or of mumoshu/aws-secret-operator. */
export function isBumpableDocument(apiVersion: unknown, kind: unknown): boolean {
  return kind === 'AWSSecret' && typeof apiVersion === 'string' && API_GROUPS.some((group) => apiVersion.startsWith(group));
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function stringAt(doc: Document, path: readonly string[]): string | undefined {
  const value: unknown = doc.getIn(path);
  return typeof value === 'string' ? value : undefined;
}

function styleOf(node: Scalar): ScalarStyle | undefined {
  if (node.type === Scalar.PLAIN || node.type === Scalar.QUOTE_SINGLE || node.type === Scalar.QUOTE_DOUBLE) return node.type;
  return undefined;
}

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((pair) => isScalar(pair.key) && pair.key.value === key);
}

/** The place for a `versionId` entry in a map that lacks one, or a reason it cannot be added safely. */
function buildInsertSite(text: string, map: YAMLMap): VersionSite | string {
  const last = map.items.at(-1);
  if (last === undefined || !isScalar(last.key)) return 'the secretsManagerSecretRef map is empty';
  const lastValue = last.value as Node | null;
  const end = lastValue?.range?.[1] ?? last.key.range?.[1];
  if (end === undefined) return 'the secretsManagerSecretRef map has no source position';
  if (map.flow === true) return { kind: 'insert', offset: end, prefix: ', versionId: ', suffix: '' };
  const first = map.items[0]?.key as Node | undefined;
  const keyStart = first?.range?.[0];
  if (keyStart === undefined) return 'the secretsManagerSecretRef map has no source position';
  const valueStart = lastValue?.range?.[0] ?? end;
  if (text.slice(valueStart, end).includes('\n')) return 'the last entry of secretsManagerSecretRef spans several lines';
  const column = keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1);
  const newline = text.indexOf('\n', end);
  const crlf = newline > 0 && text[newline - 1] === '\r';
  const eol = crlf || (newline === -1 && text.includes('\r\n')) ? '\r\n' : '\n';
  const offset = newline === -1 ? text.length : crlf ? newline - 1 : newline;
  return { kind: 'insert', offset, prefix: `${eol}${' '.repeat(column)}versionId: `, suffix: '' };
}

/** The site of a versionId that is there, or a reason it cannot be rewritten. */
function buildReplaceSite(text: string, node: unknown): { site: VersionSite; versionId: string | undefined } | string {
  if (isAlias(node)) return 'versionId is a YAML alias';
  if (!isScalar(node)) return 'versionId is not a scalar';
  const style = styleOf(node);
  if (style === undefined) return 'versionId is a block scalar (| or >)';
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined) return 'versionId has no source position';
  const raw: unknown = node.value;
  const versionId = raw === null || raw === '' ? undefined : typeof raw === 'string' ? raw : text.slice(start, end);
  const empty = start === end;
  return {
    site: { kind: 'replace', start, end, style, spaceBefore: empty && text[start - 1] === ':', spaceAfter: empty && text[end] === '#' },
    versionId,
  };
}

function parseRef(text: string, doc: Document, field: RefField): { ref?: Omit<VersionRef, 'documentIndex' | 'namespace' | 'name' | 'region'>; problem?: DocumentProblem } {
  const found: unknown = doc.getIn(['spec', field, 'secretsManagerSecretRef'], true);
  // `dataFrom: {secretsManagerSecretRef: *ref}` shares the anchored map: same site, edited once.
  const refNode: unknown = isAlias(found) ? found.resolve(doc) : found;
  const where = `spec.${field}.secretsManagerSecretRef`;
  const at = (node: unknown) => {
    const offset = (node as Node | undefined)?.range?.[0];
    return offset === undefined ? {} : { line: lineOf(text, offset) };
  };
  if (!isMap(refNode)) {
    return { problem: { code: 'ERR_BUMP_INVALID_RESOURCE', message: `${where} is not a map`, ...at(refNode ?? doc.getIn(['spec', field], true)) } };
  }
  const secretId: unknown = refNode.get('secretId');
  if (typeof secretId !== 'string' || secretId === '') {
    return { problem: { code: 'ERR_BUMP_INVALID_RESOURCE', message: `${where}.secretId is missing or empty`, ...at(refNode) } };
  }
  const pair = findPair(refNode, 'versionId');
  const built = pair === undefined ? buildInsertSite(text, refNode) : buildReplaceSite(text, pair.value);
  if (typeof built === 'string') {
    return { problem: { code: 'ERR_BUMP_UNSUPPORTED_YAML', message: `${where}.versionId cannot be rewritten: ${built}; edit it by hand`, ...at(pair?.value ?? refNode) } };
  }
  if ('kind' in built) return { ref: { field, secretId, versionId: undefined, site: built } };
  return { ref: { field, secretId, versionId: built.versionId, site: built.site } };
}

/**
 * Finds every secretsManagerSecretRef of the AWSSecret documents of one file, with the exact
 * source range of its versionId (or where to add one). Other documents are left alone; a YAML
 * syntax error anywhere in the file is a problem of the whole file.
 */
export function parseBumpTargets(text: string): ParsedFile {
  const docs = parseAllDocuments(text);
  const syntax = docs.flatMap((doc) => doc.errors);
  if (syntax.length > 0) {
    return {
      refs: [],
      awsSecrets: 0,
      problems: syntax.map((error) => ({
        code: 'ERR_BUMP_INVALID_YAML',
        message: `invalid YAML: ${(error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '')}`,
        ...(error.linePos === undefined ? {} : { line: error.linePos[0].line }),
      })),
    };
  }
  const refs: VersionRef[] = [];
  const problems: DocumentProblem[] = [];
  let awsSecrets = 0;
  docs.forEach((doc, documentIndex) => {
    if (!isMap(doc.contents) || !isBumpableDocument(doc.get('apiVersion'), doc.get('kind'))) return;
    awsSecrets++;
    const name = stringAt(doc, ['metadata', 'name']) ?? '';
    const namespace = stringAt(doc, ['metadata', 'namespace']);
    const region = stringAt(doc, ['spec', 'region']);
    for (const field of REF_FIELDS) {
      if (!doc.hasIn(['spec', field])) continue;
      const { ref, problem } = parseRef(text, doc, field);
      if (problem !== undefined) problems.push({ ...problem, message: `AWSSecret ${displayName(namespace, name)}: ${problem.message}` });
      if (ref !== undefined) refs.push({ ...ref, documentIndex, namespace, name, region });
    }
  });
  return { refs, problems, awsSecrets };
}

/** `namespace/name`, or just `name` when the document has no namespace. */
export function displayName(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === '' ? name : `${namespace}/${name}`;
}
