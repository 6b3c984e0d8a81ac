// The page's settings, served by the app at /studio/config.json (pipelines/studio/__init__.py).

export interface WorkspaceAddress {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export interface StudioConfig {
  signIn: "development" | "entra" | "unconfigured";
  workspace: WorkspaceAddress;
  tokenUrl?: string;
  clientId?: string;
  authority?: string;
  scopes?: string[];
  missing?: string[];
}

export const BASE = import.meta.env.BASE_URL; // "/studio/"

export async function loadConfig(): Promise<StudioConfig> {
  const response = await fetch(`${BASE}config.json`, { cache: "no-store" });
  if (!response.ok) throw new Error(`the studio's settings did not load (HTTP ${response.status})`);
  return (await response.json()) as StudioConfig;
}
