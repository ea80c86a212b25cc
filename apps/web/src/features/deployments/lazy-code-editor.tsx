import { Suspense, lazy } from 'react';
import { PageLoading } from '../shell/page-states.js';
import type { CodeEditorProps } from './code-editor.js';

const Editor = lazy(async () => ({ default: (await import('./code-editor.js')).CodeEditor }));

/** The CodeMirror editor, fetched the first time one is shown (the list pages never load it). */
export function LazyCodeEditor(props: CodeEditorProps) {
  return (
    <Suspense fallback={<PageLoading what="Loading the editor…" />}>
      <Editor {...props} />
    </Suspense>
  );
}
