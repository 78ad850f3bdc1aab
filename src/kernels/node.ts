/**
 * Node.js side of the kernel registry: registers the native backend when its addon was built and
 * loads, and makes it the default (SDLLM_BACKEND=ts|native overrides). Node entry points (the
 * CLI, the library index, the file loaders) import this module; the browser never does.
 */
import { registerBackend, setBackend } from './registry.js';
import { loadNativeKernels, nativeLoadError } from './native.js';

const nativeSet = loadNativeKernels();
if (nativeSet) registerBackend('native', nativeSet);
{
  const want = process.env.SDLLM_BACKEND;
  if (want === 'native' && !nativeSet) {
    process.emitWarning(`SDLLM_BACKEND=native but the native kernels are not available: ${nativeLoadError()}`);
  } else if (want === 'ts' || want === 'native') {
    setBackend(want);
  } else if (nativeSet) {
    setBackend('native');
  }
}

export * from './registry.js';
export { nativeLoadError, nativeAvailable, setThreads, getThreads, cpuFeatures, streamBandwidth, nativeExp, NATIVE_ADDON_PATH } from './native.js';
