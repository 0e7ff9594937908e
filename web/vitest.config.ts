import { defineConfig } from 'vitest/config';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  test: {
    include: ['sdk/test/**/*.test.ts', 'widget/test/**/*.test.{ts,tsx}', 'dashboard/test/**/*.test.{ts,tsx}'],
    environment: 'node',
    // Files that need a DOM say `// @vitest-environment happy-dom` at the top.
    environmentOptions: {
      happyDOM: {
        url: 'https://shop.test/products',
        settings: {
          disableJavaScriptFileLoading: true,
          disableIframePageLoading: true,
          disableCSSFileLoading: true,
          handleDisabledFileLoadingAsSuccess: true,
        },
      },
    },
  },
});
