/**
 * The live demo page (web/): `npm run web` serves it with Vite's dev server, `npm run web:build`
 * writes a static site to web/dist. The engine is the library's own src/ (imported as TypeScript);
 * the guard below fails dev and build alike if anything the page imports reaches a Node built-in,
 * so only browser-safe modules end up in the bundle.
 */
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = fileURLToPath(new URL('..', import.meta.url));
const builtins = new Set(builtinModules);

function noNodeBuiltins(): Plugin {
  return {
    name: 'sdllm:no-node-builtins',
    enforce: 'pre',
    resolveId(id, importer) {
      const bare = id.startsWith('node:') ? id.slice(5) : id;
      if (id.startsWith('node:') || builtins.has(bare.split('/')[0]))
        this.error(`the page must not import Node built-ins: "${id}" imported by ${importer ?? '?'} (split the module: keep node: imports out of what the browser loads)`);
      return null;
    },
  };
}

export default defineConfig({
  root,
  base: './',
  plugins: [noNodeBuiltins()],
  worker: { format: 'es', plugins: () => [noNodeBuiltins()] },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [repo] } },
  preview: { host: '127.0.0.1', port: 4173 },
});
