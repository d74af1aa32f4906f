import t from 'tap';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { CONFIG_VARIABLES, parseConfig } from '../../src/config.js';
import { isPostgresUrl } from '../../src/db/database-url.js';
import { startGateway } from '../helper.js';

// deploy/ read as Docker Compose, Caddy and Kubernetes read it, without any of them on the machine:
// every name a file uses is defined, every setting given to the gateway is one it reads, the ports
// agree from the Dockerfile to the Service, and the routes the probes and the proxy ask exist on a
// real gateway. Nothing here copies a list by hand: the settings come from src/config.ts.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const DEPLOY = 'deploy';

/** Besides src/config.ts's settings, the one variable the gateway reads to choose PostgreSQL (CONTRACT §7). */
const GATEWAY_VARIABLES = new Set([...CONFIG_VARIABLES, 'DATABASE_URL']);

type Obj = Record<string, any>;

// ---- Dockerfile ----------------------------------------------------------------------------------

function dockerRunStage() {
  const joined = read('Dockerfile').replace(/\\\r?\n/g, ' ');
  const lines = joined.split(/^FROM /m).at(-1)!.split('\n').filter((l) => !l.trimStart().startsWith('#'));
  const of = (word: string) => lines.filter((l) => l.startsWith(`${word} `)).map((l) => l.slice(word.length + 1).trim());
  const env: Record<string, string> = {};
  for (const e of of('ENV')) for (const m of e.matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return { env, expose: of('EXPOSE').flatMap((e) => e.split(/\s+/)).map((p) => Number(p.split('/')[0])), user: of('USER').at(-1) };
}

// ---- Compose -------------------------------------------------------------------------------------

/** Compose's variable interpolation (${V}, ${V:-d}, ${V-d}, ${V:?m}, ${V?m}, $$), over `env`. */
function interpolate(s: string, env: Record<string, string>): string {
  return s.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (whole, name: string | undefined, op?: string, arg?: string) => {
    if (whole === '$$') return '$';
    const v = env[name!];
    const unset = v === undefined || (op?.startsWith(':') && v === '');
    if (!unset) return v!;
    if (op?.endsWith('-')) return arg ?? '';
    if (op?.endsWith('?')) throw new Error(`${name}: ${arg}`);
    return '';
  });
}

/** The variables a compose file refuses to start without (`${V:?…}`). */
const requiredVariables = (text: string) => new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*):?\?/g)].map((m) => m[1]!));

function loadCompose() {
  const text = read(`${DEPLOY}/compose.yaml`);
  // `<<` merges as Compose does; the extension field x-gateway is the shared part of both gateways.
  const doc = parse(text, { merge: true }) as Obj;
  const services = doc.services as Record<string, Obj>;
  // The gateways: the services running the image the repository's Dockerfile builds.
  const built = Object.entries(services).filter(([, s]) => s.build);
  const images = new Set(built.map(([, s]) => s.image).filter(Boolean));
  const gateways = Object.entries(services).filter(([, s]) => s.build || images.has(s.image));
  return { text, doc, services, gateways };
}

/** A service's environment as a map, from either of Compose's two forms. */
function environmentOf(service: Obj): Record<string, string> {
  const e = service.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((x: string) => [x.split('=')[0]!, x.slice(x.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]));
}

/** Values that would stand in for the operator's deploy/.env. */
const sampleDotEnv = () => ({
  MASTER_KEY: randomBytes(32).toString('base64'),
  POSTGRES_PASSWORD: randomBytes(24).toString('hex'),
  DTPAY_DB_PASSWORD: randomBytes(24).toString('hex'),
});

// ---- Caddyfile -----------------------------------------------------------------------------------

function loadCaddyfile() {
  const text = read(`${DEPLOY}/Caddyfile`).replace(/^\s*#.*$/gm, '');
  const proxy = /^\s*reverse_proxy\s+([^{\n]+)\{([\s\S]*?)^\s*\}/m.exec(text);
  const site = /^(\S+)\s*\{/m.exec(text);
  const sub = (name: string) => new RegExp(`^\\s*${name}\\s+(\\S+)`, 'm').exec(proxy?.[2] ?? '')?.[1];
  return {
    site: site?.[1],
    upstreams: (proxy?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
    healthUri: sub('health_uri'),
    healthStatus: sub('health_status'),
    text,
  };
}

/** `{$VAR:default}` as Caddy reads it with VAR unset. */
const caddyDefault = (s: string) => s.replace(/\{\$[A-Za-z_][A-Za-z0-9_]*(?::([^}]*))?\}/g, (_m, d?: string) => d ?? '');

// ---- Kubernetes ----------------------------------------------------------------------------------

function loadK8s() {
  const dir = `${DEPLOY}/k8s`;
  const kustomization = parse(read(`${dir}/kustomization.yaml`)) as Obj;
  const resources = (kustomization.resources ?? []) as string[];
  const objects: Obj[] = [];
  for (const file of resources) {
    if (!existsSync(join(ROOT, dir, file))) continue;
    for (const d of parseAllDocuments(read(`${dir}/${file}`))) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      const o = d.toJS() as Obj | null;
      if (o) objects.push({ ...o, file });
    }
  }
  const all = (kind: string) => objects.filter((o) => o.kind === kind);
  const named = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
  return { dir, kustomization, resources, objects, all, named };
}

/** Whether `selector`'s labels are all on `labels` (and it selects something). */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** A probe's or Service's port, by number or by the container port's name. */
function containerPortOf(container: Obj, port: number | string): number | undefined {
  if (typeof port === 'number') return (container.ports as Obj[]).some((p) => p.containerPort === port) ? port : undefined;
  return (container.ports as Obj[]).find((p) => p.name === port)?.containerPort;
}

/** Every file under deploy/, for the secret scan. */
function deployFiles(dir = DEPLOY): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((f) => {
    const rel = posix.join(dir, f);
    return statSync(join(ROOT, rel)).isDirectory() ? deployFiles(rel) : [rel];
  });
}

// ---- the checks ----------------------------------------------------------------------------------

const docker = dockerRunStage();
const PORT = Number(docker.env.PORT);

t.test('the image listens where it says: EXPOSE and PORT agree', async (t) => {
  t.ok(PORT > 0, `the Dockerfile sets PORT (${docker.env.PORT})`);
  t.same(docker.expose, [PORT], 'EXPOSE is PORT');
  t.not(docker.user, undefined, 'the image names its user');
  t.not(docker.user, 'root');
});

t.test('compose: the gateways get only settings they read, the same key and the same database', async (t) => {
  const { services, gateways, text } = loadCompose();
  t.equal(gateways.length, 2, 'two gateway services');
  const envs = gateways.map(([, s]) => environmentOf(s));
  for (const [i, [name]] of gateways.entries()) {
    for (const k of Object.keys(envs[i]!)) t.ok(GATEWAY_VARIABLES.has(k), `${name}: ${k} is a setting the gateway reads`);
    t.ok(envs[i]!.MASTER_KEY, `${name} is given MASTER_KEY`);
    t.ok(envs[i]!.DATABASE_URL, `${name} is given DATABASE_URL`);
    t.notOk('env_file' in gateways[i]![1], `${name}: every setting is in the file, where it can be checked`);
  }
  t.equal(envs[0]!.MASTER_KEY, envs[1]!.MASTER_KEY, 'both gateways take MASTER_KEY from one source');
  t.equal(envs[0]!.DATABASE_URL, envs[1]!.DATABASE_URL, 'both gateways use one DATABASE_URL');
  t.match(envs[0]!.MASTER_KEY, /^\$\{MASTER_KEY:\?[^}]+\}$/, 'MASTER_KEY comes from the operator\'s deploy/.env, and compose refuses to start without it');

  // As the gateway would read it, with the operator's .env and the image's own ENV beneath.
  const dotEnv = sampleDotEnv();
  for (const [i, [name]] of gateways.entries()) {
    const given = Object.fromEntries(Object.entries(envs[i]!).map(([k, v]) => [k, interpolate(v, dotEnv)]));
    const config = parseConfig({ ...docker.env, ...given });
    t.equal(config.TRUST_PROXY, true, `${name} believes the proxy's X-Forwarded-For`);
    t.match(config.PUBLIC_BASE_URL, /^https:\/\//, `${name}: payers are given https:// links`);
    t.equal(config.PORT, PORT, `${name} listens on the image's PORT`);
    t.ok(isPostgresUrl(given.DATABASE_URL!), `${name}: DATABASE_URL selects PostgreSQL`);
  }

  // The database service the URL names, its role and database, and the password it is given.
  const url = new URL(interpolate(envs[0]!.DATABASE_URL!, dotEnv));
  const db = services[url.hostname];
  t.ok(db, `DATABASE_URL's host ${url.hostname} is a service`);
  const major = Number(/^postgres:(\d+)/.exec(db?.image ?? '')?.[1]);
  t.ok(major >= 14, `${db?.image}: the official image, a pinned major of 14 or later`);
  t.equal(url.port || '5432', '5432', 'on PostgreSQL\'s port');
  const dbEnv = environmentOf(db ?? {});
  const passwordVar = /^postgres(?:ql)?:\/\/[^:@]+:\$\{([A-Z_]+)[^}]*\}@/.exec(envs[0]!.DATABASE_URL!)?.[1];
  t.ok(passwordVar, 'the password in DATABASE_URL is a variable of deploy/.env');
  t.ok(Object.values(dbEnv).some((v) => v.startsWith(`\${${passwordVar}`)), `the database service is given the same ${passwordVar}`);
  const init = read(`${DEPLOY}/postgres/initdb.sh`);
  t.match(init, new RegExp(`\\$\\{?${passwordVar}\\b`), `initdb.sh sets the role's password from ${passwordVar}`);
  const role = /CREATE ROLE (\w+) LOGIN/.exec(init)?.[1];
  const database = /CREATE DATABASE (\w+) OWNER (\w+)/.exec(init);
  t.equal(decodeURIComponent(url.username), role, 'DATABASE_URL logs in as the role initdb.sh creates');
  t.equal(url.pathname.slice(1), database?.[1], 'to the database initdb.sh creates');
  t.equal(database?.[2], role, 'which that role owns');
  t.notMatch(init, /SUPERUSER|CREATEROLE|CREATEDB(?!\w)/, 'and no more than that');
  const mounts = (db?.volumes ?? []) as string[];
  t.ok(mounts.some((v) => v.startsWith('./postgres/initdb.sh:/docker-entrypoint-initdb.d/')), 'initdb.sh is where the image runs it on first start');

  const check = (db?.healthcheck?.test ?? []) as string[];
  t.equal(check[1], 'pg_isready', 'the database\'s health check is pg_isready');
  t.equal(check[check.indexOf('-U') + 1], role, 'for the gateways\' role');
  t.equal(check[check.indexOf('-d') + 1], database?.[1], 'and database');

  for (const [name, s] of gateways) {
    t.equal(s.depends_on?.[url.hostname]?.condition, 'service_healthy', `${name} starts once the database is healthy`);
    t.notOk(s.ports, `${name} is not published on the host`);
    const hc = ((s.healthcheck?.test ?? []) as string[]).join(' ');
    t.match(hc, /\/healthz\b/, `${name}'s health check asks /healthz`);
    t.match(hc, new RegExp(`process\\.env\\.PORT\\|\\|${PORT}\\b`), `${name}'s health check asks the gateway's PORT`);
    t.ok(s.build ? existsSync(join(ROOT, DEPLOY, s.build.context, s.build.dockerfile ?? 'Dockerfile')) : true, `${name} builds the repository's Dockerfile`);
  }
  t.ok(gateways.some(([, s]) => s.build && posix.normalize(posix.join(DEPLOY, s.build.context)) === '.'), 'built from the repository root');

  // The deploy/.env that docs/several-instances.md has the operator write: every variable compose
  // refuses to start without, and nothing compose does not use.
  const page = read('docs/several-instances.md');
  const written = /^cat > \.env <<EOF\n([\s\S]*?)^EOF$/m.exec(page)?.[1] ?? '';
  const keys = [...written.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]!);
  for (const v of requiredVariables(text)) t.ok(keys.includes(v), `the page's deploy/.env sets ${v}, which compose requires`);
  for (const v of keys) t.match(text, new RegExp(`\\$\\{${v}\\b`), `compose uses ${v}`);
  t.ok(keys.length >= 3);
});

t.test('compose: every volume, network and file it names exists', async (t) => {
  const { doc, services } = loadCompose();
  const volumes = new Set(Object.keys(doc.volumes ?? {}));
  const networks = new Set(Object.keys(doc.networks ?? {}));
  const secrets = new Set(Object.keys(doc.secrets ?? {}));
  for (const [name, s] of Object.entries(services)) {
    for (const v of (s.volumes ?? []) as (string | Obj)[]) {
      const source = typeof v === 'string' ? v.split(':')[0]! : String(v.source);
      if (source.startsWith('.') || source.startsWith('/')) t.ok(existsSync(join(ROOT, DEPLOY, source)), `${name}: ${source} exists`);
      else t.ok(volumes.has(source), `${name}: volume ${source} is defined`);
    }
    const nets = Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {});
    for (const n of nets) t.ok(networks.has(n), `${name}: network ${n} is defined`);
    for (const sec of (s.secrets ?? []) as (string | Obj)[]) t.ok(secrets.has(typeof sec === 'string' ? sec : sec.source), `${name}: secret is defined`);
    for (const dep of Object.keys(s.depends_on ?? {})) t.ok(services[dep], `${name}: depends on ${dep}, a service`);
  }
});

t.test('the proxy: TLS on 443, 80 redirected, both gateways behind it on their PORT, checked on /readyz', async (t) => {
  const { services, gateways } = loadCompose();
  const caddy = loadCaddyfile();
  const proxies = Object.entries(services).filter(([, s]) => /^caddy:\d+/.test(s.image ?? ''));
  t.equal(proxies.length, 1, 'one Caddy service, a pinned major');
  const [, proxy] = proxies[0]!;
  t.ok(((proxy.volumes ?? []) as string[]).includes('./Caddyfile:/etc/caddy/Caddyfile:ro'), 'it reads deploy/Caddyfile');
  const published = ((proxy.ports ?? []) as string[]).map((p) => p.split('/')[0]);
  t.ok(published.includes('443:443') && published.includes('80:80'), 'it publishes 443 and 80');
  t.same(
    Object.entries(services).filter(([, s]) => s.ports).map(([n]) => n),
    [proxies[0]![0]],
    'nothing else is published',
  );

  t.same([...caddy.upstreams].sort(), gateways.map(([n]) => `${n}:${PORT}`).sort(), 'the upstreams are the gateway services on PORT');
  t.equal(caddy.healthUri, '/readyz', 'active health checks ask /readyz');
  t.equal(caddy.healthStatus, '200');
  t.notMatch(caddy.text, /^\s*tls\s+\S+@|^\s*auto_https\s+off/m, 'automatic HTTPS is not turned off');
  t.notMatch(caddy.site ?? '', /^http:\/\//, 'the site is served over TLS (Caddy redirects its http:// to it)');

  // Caddy's site and the gateways' PUBLIC_BASE_URL are one name, with the same default.
  const siteDefault = caddyDefault(caddy.site ?? '');
  for (const [name, s] of gateways) {
    const base = interpolate(environmentOf(s).PUBLIC_BASE_URL ?? '', {});
    t.equal(new URL(base).host, siteDefault, `${name}: PUBLIC_BASE_URL names the site Caddy serves (${siteDefault} by default)`);
    const siteVar = /\{\$([A-Z_]+)/.exec(caddy.site ?? '')?.[1];
    t.match(environmentOf(s).PUBLIC_BASE_URL, new RegExp(`\\$\\{${siteVar}\\b`), `${name}: from the same ${siteVar}`);
    t.ok(environmentOf(proxy)[siteVar!]?.startsWith(`\${${siteVar}`), `Caddy is given ${siteVar}`);
  }
  // The gateways see the proxy on one network and the database on another it does not join.
  const netsOf = (s: Obj) => new Set<string>(Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}));
  const db = services.postgres!;
  for (const [name, s] of gateways) {
    t.ok([...netsOf(s)].some((n) => netsOf(proxy).has(n)), `${name} shares a network with the proxy`);
    t.ok([...netsOf(s)].some((n) => netsOf(db).has(n)), `${name} shares a network with the database`);
  }
  t.notOk([...netsOf(proxy)].some((n) => netsOf(db).has(n)), 'the proxy cannot reach the database');
});

t.test('kubernetes: every resource exists and every name it uses is defined', async (t) => {
  const k = loadK8s();
  for (const f of k.resources) t.ok(existsSync(join(ROOT, k.dir, f)), `${f} exists`);
  const listed = new Set(k.resources);
  for (const f of readdirSync(join(ROOT, k.dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
    t.ok(listed.has(f), `${f} is listed in kustomization.yaml`);
  }
  for (const kind of ['Deployment', 'Service', 'Secret', 'ConfigMap', 'PodDisruptionBudget']) t.equal(k.all(kind).length, 1, `one ${kind}`);
  t.notOk(k.objects.some((o) => /postgres/i.test(JSON.stringify(o.spec?.template?.spec?.containers?.map((c: Obj) => c.image) ?? []))), 'no PostgreSQL in the cluster');

  const deployment = k.all('Deployment')[0]!;
  const pod = deployment.spec.template.spec as Obj;
  const [container] = pod.containers as Obj[];
  const images = (k.kustomization.images ?? []) as Obj[];
  t.ok(images.some((i) => i.name === container!.image), `kustomization.yaml sets the image ${container!.image}`);

  for (const from of (container!.envFrom ?? []) as Obj[]) {
    if (from.configMapRef) t.ok(k.named('ConfigMap', from.configMapRef.name), `ConfigMap ${from.configMapRef.name} is defined`);
    if (from.secretRef) t.ok(k.named('Secret', from.secretRef.name), `Secret ${from.secretRef.name} is defined`);
  }
  for (const e of (container!.env ?? []) as Obj[]) {
    const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
    if (!ref) continue;
    const source = k.named(e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name);
    t.ok(source, `${e.name}: ${ref.name} is defined`);
    t.ok(ref.key in { ...source?.data, ...source?.stringData }, `${e.name}: ${ref.name} holds ${ref.key}`);
    t.notOk(ref.optional, `${e.name} is required`);
  }
  for (const v of (pod.volumes ?? []) as Obj[]) {
    if (v.secret) t.ok(k.named('Secret', v.secret.secretName), `volume ${v.name}: its Secret is defined`);
    if (v.configMap) t.ok(k.named('ConfigMap', v.configMap.name), `volume ${v.name}: its ConfigMap is defined`);
  }
  const volumes = new Set(((pod.volumes ?? []) as Obj[]).map((v) => v.name));
  for (const m of (container!.volumeMounts ?? []) as Obj[]) t.ok(volumes.has(m.name), `mount ${m.mountPath}: volume ${m.name} is defined`);
});

t.test('kubernetes: the gateway gets only settings it reads, and the key and database from the Secret', async (t) => {
  const k = loadK8s();
  const deployment = k.all('Deployment')[0]!;
  const [container] = deployment.spec.template.spec.containers as Obj[];
  const given: Record<string, string> = {};
  const sources: Record<string, string> = {};
  for (const from of (container!.envFrom ?? []) as Obj[]) {
    const o = from.configMapRef ? k.named('ConfigMap', from.configMapRef.name) : k.named('Secret', from.secretRef?.name);
    for (const [key, value] of Object.entries({ ...o?.data, ...o?.stringData })) {
      given[key] = String(value);
      sources[key] = o!.kind;
    }
  }
  for (const e of (container!.env ?? []) as Obj[]) {
    const ref = e.valueFrom?.secretKeyRef;
    const o = ref ? k.named('Secret', ref.name) : undefined;
    given[e.name] = ref ? String({ ...o?.data, ...o?.stringData }[ref.key]) : String(e.value);
    sources[e.name] = ref ? 'Secret' : 'Deployment';
  }
  for (const key of Object.keys(given)) t.ok(GATEWAY_VARIABLES.has(key), `${key} is a setting the gateway reads`);
  t.equal(sources.MASTER_KEY, 'Secret', 'MASTER_KEY comes from the Secret');
  t.equal(sources.DATABASE_URL, 'Secret', 'DATABASE_URL (it holds the password) comes from the Secret');
  t.ok(isPostgresUrl(given.DATABASE_URL ?? ''), 'DATABASE_URL selects PostgreSQL');
  for (const key of ['PUBLIC_BASE_URL', 'TRUST_PROXY', 'PORT']) t.equal(sources[key], 'ConfigMap', `${key} comes from the ConfigMap`);

  const config = parseConfig({ ...docker.env, ...given, MASTER_KEY: randomBytes(32).toString('base64') });
  t.equal(config.TRUST_PROXY, true);
  t.match(config.PUBLIC_BASE_URL, /^https:\/\//);
  t.throws(() => parseConfig({ ...docker.env, ...given }), /MASTER_KEY/, 'the placeholder MASTER_KEY stops the gateway rather than running with it');

  // Shutdown fits: the preStop pause, then SHUTDOWN_TIMEOUT_MS, inside the grace period.
  const pause = Number((container!.lifecycle?.preStop?.exec?.command as string[] | undefined)?.join(' ').match(/^sleep (\d+)$/)?.[1] ?? 0);
  const grace = Number(deployment.spec.template.spec.terminationGracePeriodSeconds ?? 30);
  t.ok(pause > 0, `a preStop pause (${pause} s) lets the Service stop sending first`);
  t.ok(grace * 1000 > pause * 1000 + config.SHUTDOWN_TIMEOUT_MS, `terminationGracePeriodSeconds ${grace} > ${pause} s + SHUTDOWN_TIMEOUT_MS ${config.SHUTDOWN_TIMEOUT_MS} ms`);
});

t.test('kubernetes: two replicas, rolled one at a time, as the image\'s user, probed, limited, selected', async (t) => {
  const k = loadK8s();
  const deployment = k.all('Deployment')[0]!;
  const spec = deployment.spec as Obj;
  const pod = spec.template.spec as Obj;
  const labels = spec.template.metadata.labels as Record<string, string>;
  const [container] = pod.containers as Obj[];
  t.equal(spec.replicas, 2);
  t.equal(spec.strategy?.type, 'RollingUpdate');
  t.equal(spec.strategy?.rollingUpdate?.maxUnavailable, 0, 'maxUnavailable 0');
  t.ok(selects(spec.selector.matchLabels, labels), 'the Deployment selects its own pods');

  // The official Node.js image's `node` user is uid 1000.
  t.equal(docker.user, 'node');
  t.equal(pod.securityContext?.runAsUser, 1000, 'runs as the image\'s user');
  t.equal(pod.securityContext?.runAsNonRoot, true);
  t.equal(container!.securityContext?.allowPrivilegeEscalation, false);

  const config = k.all('ConfigMap')[0]!.data as Record<string, string>;
  t.equal(Number(config.PORT ?? docker.env.PORT), PORT, 'the ConfigMap\'s PORT is the image\'s');
  t.same((container!.ports as Obj[]).map((p) => p.containerPort), [PORT], 'containerPort is PORT');
  const probe = (name: string) => container![name]?.httpGet as Obj | undefined;
  t.equal(probe('readinessProbe')?.path, '/readyz', 'readiness asks /readyz');
  t.equal(probe('livenessProbe')?.path, '/healthz', 'liveness asks /healthz');
  for (const name of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
    if (probe(name)) t.equal(containerPortOf(container!, probe(name)!.port), PORT, `${name} on the container port`);
  }
  for (const r of ['cpu', 'memory']) {
    t.ok(container!.resources?.requests?.[r], `requests ${r}`);
    t.ok(container!.resources?.limits?.[r], `limits ${r}`);
  }

  const service = k.all('Service')[0]!;
  t.ok(selects(service.spec.selector, labels), 'the Service selects the Deployment\'s pods');
  for (const p of service.spec.ports as Obj[]) t.equal(containerPortOf(container!, p.targetPort), PORT, `Service port ${p.port} → the container port`);
  const pdb = k.all('PodDisruptionBudget')[0];
  if (!pdb) return t.fail('a PodDisruptionBudget');
  t.ok(selects(pdb.spec.selector.matchLabels, labels), 'the PodDisruptionBudget selects the Deployment\'s pods');
  t.equal(pdb.spec.minAvailable, 1, 'minAvailable 1');
  t.ok(pdb.spec.minAvailable < spec.replicas, 'which still lets a drain move one');
});

t.test('no file in deploy/ holds a real-looking secret', async (t) => {
  const placeholder = (v: string) => /REPLACE_ME/.test(v) || /^\$\{[A-Z_]+(:?[?-][^}]*)?\}$/.test(v);
  const walk = (o: unknown, file: string, path: string): void => {
    if (Array.isArray(o)) return o.forEach((x, i) => walk(x, file, `${path}[${i}]`));
    if (o && typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) {
        if (typeof v === 'string' && /^[A-Z0-9_]*(PASSWORD|SECRET|KEY|TOKEN)[A-Z0-9_]*$/.test(k)) t.ok(placeholder(v), `${file}: ${path}.${k} is a placeholder or a variable`);
        walk(v, file, `${path}.${k}`);
      }
    }
  };
  // The page telling operators how to make the secrets is scanned too: it shows commands, never values.
  const files = [...deployFiles(), 'docs/several-instances.md'].filter((f) => existsSync(join(ROOT, f)));
  t.ok(files.length >= 8);
  for (const file of files) {
    const text = read(file);
    t.notMatch(text, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, `${file}: no private key`);
    for (const m of text.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/([^/\s:@]+):(\$\{[^}]*\}|[^@\s]+)@/g)) {
      t.ok(placeholder(m[2]!) || m[2] === 'PASSWORD', `${file}: the password in ${m[0]} is a placeholder or a variable`);
    }
    // A long run of base64 or hex with letters and digits mixed is what a generated key looks like.
    const tokens = [...text.matchAll(/[A-Za-z0-9+/=_-]{20,}/g)].map((m) => m[0]).filter((s) => /[0-9]/.test(s) && /[A-Za-z]/.test(s));
    t.same(tokens, [], `${file}: nothing shaped like a generated key`);
    if (file.endsWith('.yaml')) for (const d of parseAllDocuments(text)) walk(d.toJS({ maxAliasCount: -1 }), file, '');
  }
  const secret = loadK8s().all('Secret')[0]!;
  t.notOk(secret.data, 'the committed Secret carries no encoded values');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) t.match(String(v), /REPLACE_ME/, `Secret ${k} is marked REPLACE_ME`);
});

t.test('the routes the probes and the proxy ask exist on a real gateway', async (t) => {
  const k = loadK8s();
  const [container] = k.all('Deployment')[0]!.spec.template.spec.containers as Obj[];
  const { gateways } = loadCompose();
  const paths = new Set<string>([loadCaddyfile().healthUri!]);
  for (const name of ['readinessProbe', 'livenessProbe', 'startupProbe']) if (container![name]) paths.add(container![name].httpGet.path);
  for (const [, s] of gateways) for (const m of ((s.healthcheck?.test ?? []) as string[]).join(' ').matchAll(/'(\/[a-z]+)'/g)) paths.add(m[1]!);
  t.same([...paths].sort(), ['/healthz', '/readyz'], 'the files ask these two routes');
  const gw = await startGateway(t);
  for (const path of paths) {
    const res = await fetch(gw.url + path);
    const body = await res.text();
    t.equal(res.status, 200, `GET ${path} answers 200`);
    t.match(body, path === '/readyz' ? /^\{"status":"ready"\}$/ : /^\{"status":"ok"\}$/, `GET ${path}: ${body}`);
  }
});
