// ESLint for the extension: ESLint's and typescript-eslint's recommended rules; layout is prettier's (npm run lint).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig({ ignores: ['lib/'] }, js.configs.recommended, tseslint.configs.recommended);
