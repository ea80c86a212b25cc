import { useEffect, useRef } from 'react';
import { Box } from '@mantine/core';
import { EditorView, basicSetup, minimalSetup } from 'codemirror';
import { EditorState, type Extension } from '@codemirror/state';
import { HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { tags } from '@lezer/highlight';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { parseManifests } from '@niro/policy';

export type CodeEditorProps = {
  value: string;
  onChange?: (value: string) => void;
  readOnly?: boolean;
  /** The accessible name of the text area. */
  label: string;
  /** Mark manifests that cannot be read (parseManifests' errors) at their line. */
  lint?: boolean;
  testId?: string;
  maxHeight?: number;
};

/**
 * Token colours as classes: the CSS below picks a shade per colour scheme, so the text keeps AA
 * contrast in the light and the dark theme (CodeMirror's default style is for light pages only).
 */
const highlight = HighlightStyle.define([
  { tag: [tags.propertyName, tags.definition(tags.propertyName)], class: 'niro-tok-key' },
  { tag: [tags.string, tags.special(tags.string), tags.content], class: 'niro-tok-string' },
  { tag: [tags.number, tags.bool, tags.null, tags.atom, tags.keyword], class: 'niro-tok-atom' },
  { tag: [tags.comment, tags.lineComment, tags.meta, tags.processingInstruction], class: 'niro-tok-comment' },
  { tag: [tags.labelName, tags.typeName], class: 'niro-tok-tag' },
]);

const EDITOR_CSS = `
.niro-tok-key{color:var(--mantine-color-blue-9)}
.niro-tok-string{color:var(--mantine-color-teal-9)}
.niro-tok-atom{color:var(--mantine-color-red-9)}
.niro-tok-comment{color:var(--mantine-color-gray-7);font-style:italic}
.niro-tok-tag{color:var(--mantine-color-violet-9)}
[data-mantine-color-scheme=dark] .niro-tok-key{color:var(--mantine-color-blue-3)}
[data-mantine-color-scheme=dark] .niro-tok-string{color:var(--mantine-color-teal-3)}
[data-mantine-color-scheme=dark] .niro-tok-atom{color:var(--mantine-color-red-3)}
[data-mantine-color-scheme=dark] .niro-tok-comment{color:var(--mantine-color-gray-4)}
[data-mantine-color-scheme=dark] .niro-tok-tag{color:var(--mantine-color-violet-3)}
.niro-code-editor{border:1px solid var(--mantine-color-default-border);border-radius:4px;overflow:hidden}
.niro-code-editor:focus-within{outline:2px solid var(--mantine-primary-color-filled);outline-offset:1px}
`;

const theme = EditorView.theme({
  '&': {
    backgroundColor: 'var(--mantine-color-body)',
    color: 'var(--mantine-color-text)',
    fontSize: 'var(--mantine-font-size-xs)',
  },
  '.cm-content': { fontFamily: 'var(--mantine-font-family-monospace)', caretColor: 'var(--mantine-color-text)' },
  '.cm-scroller': { fontFamily: 'var(--mantine-font-family-monospace)' },
  '.cm-gutters': {
    backgroundColor: 'var(--mantine-color-default)',
    color: 'var(--mantine-color-text)',
    borderRight: '1px solid var(--mantine-color-default-border)',
  },
  '.cm-activeLine, .cm-activeLineGutter': { backgroundColor: 'var(--mantine-color-default-hover)' },
  '&.cm-focused': { outline: 'none' },
  '.cm-tooltip': {
    backgroundColor: 'var(--mantine-color-body)',
    color: 'var(--mantine-color-text)',
    border: '1px solid var(--mantine-color-default-border)',
  },
});

/** The lines parseManifests cannot read, as CodeMirror diagnostics on those lines. */
const manifestLinter = linter(
  (view) => {
    const doc = view.state.doc;
    const diagnostics: Diagnostic[] = [];
    for (const error of parseManifests(doc.toString()).errors) {
      const lineNo = Math.min(Math.max(error.line ?? 1, 1), doc.lines);
      const line = doc.line(lineNo);
      diagnostics.push({ from: line.from, to: line.to, severity: 'error', message: error.message });
    }
    return diagnostics;
  },
  { delay: 300 },
);

/** A CodeMirror 6 YAML editor (or viewer with readOnly). Loaded lazily: it is not in the first page's script. */
export function CodeEditor({
  value,
  onChange,
  readOnly = false,
  label,
  lint = false,
  testId,
  maxHeight = 480,
}: CodeEditorProps) {
  const host = useRef<HTMLDivElement | null>(null);
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;

  useEffect(() => {
    const parent = host.current;
    if (parent === null) return;
    const extensions: Extension[] = [
      readOnly ? minimalSetup : basicSetup,
      yaml(),
      syntaxHighlighting(highlight),
      theme,
      EditorView.theme({ '.cm-scroller': { maxHeight: `${maxHeight}px`, overflow: 'auto' } }),
      EditorView.contentAttributes.of({ 'aria-label': label, ...(readOnly ? { tabindex: '0' } : {}) }),
      EditorView.lineWrapping,
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChangeRef.current?.(update.state.doc.toString());
      }),
    ];
    if (readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
    if (lint) extensions.push(manifestLinter, lintGutter());
    const v = new EditorView({ state: EditorState.create({ doc: value, extensions }), parent });
    view.current = v;
    return () => {
      v.destroy();
      view.current = null;
    };
    // The editor is created once per mode; later values arrive through the effect below.
  }, [readOnly, lint, label, maxHeight]);

  useEffect(() => {
    const v = view.current;
    if (v === null) return;
    const current = v.state.doc.toString();
    if (current !== value) v.dispatch({ changes: { from: 0, to: current.length, insert: value } });
  }, [value]);

  return (
    <>
      <style dangerouslySetInnerHTML={{ __html: EDITOR_CSS }} />
      <Box ref={host} className="niro-code-editor" data-testid={testId} />
    </>
  );
}
