import type { ReactNode } from 'react';
import { Box, Button, Container, Group, Text, Title, useMantineColorScheme } from '@mantine/core';
import { signOut } from '../../lib/http.js';
import { Link, useRouter } from '../../lib/router.js';

const NAV: { href: string; label: string; match: (path: string) => boolean }[] = [
  { href: '/', label: 'Fleet', match: (p) => p === '/' || p.startsWith('/clusters') },
  { href: '/pods', label: 'Pods', match: (p) => p.startsWith('/pods') },
  { href: '/images', label: 'Images', match: (p) => p.startsWith('/images') },
  {
    href: '/deployments',
    label: 'Deployments',
    match: (p) => p.startsWith('/deployments') || p.startsWith('/registries'),
  },
  { href: '/incidents', label: 'Incidents', match: (p) => p.startsWith('/incidents') },
  { href: '/findings', label: 'Findings', match: (p) => p.startsWith('/findings') },
  { href: '/settings', label: 'Settings', match: (p) => p.startsWith('/settings') },
];

/** Header, main navigation and the page: the frame of every signed-in page. */
export function AppShell({ email, children }: { email: string; children: ReactNode }) {
  const { location } = useRouter();
  return (
    <Container size="xl" py="md">
      <a href="#main" className="niro-skip-link">
        Skip to content
      </a>
      <style dangerouslySetInnerHTML={{ __html: SHELL_CSS }} />
      <Group justify="space-between" mb="md" component="header" wrap="wrap" gap="sm">
        <Group gap="lg" wrap="wrap">
          <Title order={1} size="h3">
            <Link href="/" className="niro-home-link">
              Niro
            </Link>
          </Title>
          <Box component="nav" aria-label="Main">
            <Group gap={4} wrap="wrap">
              {NAV.map((item) => {
                const current = item.match(location.pathname);
                return (
                  <Link
                    key={item.href}
                    href={item.href}
                    className="niro-nav-link"
                    aria-current={current ? 'page' : undefined}
                  >
                    {item.label}
                  </Link>
                );
              })}
            </Group>
          </Box>
        </Group>
        <Group gap="xs">
          <Text size="sm" c="dimmed" data-testid="signed-in-as">
            {email}
          </Text>
          <ThemeToggle />
          <Button variant="subtle" size="xs" onClick={() => void signOut()}>
            Sign out
          </Button>
        </Group>
      </Group>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </Container>
  );
}

/** Plain CSS (no extra runtime): the nav links, the current page, a visible keyboard focus and the skip link. */
const SHELL_CSS = `
.niro-nav-link{padding:4px 10px;border-radius:4px;color:var(--mantine-color-text);text-decoration:none;font-size:var(--mantine-font-size-sm)}
.niro-home-link{color:inherit;text-decoration:none}
.niro-nav-link:hover{background:var(--mantine-color-default-hover)}
.niro-nav-link[aria-current=page]{background:var(--mantine-primary-color-light);color:var(--mantine-primary-color-light-color);font-weight:600}
.niro-nav-link:focus-visible,.niro-skip-link:focus-visible{outline:2px solid var(--mantine-primary-color-filled);outline-offset:2px}
.niro-skip-link{position:absolute;left:-10000px;top:8px;z-index:1000;padding:6px 10px;background:var(--mantine-color-body);color:var(--mantine-color-text)}
.niro-skip-link:focus{left:8px}
main:focus{outline:none}
`;

function ThemeToggle() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  return (
    <Button
      variant="default"
      size="xs"
      onClick={() => setColorScheme(colorScheme === 'dark' ? 'light' : 'dark')}
      aria-label="Switch between light and dark theme"
    >
      Theme
    </Button>
  );
}
