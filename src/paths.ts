import { fileURLToPath } from 'node:url';
import nodePath from 'node:path';

/** The package's root folder (this file is compiled to dist/src/paths.js). */
export const PACKAGE_ROOT = nodePath.resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The model embedded in the package, used when no --model is given. */
export const DEFAULT_MODEL = nodePath.join(PACKAGE_ROOT, 'models', 'sdllm-tiny');

/** The project's shared models and data (SDLLM_SHARED, default ../shared beside the package). */
export const SHARED_DIR = nodePath.resolve(process.env.SDLLM_SHARED ?? nodePath.join(PACKAGE_ROOT, '..', 'shared'));
