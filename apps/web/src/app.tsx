import '@mantine/core/styles.css';
import { useEffect } from 'react';
import {
  ColorSchemeScript,
  MantineProvider,
  createTheme,
  darken,
  mantineHtmlProps,
  type CSSVariablesResolver,
} from '@mantine/core';
import { InvitePage } from './features/invite/invite-page.js';
import { LoginPage } from './features/login/login-page.js';
import { AppShell } from './features/shell/app-shell.js';
import { RouterProvider } from './lib/router.js';
import { AppRoutes } from './routes.js';
import { BOOT_ELEMENT_ID, inlineJson, type PageProps } from './page-input.js';

/**
 * Filled controls pick black or white text by their colour's luminance (autoContrast); at 0.179 the
 * two contrasts are equal, so whichever wins is at least 4.58:1, WCAG AA for small text. Shade 7 of
 * indigo in the light theme keeps the primary buttons' white text (shade 6 would turn it black).
 */
const theme = createTheme({
  primaryColor: 'indigo',
  primaryShade: { light: 7, dark: 8 },
  defaultRadius: 'sm',
  autoContrast: true,
  luminanceThreshold: 0.179,
});

/**
 * WCAG AA contrast (4.5:1) for small text, which Mantine's defaults miss in the light theme:
 * dimmed text (gray 6 on white is 3.3:1), the text of light badges (yellow 9 on yellow 1 is 2.7:1),
 * coloured text and outlines (red 7 on white is 3.8:1). Dimmed text takes gray 7; the others a
 * darker shade of their colour's 9.
 */
const BADGE_COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'indigo', 'gray', 'dark', 'teal', 'cyan', 'grape'];
const contrastVariables: CSSVariablesResolver = (t) => ({
  variables: {},
  light: {
    '--mantine-color-dimmed': t.colors.gray[7] ?? '#495057',
    ...Object.fromEntries(
      BADGE_COLORS.flatMap((c) => {
        const shade9 = t.colors[c]?.[9] ?? '#000';
        return [
          [`--mantine-color-${c}-light-color`, darken(shade9, 0.35)],
          // Coloured text (`c="red"`) and outline buttons on the page's white.
          [`--mantine-color-${c}-text`, darken(shade9, 0.2)],
          [`--mantine-color-${c}-outline`, darken(shade9, 0.2)],
        ];
      }),
    ),
  },
  dark: { '--mantine-color-dimmed': t.colors.dark[1] ?? '#b8b8b8' },
});

/** Inline, so the browser's favicon request is never a 404 (or a round trip). */
const FAVICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%234c6ef5'/%3E%3Cpath d='M4 12V4l8 8V4' stroke='white' stroke-width='2' fill='none'/%3E%3C/svg%3E";

export type DocumentProps = PageProps & { assets: { scripts: string[]; styles: string[]; preloads?: string[] } };

/**
 * The whole document, rendered by the server and hydrated by the browser. The <noscript> style
 * is what makes the streamed fleet visible without JavaScript: React reveals a streamed Suspense
 * boundary with an inline script, so without scripts the fallback is hidden by hand and the
 * streamed segment (a hidden div React appends after the shell; a hidden table for the rows below
 * the fold) is shown where it arrived.
 */
export function Document({ boot, fleet, assets }: DocumentProps) {
  const title = documentTitle(boot);
  return (
    <html lang="en" {...mantineHtmlProps}>
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{title}</title>
        <link rel="icon" href={FAVICON} />
        <ColorSchemeScript defaultColorScheme="auto" />
        {assets.preloads?.map((href) => (
          <link key={href} rel="modulepreload" href={href} />
        ))}
        {assets.styles.map((href) => (
          <link key={href} rel="stylesheet" href={href} />
        ))}
        <noscript>
          <style>
            {
              '.niro-stream-fallback{display:none}div[hidden][id^="S:"]{display:block!important}table[hidden]{display:table!important}'
            }
          </style>
        </noscript>
      </head>
      <body>
        <script
          type="application/json"
          id={BOOT_ELEMENT_ID}
          dangerouslySetInnerHTML={{ __html: inlineJson(JSON.stringify({ boot, assets })) }}
        />
        <App boot={boot} fleet={fleet} />
      </body>
    </html>
  );
}

export function App({ boot, fleet }: PageProps) {
  // Marks the document once hydration committed: what the browser tests wait for before they
  // read the console, and what tells an operator's devtools the page is live.
  useEffect(() => {
    document.documentElement.dataset.hydrated = 'true';
  }, []);
  return (
    <MantineProvider theme={theme} defaultColorScheme="auto" cssVariablesResolver={contrastVariables}>
      {boot.page === 'login' ? (
        <LoginPage next={boot.next} needsSetup={boot.needsSetup} expired={boot.expired === true} />
      ) : boot.page === 'invite' ? (
        <InvitePage token={boot.token} />
      ) : (
        <RouterProvider initialHref={boot.path}>
          <AppShell email={boot.email}>
            <AppRoutes fleet={fleet} />
          </AppShell>
        </RouterProvider>
      )}
    </MantineProvider>
  );
}

/** The first title; signed-in pages set their own as they open (usePageTitle). */
function documentTitle(boot: PageProps['boot']): string {
  if (boot.page === 'login') return boot.needsSetup ? 'Set up Niro' : 'Sign in · Niro';
  if (boot.page === 'invite') return 'Join · Niro';
  return boot.path === '/' ? 'Fleet · Niro' : 'Niro';
}
