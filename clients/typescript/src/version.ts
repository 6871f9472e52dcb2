/** The package's version (kept equal to package.json's by test/errors.test.ts). */
export const VERSION = "0.1.0";
