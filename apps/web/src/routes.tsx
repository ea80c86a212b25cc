import { Suspense, lazy, useEffect, useState, type ComponentType } from 'react';
import type { FleetSnapshot } from './lib/fleet-data.js';
import { matchPath, useRouter } from './lib/router.js';
import { FleetPage } from './features/fleet/fleet-page.js';
import { PageLoading } from './features/shell/page-states.js';
import { Title, Text, Stack } from '@mantine/core';

/** A lazily loaded page: its code is fetched the first time it is opened, so `/` stays light. */
function page<P extends object>(load: () => Promise<ComponentType<P>>) {
  return lazy(async () => ({ default: await load() }));
}

const ClusterPage = page(() => import('./features/cluster/cluster-page.js').then((m) => m.ClusterPage));
const PodsPage = page(() => import('./features/pods/pods-page.js').then((m) => m.PodsPage));
const ImagesPage = page(() => import('./features/images/images-page.js').then((m) => m.ImagesPage));
const IncidentsPage = page(() => import('./features/incidents/incidents-page.js').then((m) => m.IncidentsPage));
const FindingsPage = page(() => import('./features/findings/findings-page.js').then((m) => m.FindingsPage));
const DeploymentsPage = page(() => import('./features/deployments/deployments-page.js').then((m) => m.DeploymentsPage));
const NewDeploymentPage = page(() =>
  import('./features/deployments/deployment-page.js').then((m) => m.NewDeploymentPage),
);
const EditDeploymentPage = page(() =>
  import('./features/deployments/deployment-page.js').then((m) => m.EditDeploymentPage),
);
const DeploymentPage = page(() => import('./features/deployments/deployment-page.js').then((m) => m.DeploymentPage));
const RegistriesPage = page(() => import('./features/registries/registries-page.js').then((m) => m.RegistriesPage));
const SettingsPage = page(() => import('./features/settings/settings-page.js').then((m) => m.SettingsPage));

/**
 * The page for the current path. `/` is rendered on the server (the fleet streams in); every other
 * page renders a loading line on the server and in the hydrating browser (so both agree), then its
 * lazily loaded component, which fetches its own data from the API.
 */
export function AppRoutes({ fleet }: { fleet: Promise<FleetSnapshot> | null }) {
  const { location } = useRouter();
  // No state here: an update above the fleet's Suspense boundary before it hydrated would make
  // React drop the streamed rows and render them again on the client.
  if (location.pathname === '/') return <FleetPage fleet={fleet} />;
  return <LazyRoutes path={location.pathname} />;
}

function LazyRoutes({ path }: { path: string }) {
  const [mounted, setMounted] = useState(false);
  useEffect(() => setMounted(true), []);
  if (!mounted) return <PageLoading />;
  let element: React.ReactNode;
  let m: Record<string, string> | null;
  if ((m = matchPath('/clusters/:id/:tab?', path)) !== null) {
    element = <ClusterPage id={m.id ?? ''} tab={m.tab ?? 'overview'} />;
  } else if (matchPath('/pods', path) !== null) element = <PodsPage />;
  else if (matchPath('/images', path) !== null) element = <ImagesPage />;
  else if ((m = matchPath('/incidents/:id?', path)) !== null) element = <IncidentsPage id={m.id ?? null} />;
  else if (matchPath('/findings', path) !== null) element = <FindingsPage />;
  else if (matchPath('/deployments', path) !== null) element = <DeploymentsPage />;
  else if (matchPath('/deployments/new', path) !== null) element = <NewDeploymentPage />;
  else if ((m = matchPath('/deployments/:id/edit', path)) !== null) element = <EditDeploymentPage id={m.id ?? ''} />;
  else if ((m = matchPath('/deployments/:id', path)) !== null) element = <DeploymentPage id={m.id ?? ''} />;
  else if (matchPath('/registries', path) !== null) element = <RegistriesPage />;
  else if ((m = matchPath('/settings/:section?', path)) !== null) {
    element = <SettingsPage section={m.section ?? 'members'} />;
  } else element = <NotFound />;
  return <Suspense fallback={<PageLoading />}>{element}</Suspense>;
}

function NotFound() {
  return (
    <Stack>
      <Title order={2} size="h4">
        Page not found
      </Title>
      <Text>There is no page at this address. The fleet is one click away in the menu above.</Text>
    </Stack>
  );
}
