/**
 * `import text from './file.js?raw'`: the file's text. Vite (so vitest) supports it natively and
 * tsup.base.ts adds it to the build; guest JavaScript for the QuickJS sandbox is inlined this way.
 */
declare module '*?raw' {
  const text: string;
  export default text;
}
